"""The registry of training-free MI estimators and what each entry provides."""

from __future__ import annotations

from typing import Any, Protocol

from torchmetrics import Metric

from infocam.registry import Registry

#: training-free estimators by name; ``group="loss"`` because ``loss=NAME`` picks one on the command line
MI_ESTIMATORS: Registry = Registry("training-free MI estimator", "infocam.mi_estimators", group="loss")


class TrainingFreeEstimator(Protocol):
    """What ``task=mi`` and ``estimate_mi`` need of an entry: nothing to fit, a metric that reads
    the raw inputs of a split, and a direct call on arrays."""

    #: always False: ``infocam.run`` and ``estimate_mi`` skip the fit loop
    needs_training: bool
    #: the read-out's name (``task=mi`` records it; the trained bounds have theirs)
    mi_bound: str

    def metric(self) -> Metric:
        """A torchmetrics Metric updated with ``(x, y)`` batches; ``compute()`` gives estimate, se, count."""

    def estimate(self, x: Any, y: Any) -> Any:
        """The estimate on whole arrays, in one call."""
