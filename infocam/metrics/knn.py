"""Joint nearest-neighbour estimate of I(X;Y) for continuous X and discrete Y (Ross, 2014).

The estimator scikit-learn's ``mutual_info_classif`` applies to one feature at a time, applied
here to the whole of X. Neighbour search is scikit-learn's (``NearestNeighbors``/``KDTree``,
Chebyshev norm); only the digamma bookkeeping of Ross's formula is written out, because no
library exposes the joint (multivariate-X) estimate.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma
from sklearn.neighbors import KDTree, NearestNeighbors

from infocam.errors import DataError


def knn_mutual_information(x: np.ndarray, y: np.ndarray, k: int = 3) -> tuple[float, float]:
    """I(X;Y) in nats and a standard error (nan when fewer than two samples count).

    For sample i of class y_i: d_i is the distance to its k-th nearest neighbour among the
    N_{y_i} samples of its class, and m_i the number of samples of any class closer than d_i
    (the sample itself included). Then I = psi(N) + psi(k) - <psi(N_{y_i})> - <psi(m_i)>.
    Classes with one sample are left out (they have no neighbour), and k shrinks to
    N_y - 1 for a class smaller than k + 1. The standard error is that of the mean of the
    per-sample terms, which treats them as independent: a guide to the noise, not a bound.
    The estimate is not clipped at 0, so it stays unbiased-in-spirit for tiny true values.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise DataError(f"knn MI: {len(x)} inputs but {len(y)} labels")
    if isinstance(k, bool) or int(k) < 1:
        raise DataError(f"knn MI: k must be a positive integer, got {k!r}")
    if not np.isfinite(x).all():
        raise DataError("knn MI: the inputs hold NaN or inf values")
    labels, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    if keep.sum() < 2:
        raise DataError("knn MI needs at least two samples of one class")
    x, inverse = x[keep], inverse[keep]
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
    tree = KDTree(x, metric="chebyshev")
    within = tree.query_radius(x, radius, count_only=True)
    terms = digamma(len(x)) + digamma(k_used) - digamma(class_size) - digamma(within)
    estimate = float(terms.mean())
    se = float(terms.std(ddof=1) / math.sqrt(len(terms))) if len(terms) > 1 else math.nan
    return estimate, se
