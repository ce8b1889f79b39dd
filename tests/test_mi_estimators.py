"""infocam.mi_estimators: the kNN estimate made honest (issue 28) and the H(Y) ceiling check."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import infocam
from infocam.data.gmm import GaussianMixture, GaussianMixtureDataModule, diagonal_means
from infocam.errors import ConfigError
from infocam.mi_estimators import (MI_ESTIMATORS, KNNEstimate, MIAboveCeilingWarning, knn_mutual_information,
                                   label_entropy, warn_if_above_ceiling)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)  # 1,797 x 64 integer pixels, 10 classes


@pytest.fixture(scope="module")
def three_classes():
    mixture = GaussianMixture(diagonal_means(3), (1, 1, 1), dim=2)
    x, y = mixture.sample(1_500, torch.Generator().manual_seed(0))
    return x.numpy().astype(np.float64), y.numpy()


def test_knn_on_integer_digits_stays_below_h_y_and_matches_noise_added_by_hand(digits):
    x, y = digits
    entropy = label_entropy(np.bincount(y))
    result = infocam.estimate_mi(x, y, estimator="knn")  # was 2.76 on all samples (2.578 held out), H(Y) = 2.3025
    assert result.estimate <= entropy
    jittered = x + 1e-6 * np.random.default_rng(0).standard_normal(x.shape)
    assert abs(result.estimate - infocam.estimate_mi(jittered, y, estimator="knn").estimate) < 0.05


def test_knn_reads_every_sample_and_has_no_accuracy(digits):
    x, y = digits
    result = infocam.estimate_mi(x, y, estimator="knn")
    assert result.n_test == len(y) and result.accuracy is None and result.epochs == 0
    assert "nan" not in str(result) and "no accuracy" in str(result)
    assert result.details == {"k": 3, "k_requested": 3}


def test_knn_is_scale_and_shift_aware(three_classes):
    x, y = three_classes
    base = knn_mutual_information(x, y).estimate
    for moved in (x * 1000, x + 1e6, x * np.array([1e-3, 1e4])):
        assert abs(knn_mutual_information(moved, y).estimate - base) < 0.05


def test_knn_on_tied_discrete_and_constant_inputs_is_not_absurd(three_classes):
    x, y = three_classes
    base = knn_mutual_information(x, y).estimate
    ceiling = label_entropy(np.bincount(y))
    for tied in (np.round(x), np.round(x, 1), np.round(x).astype(np.int8)):
        value = knn_mutual_information(tied, y).estimate  # was -1.34 (integers) and 1.22 > base (one decimal)
        assert 0.3 < value <= base + 0.03 and value <= ceiling  # rounding can only lose information
    constant = knn_mutual_information(np.zeros_like(x), y)  # was -5.07
    assert abs(constant.estimate) < 0.05
    unique = knn_mutual_information(x[:500], y[:500]).estimate
    repeated = knn_mutual_information(np.repeat(x[:500], 3, axis=0), np.repeat(y[:500], 3)).estimate
    assert abs(repeated - unique) < 0.15 and repeated <= ceiling


def test_the_tie_noise_is_seeded_and_documented(three_classes):
    x, y = three_classes
    ties = np.round(x)
    assert knn_mutual_information(ties, y, seed=1).estimate == knn_mutual_information(ties, y, seed=1).estimate
    assert knn_mutual_information(ties, y, noise=0).estimate != knn_mutual_information(ties, y).estimate
    import infocam.mi_estimators.knn as module

    assert "1e-10" in module.__doc__ and "not a bound" in module.__doc__


def test_a_clamped_k_is_recorded_and_warned(three_classes):
    x, y = three_classes
    with pytest.warns(UserWarning, match="k=100000 is more than the smallest class allows"):
        result = knn_mutual_information(x, y, k=100_000)
    assert isinstance(result, KNNEstimate) and result.k == np.bincount(y).min() - 1 and result.k_requested == 100_000


def test_bad_knn_settings_are_one_line():
    for options in ({"k": 0}, {"k": True}, {"noise": -1.0}, {"noise": math.inf}, {"seed": -1}):
        with pytest.raises(ConfigError):
            MI_ESTIMATORS.create("knn", num_classes=3, **options)


def test_an_estimate_above_h_y_warns():
    with pytest.warns(MIAboveCeilingWarning, match=r"exceeds H\(Y\) = 2.3026"):
        assert warn_if_above_ceiling(2.5, [10] * 10, "knn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_above_ceiling(2.3, [10] * 10, "knn")
    assert label_entropy([5, 5, 0]) == pytest.approx(math.log(2))


def test_estimate_mi_warns_for_any_estimate_above_h_y(monkeypatch, three_classes):
    import infocam.mi_estimators.knn as module

    x, y = three_classes
    monkeypatch.setattr(module.KNNEstimator, "estimate", lambda self, a, b: KNNEstimate(5.0, 0.1, 3, 3, len(b)))
    with pytest.warns(MIAboveCeilingWarning, match="knn: the MI estimate 5.0000"):
        infocam.estimate_mi(x, y, estimator="knn")


def test_mc_samples_zero_is_one_line():
    for bad in (0, 1, -5, 2.5, True):
        with pytest.raises(ConfigError, match="data.mc_samples must be an integer >= 2"):
            GaussianMixtureDataModule(mc_samples=bad)
