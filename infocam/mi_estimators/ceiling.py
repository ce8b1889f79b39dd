"""No estimate of I(X;Y) for a discrete Y can exceed H(Y) <= log M: a warning when one does.

Every estimator here can cross it: kNN is not a bound at all, and the trained read-outs are lower
bounds on the *population* value, but their held-out mean has noise (and the PC-softmax read-out
uses the training priors, not the test labels'). A value above H(Y) of the labels it was read on
says the estimate is wrong, so it is reported, not clipped.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np


class MIAboveCeilingWarning(UserWarning):
    """An MI estimate above H(Y) of its labels (itself at most log M)."""


def label_entropy(counts: Sequence[float] | np.ndarray) -> float:
    """H(Y) in nats of the empirical label distribution with these per-class counts."""
    counts = np.asarray(counts, dtype=np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def warn_if_above_ceiling(estimate: float, counts: Sequence[float] | np.ndarray, estimator: str) -> bool:
    """Warn (and return True) when ``estimate`` exceeds H(Y) of the labels with ``counts``."""
    entropy = label_entropy(counts)
    if math.isfinite(estimate) and estimate > entropy:
        log_m = math.log(max(int(np.count_nonzero(np.asarray(counts))), 1))
        warnings.warn(
            f"{estimator}: the MI estimate {estimate:.4f} nats exceeds H(Y) = {entropy:.4f} of its labels "
            f"(log M = {log_m:.4f}), which no I(X;Y) can: the estimate is off (too few samples, ties, or a "
            f"critic that overfits)", MIAboveCeilingWarning, stacklevel=2,
        )
        return True
    return False
