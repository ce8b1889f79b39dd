"""Joint nearest-neighbour estimate of I(X;Y) for continuous X and discrete Y (Ross, 2014).

The estimator scikit-learn's ``mutual_info_classif`` applies to one feature at a time, applied
here to the whole of X. Neighbour search is scikit-learn's (``NearestNeighbors``/``KDTree``,
Chebyshev norm); only the digamma bookkeeping of Ross's formula is written out, because no
library exposes the joint (multivariate-X) estimate.

It is **not a bound**: it can land above or below the truth (on image-like inputs above it),
and :func:`~infocam.mi_estimators.ceiling.warn_if_above_ceiling` flags values over H(Y).

Two steps make it honest on real data, as scikit-learn's per-feature estimator does:

* **scale:** each feature is centred and divided by its standard deviation, so the Chebyshev
  neighbourhoods, and the estimate, do not change when X is rescaled or shifted. A feature
  whose deviation is below ``FLOOR`` (1e-6) of the largest one's is divided by that floor
  instead: it is constant up to noise (an always-blank pixel with jitter added), and scaled to
  unit variance it would be pure noise weighing as much as any real feature;
* **ties:** integer pixels, rounded values or repeated rows put many points at exactly the same
  distance, and the counts then go wrong (above H(Y) on 8x8 digits). A tiny Gaussian noise,
  ``noise`` (1e-10) times ``max(1, mean |x_j|)`` per standardised feature, seeded by ``seed``,
  breaks the ties without moving any neighbourhood that was not tied.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import digamma
from sklearn.neighbors import KDTree, NearestNeighbors
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from infocam.errors import ConfigError, DataError
from infocam.mi_estimators.base import MI_ESTIMATORS

#: relative size of the tie-breaking noise (scikit-learn's choice for the same estimator)
TIE_NOISE = 1e-10
#: a feature's deviation counts as at least this fraction of the largest feature's
FLOOR = 1e-6


@dataclass(frozen=True)
class KNNEstimate:
    """I(X;Y) in nats, its standard error, the neighbour count used and the samples that counted."""

    estimate: float
    se: float
    #: the smallest k used (k shrinks to N_y - 1 for a class with N_y <= k) and the k asked for
    k: int
    k_requested: int
    n: int

    def __float__(self) -> float:
        return self.estimate


def standardise_with_noise(x: np.ndarray, noise: float = TIE_NOISE, seed: int = 0) -> np.ndarray:
    """Per feature: centre, divide by the standard deviation (at least ``FLOOR`` of the largest;
    1 when every feature is constant), then add ``noise * max(1, mean |x_j|) * N(0, 1)`` from a
    generator seeded by ``seed`` (a float64 copy)."""
    x = np.array(x, dtype=np.float64)
    x -= x.mean(axis=0)
    std = x.std(axis=0)
    largest = float(std.max()) if std.size else 0.0
    x /= np.maximum(std, FLOOR * largest) if largest > 0 else 1.0
    if noise > 0:
        scale = np.maximum(1.0, np.abs(x).mean(axis=0))
        x += noise * scale * np.random.default_rng(seed).standard_normal(x.shape)
    return x


def knn_mutual_information(x: Any, y: Any, k: int = 3, *, noise: float = TIE_NOISE, seed: int = 0) -> KNNEstimate:
    """I(X;Y) of ``x [n, ...]`` (flattened per sample) and labels ``y [n]``.

    After :func:`standardise_with_noise`: for sample i of class y_i, d_i is the distance to its
    k-th nearest neighbour among the N_{y_i} samples of its class, and m_i the number of samples
    of any class closer than d_i (the sample itself included). Then
    I = psi(N) + psi(k) - <psi(N_{y_i})> - <psi(m_i)>. Classes with one sample are left out (they
    have no neighbour), and k shrinks to N_y - 1 for a class smaller than k + 1, with a warning
    (:attr:`KNNEstimate.k` records it). The standard error is that of the mean of the per-sample
    terms, which treats them as independent: a guide to the noise, not a bound. The estimate is
    not clipped at 0, so tiny true values are not biased upwards.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise DataError(f"knn MI: {len(x)} inputs but {len(y)} labels")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
        raise DataError(f"knn MI: k must be a positive integer, got {k!r}")
    if not np.isfinite(x).all():
        raise DataError("knn MI: the inputs hold NaN or inf values")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ConfigError(f"knn MI: noise must be a finite number >= 0, got {noise!r}")
    labels, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    if keep.sum() < 2:
        raise DataError("knn MI needs at least two samples of one class")
    x = standardise_with_noise(x[keep], noise, seed)
    inverse = inverse[keep]
    class_size = counts[inverse]
    radius = np.empty(len(x))
    k_used = np.empty(len(x))
    for label in np.unique(inverse):
        members = np.flatnonzero(inverse == label)
        k_label = min(int(k), len(members) - 1)
        search = NearestNeighbors(n_neighbors=k_label, metric="chebyshev").fit(x[members])
        distances, _ = search.kneighbors()  # without the query point itself
        # strictly closer than the k-th neighbour: that neighbour is replaced by the point itself
        radius[members] = np.nextafter(distances[:, -1], 0)
        k_used[members] = k_label
    smallest = int(k_used.min())
    if smallest < int(k):
        warnings.warn(f"knn MI: k={int(k)} is more than the smallest class allows (N_y - 1); k={smallest} was used "
                      "there", UserWarning, stacklevel=2)
    tree = KDTree(x, metric="chebyshev")
    within = tree.query_radius(x, radius, count_only=True)
    terms = digamma(len(x)) + digamma(k_used) - digamma(class_size) - digamma(within)
    estimate = float(terms.mean())
    se = float(terms.std(ddof=1) / math.sqrt(len(terms))) if len(terms) > 1 else math.nan
    return KNNEstimate(estimate, se, smallest, int(k), len(terms))


class KNNMutualInformation(Metric):
    """:func:`knn_mutual_information` over every sample seen: inputs are kept (gathered across
    ranks) and the estimate is made once, in ``compute``, because nearest neighbours need the
    whole split at once. ``compute`` also gives the k used (``k``)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, k: int = 3, noise: float = TIE_NOISE, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k, self.noise, self.seed = int(k), float(noise), int(seed)
        self.add_state("inputs", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, x: Tensor, target: Tensor) -> None:
        self.inputs.append(x.detach().flatten(1).to(torch.float64).cpu())
        self.labels.append(target.detach().long().cpu())

    def compute(self) -> dict[str, Tensor]:
        x, y = dim_zero_cat(self.inputs), dim_zero_cat(self.labels)
        result = knn_mutual_information(x.numpy(), y.numpy(), self.k, noise=self.noise, seed=self.seed)
        as_tensor = lambda v: torch.tensor(float(v), dtype=torch.float64)  # noqa: E731
        return {"estimate": as_tensor(result.estimate), "se": as_tensor(result.se), "count": as_tensor(len(y)),
                "k": as_tensor(result.k)}


@MI_ESTIMATORS.register("knn")
class KNNEstimator:
    """``loss=knn`` / ``estimator="knn"``: Ross's estimate with ``k`` neighbours; trains nothing.

    ``task=mi`` skips the fit loop and reads it on the held-out test split (the split the
    trained estimators read out on, so the numbers compare); ``estimate_mi`` reads it on every
    sample. ``noise`` and ``seed`` set the tie-breaking noise (see the module docstring).
    """

    mi_bound = "knn"
    needs_training = False

    def __init__(self, num_classes: int | None = None, k: int = 3, noise: float = TIE_NOISE, seed: int = 0) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"loss.k must be a positive integer (neighbours), got {k!r}")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (math.isfinite(noise) and noise >= 0):
            raise ConfigError(f"loss.noise must be a finite number >= 0, got {noise!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ConfigError(f"loss.seed must be an integer in [0, 2**32), got {seed!r}")
        self.num_classes, self.k, self.noise, self.seed = num_classes, int(k), float(noise), int(seed)

    def metric(self) -> KNNMutualInformation:
        return KNNMutualInformation(self.k, self.noise, self.seed)

    def estimate(self, x: Any, y: Any) -> KNNEstimate:
        return knn_mutual_information(x, y, self.k, noise=self.noise, seed=self.seed)
