"""The joint Ross (2014) kNN estimator (infocam.mi_estimators), as a function and as loss=knn of task=mi."""

import math

import numpy as np
import pytest
import torch

from infocam.data.gmm import GaussianMixture, diagonal_means
from infocam.errors import DataError
from infocam.mi_estimators.knn import KNNMutualInformation, knn_mutual_information


def test_knn_matches_the_monte_carlo_truth_on_a_small_gmm():
    mixture = GaussianMixture(diagonal_means(5), (1, 2, 3, 4, 5), dim=2)
    x, y = mixture.sample(4_000, torch.Generator().manual_seed(0))
    truth, truth_se = mixture.mutual_information(200_000, seed=1)
    result = knn_mutual_information(x.numpy(), y.numpy(), k=3)
    estimate, se = result.estimate, result.se
    assert 0 < se < 0.05
    assert abs(estimate - truth) < 0.05


def test_knn_reads_about_zero_on_independent_data():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(3_000, 3)), rng.integers(0, 4, 3_000)
    result = knn_mutual_information(x, y)
    estimate, se = result.estimate, result.se
    assert abs(estimate) < max(4 * se, 0.02)


def test_knn_metric_gathers_batches_and_equals_the_function():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(500, 2)), rng.integers(0, 3, 500)
    x[:, 0] += 2 * y
    metric = KNNMutualInformation(k=5)
    for start in range(0, 500, 128):
        metric.update(torch.from_numpy(x[start:start + 128]).float(), torch.from_numpy(y[start:start + 128]))
    out = metric.compute()
    expected = knn_mutual_information(x.astype(np.float32), y, k=5).estimate
    assert out["estimate"].item() == pytest.approx(expected, abs=1e-9)
    assert out["count"].item() == 500


def test_knn_flattens_images_and_handles_small_classes():
    rng = np.random.default_rng(4)
    images, y = rng.normal(size=(60, 1, 4, 4)), np.r_[np.zeros(57, int), [1, 1, 2]]  # class 2 alone: left out
    result = knn_mutual_information(images, y, k=3)
    estimate, se = result.estimate, result.se
    assert math.isfinite(estimate) and math.isfinite(se)


@pytest.mark.parametrize("x, y, k, match", [
    (np.zeros((5, 2)), np.zeros(4), 3, "labels"),
    (np.zeros((5, 2)), np.zeros(5), 0, "k must"),
    (np.full((5, 2), np.nan), np.zeros(5), 3, "NaN"),
    (np.zeros((3, 2)), np.arange(3), 3, "two samples"),
])
def test_bad_inputs_are_data_errors(x, y, k, match):
    with pytest.raises(DataError, match=match):
        knn_mutual_information(x, y, k)


@pytest.mark.slow
def test_loss_knn_runs_without_a_fit_loop_and_writes_metrics(tmp_path):
    from conftest import QUIET, compose_config

    from infocam.run import train

    cfg = compose_config("train", ["experiment=mi_gmm", "loss=knn", "data.n=1500", "data.mc_samples=20000", *QUIET],
                         tmp_path / "run")
    metrics = train(cfg)
    assert abs(metrics["test/mi_estimate"] - metrics["test/mi_true"]) < 0.1
    assert metrics["test/num_samples"] == 300  # the held-out test split the trained estimators use
    assert not any(key.startswith(("train/", "val/")) for key in metrics)  # nothing was fitted
    assert not (tmp_path / "run" / "checkpoints").exists() or not list((tmp_path / "run" / "checkpoints").iterdir())
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_loss_knn_records_the_k_it_used_when_k_is_clamped(tmp_path):
    import json

    from conftest import QUIET, compose_config

    from infocam.run import train

    cfg = compose_config("train", ["experiment=mi_gmm", "loss=knn", "loss.k=100000", "data.n=300",
                                   "data.mc_samples=2000", *QUIET], tmp_path / "run")
    with pytest.warns(UserWarning, match="k=100000 is more than the smallest class allows"):
        metrics = train(cfg)  # was silently clamped, the k used recorded nowhere
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert recorded["test/knn_k"] == metrics["test/knn_k"] == 12 - 1  # the smallest test class: 12 samples
