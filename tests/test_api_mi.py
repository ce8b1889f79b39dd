"""infocam.estimate_mi on arrays: the paper's GMM estimate near its Monte-Carlo truth, the
result object, seeds, every registered MI loss, model=, and one line for each bad input."""

from __future__ import annotations

import inspect
import warnings
import math

import numpy as np
import pytest
import torch
from torch import nn

import infocam
from infocam.data.gmm import GaussianMixtureDataModule
from infocam.errors import ConfigError, DataError, NonFiniteLossError
from infocam.losses.base import ClassificationLoss
from infocam.mi_estimators import MI_ESTIMATORS
from infocam.registry import LOSSES

FAST = {"hidden_dims": (32, 32), "epochs": 3, "batch_size": 256}


def gmm(dim: int, scale: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    dm = GaussianMixtureDataModule(dim=dim, balance="unbalanced", size_scale=scale, mc_samples=100_000)
    dm.setup()
    x = torch.cat([dm.splits[s].tensors[0] for s in ("train", "val", "test")])
    y = torch.cat([dm.splits[s].tensors[1] for s in ("train", "val", "test")])
    return x, y, dm.true_mutual_information()[0]


@pytest.fixture(scope="module")
def small_gmm():
    return gmm(2, 0.05)  # 4,500 samples of the unbalanced 2-D mixture


@pytest.mark.slow
def test_estimate_is_near_the_monte_carlo_truth_and_reports_its_split(small_gmm):
    x, y, truth = small_gmm
    result = infocam.estimate_mi(x.numpy(), y.numpy(), hidden_dims=(64, 64), epochs=15, batch_size=128)
    assert abs(result.estimate - truth) < 0.08, (result, truth)
    assert float(result) == result.estimate and result.estimator == "pc_softmax"
    assert 0 < result.se < 0.05
    counts = np.bincount(y.numpy())
    assert result.n_test == sum(int(round(c * 0.2)) for c in counts)
    assert 0.8 < result.accuracy <= 1.0
    assert list(result.priors) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(list(result.priors.values()), counts / counts.sum(), atol=0.01)
    assert 1 <= result.best_epoch <= result.epochs <= 15
    assert "nats" in str(result)


@pytest.mark.slow
def test_same_seed_same_number_and_the_caller_rng_is_untouched(small_gmm):
    x, y, _ = small_gmm
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = infocam.estimate_mi(x, y, seed=1, **FAST)
    assert torch.equal(torch.get_rng_state(), state)
    b = infocam.estimate_mi(x, y, seed=1, **FAST)
    c = infocam.estimate_mi(x, y, seed=2, **FAST)
    assert a.estimate == b.estimate and a.estimate != c.estimate


def mi_losses() -> list[str]:
    """Every registered MI estimator: the losses whose logits carry an MI bound, and knn."""
    names = []
    for name in LOSSES.available():
        factory = LOSSES.get(name)
        if inspect.isclass(factory) and issubclass(factory, ClassificationLoss):
            names.append(name)
    return names + MI_ESTIMATORS.available()


@pytest.mark.slow
@pytest.mark.parametrize("estimator", mi_losses())
def test_every_registered_mi_loss_is_an_estimator(small_gmm, estimator):
    x, y, truth = small_gmm
    result = infocam.estimate_mi(x, y, estimator=estimator, **FAST)
    assert result.estimator == estimator
    assert 0.3 < result.estimate < truth + 0.3  # trained three epochs: a bound in the right range
    assert math.isfinite(result.se) and result.se > 0  # every read-out has a standard error (DV's by the delta method)
    assert (result.accuracy is None) == (estimator == "knn")  # knn has no classifier to score: absent, not NaN


@pytest.mark.slow
def test_string_labels_and_a_user_model_on_images():
    gen = torch.Generator().manual_seed(0)
    labels = ["cat", "dog"] * 60
    images = torch.randn(120, 1, 8, 8, generator=gen)
    images[1::2] += 1.5  # "dog" images are brighter
    built = []

    def factory(input_shape, num_classes):
        built.append((input_shape, num_classes))
        return nn.Sequential(nn.Conv2d(input_shape[0], 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(4, num_classes))

    result = infocam.estimate_mi(images, labels, model=factory, epochs=3, batch_size=32)
    assert built == [((1, 8, 8), 2)]
    assert set(result.priors) == {"cat", "dog"} and result.n_test == 24
    by_name = infocam.estimate_mi(images, labels, model="gap_cnn", epochs=1, batch_size=32)
    assert by_name.n_test == 24 and math.isfinite(by_name.estimate)
    with pytest.raises(ConfigError, match="model= must be a registered model name or a factory"):
        infocam.estimate_mi(images, labels, model=3, epochs=1)


@pytest.mark.parametrize("x, y, kwargs, message", [
    (np.zeros((10, 2)), np.zeros(9), {}, "X has 10 samples but y has 9 labels"),
    (np.array([[0.0, np.nan]] * 10), [0, 1] * 5, {}, r"X has 10 NaN/inf values \(first at index \(0, 1\)\)"),
    (np.array([[np.inf, 0.0]] * 10), [0, 1] * 5, {}, "NaN/inf"),
    (np.zeros((10, 2)), [3] * 10, {}, "single class"),
    (np.zeros((10, 2, 2)), [0, 1] * 5, {}, r"X must be 2-D \[n, d\], got shape \(10, 2, 2\)"),
    (np.zeros(10), [0, 1] * 5, {}, "X must be 2-D"),
    (np.zeros((40, 2)), [0] * 35 + [1] * 5, {}, "class 1 has 5 samples: 1 in the test split, which needs at least 2"),
    (np.zeros((40, 2)), [0, 1] * 20, {"estimator": "softmx"}, "unknown loss 'softmx'"),
    (np.zeros((40, 2)), [0, 1] * 20, {"val_fraction": 0.6, "test_fraction": 0.5}, "sum below 1"),
    (np.zeros((40, 2)), [0, 1] * 20, {"epochs": 0}, "epochs must be a positive integer"),
    (np.zeros((40, 2)), [[0, 1]] * 20, {}, r"y must be 1-D \[n\] labels"),
    ([["a", "b"]] * 4, [0, 1] * 2, {}, "X must hold numbers"),
])
def test_bad_input_is_one_line(x, y, kwargs, message):
    with pytest.raises((DataError, ConfigError), match=message) as err:
        infocam.estimate_mi(x, y, **kwargs)
    assert "\n" not in str(err.value)


# -- issue 28: scale, image input, option values, results the API must refuse -------------------------------------

TINY = {"hidden_dims": (16,), "epochs": 2, "batch_size": 128}


@pytest.fixture(scope="module")
def tiny_gmm():
    from infocam.data.gmm import GaussianMixture, diagonal_means

    x, y = GaussianMixture(diagonal_means(3), (1, 1, 1), dim=2).sample(900, torch.Generator().manual_seed(0))
    return x.numpy().astype(np.float64), y.numpy()


@pytest.mark.parametrize("estimator", mi_losses())
def test_every_estimator_ignores_the_scale_and_offset_of_x(tiny_gmm, estimator):
    x, y = tiny_gmm
    base = infocam.estimate_mi(x, y, estimator=estimator, **TINY).estimate
    for moved in (x * 1000, x + 1e6):  # were -2.158 and -0.0000 against 1.251 (pc_softmax, Table 1 means)
        assert abs(infocam.estimate_mi(moved, y, estimator=estimator, **TINY).estimate - base) < 0.05


def test_a_4d_x_gets_the_image_critic_and_a_flat_image_gets_a_hint(monkeypatch):
    from infocam.models import mi_cnn

    built = []
    original = mi_cnn.SmallImageCritic.__init__

    def spy(self, *args, **kwargs):
        built.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(mi_cnn.SmallImageCritic, "__init__", spy)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(200, 1, 16, 16, generator=gen)
    labels = np.arange(200) % 2
    images[labels == 1, :, :8] += 0.5
    result = infocam.estimate_mi(images, labels, epochs=1, batch_size=64)  # was "image arrays [n, C, H, W] need model="
    assert built and math.isfinite(result.estimate)
    with pytest.warns(UserWarning, match=r"pass X as \[n, 1, 16, 16\]"):
        infocam.estimate_mi(images.flatten(1), labels, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*(LeafSpec|workers).*")
        infocam.estimate_mi(images[:, 0, :2, :5].flatten(1), labels, **TINY)  # 10 features: no hint


@pytest.mark.parametrize("options, message", [
    ({"progress": "no"}, r"progress='no' must be True or False"),
    ({"seed": None}, "seed must be an integer"),
    ({"seed": "a"}, "seed must be an integer"),
    ({"seed": 2**70}, "seed must be an integer"),
    ({"seed": 1.7}, "seed must be an integer"),
    ({"lr": "x"}, "lr must be a finite number > 0"),
    ({"lr": float("inf")}, "lr must be a finite number > 0"),
    ({"hidden_dims": "abc"}, "hidden_dims must be a non-empty sequence"),
    ({"estimator_kwargs": [1]}, "estimator_kwargs must be a mapping"),
    ({"val_fraction": "a"}, "val_fraction and test_fraction must be in"),
    ({"estimator": "knn", "progress": "yes"}, r"progress='yes' must be True or False"),
])
def test_bad_option_values_are_one_line(tiny_gmm, options, message):
    x, y = tiny_gmm
    with pytest.raises(ConfigError, match=message) as err:
        infocam.estimate_mi(x, y, **options)
    assert "\n" not in str(err.value)


def test_numpy_integers_and_booleans_are_accepted(tiny_gmm):
    x, y = tiny_gmm
    result = infocam.estimate_mi(x, y, **{**TINY, "epochs": np.int64(2), "batch_size": np.int32(128)},
                                 seed=np.int64(1), progress=np.bool_(False))
    assert math.isfinite(result.estimate) and result.epochs == 2


class _NanNet(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(2, num_classes)

    def forward(self, x):
        return self.linear(x) * math.nan


@pytest.mark.parametrize("options, error, message", [
    ({"lr": 1e6}, NonFiniteLossError, "diverged"),  # was -2.1e29 nats, returned
    ({"model": lambda shape, m: _NanNet(m)}, NonFiniteLossError, "training loss became nan"),  # was NaN, returned
    ({"model": lambda shape, m: nn.Linear(2, m + 3)}, ConfigError, r"must give \[n, 3\] scores"),
    ({"model": lambda shape, m: nn.Flatten(0)}, ConfigError, "no trainable parameters"),  # was the optimiser's ValueError
    ({"model": lambda shape, m: nn.Sequential(nn.Linear(2, m), nn.Flatten(0))}, ConfigError, r"it gave \(6,\)"),
    ({"model": lambda shape, m: 1 / 0}, ConfigError, "model= factory failed"),
])
def test_bad_models_and_diverged_results_are_one_line(tiny_gmm, options, error, message):
    x, y = tiny_gmm
    with pytest.raises(error, match=message) as err:
        infocam.estimate_mi(x, y, **{**TINY, **options})
    assert "\n" not in str(err.value)


class _MissingLikePandasNA:
    """Behaves as pandas.NA does (pandas need not be installed): == and != give NA, bool() raises."""

    def __eq__(self, other):
        return self

    __ne__ = __eq__

    def __bool__(self):
        raise TypeError("boolean value of NA is ambiguous")

    def __hash__(self):
        return 0


@pytest.mark.parametrize("missing", [None, float("nan"), _MissingLikePandasNA()])
def test_missing_labels_are_refused_not_a_class(tiny_gmm, missing):
    x, y = tiny_gmm
    labels = y.astype(object)
    labels[7] = missing
    with pytest.raises(DataError, match=r"y has 1 missing labels .*first at index 7"):
        infocam.estimate_mi(x, labels, **TINY)
