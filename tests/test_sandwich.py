"""The stochastic-output sandwich of paper 2 (Eq. 25-27): the metric on hand-made draws, the
one-draw case, and the bounds on a trained dropout model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from infocam.errors import ConfigError
from infocam.infomask.sandwich import StochasticSoftmaxBounds
from infocam.tasks.classify import ClassificationModule, stochastic_logits


def test_sandwich_metric_bounds_and_the_one_draw_case():
    torch.manual_seed(0)
    logits, target = torch.randn(6, 50, 3) * 2, torch.randint(0, 3, (50,))
    metric = StochasticSoftmaxBounds()
    metric.update(logits, target)
    values = metric.compute()
    assert values["dv_lower_bound"] < values["log_softmax_mean"] < 0
    one = StochasticSoftmaxBounds()
    one.update(logits[:1], target)
    values = one.compute()
    ce = F.cross_entropy(logits[0].double(), target)
    assert float(values["log_softmax_mean"]) == pytest.approx(-float(ce), abs=1e-12)
    assert float(values["dv_lower_bound"]) == pytest.approx(-float(ce), abs=1e-12)


def classify_task(mc_samples: int, dropout: float) -> ClassificationModule:
    return ClassificationModule(
        {"name": "gap_cnn_dropout", "channels": [4, 8], "in_channels": 1, "dropout": dropout},
        {"name": "softmax"},
        {"_target_": "torch.optim.Adam", "lr": 0.01},
        num_classes=2,
        top_k=None,
        confusion_matrix=False,
        mc_samples=mc_samples,
    )


def two_blob_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.randn(n, 1, 8, 8, generator=generator) * 0.5
    x[y == 1, :, :4] += 1.0
    return x, y


def test_one_draw_with_dropout_off_is_the_deterministic_estimate():
    x, y = two_blob_data()
    for mc_samples, dropout in ((1, 0.5), (4, 0.0)):  # K = 1, or K draws that cannot differ
        task = classify_task(mc_samples, dropout).eval()
        task._eval_step("val", (x, y))
        values = task.metrics["val"]["sandwich"].compute()
        loss = task.metrics["val"]["loss"].compute()
        assert float(values["log_softmax_mean"]) == pytest.approx(-float(loss), abs=1e-5)
        assert float(values["dv_lower_bound"]) == pytest.approx(-float(loss), abs=1e-5)
        assert not any(m.training for m in task.net.modules())  # modes restored after the draws


def test_sandwich_holds_on_a_trained_dropout_model():
    torch.manual_seed(0)
    x, y = two_blob_data()
    task = classify_task(16, 0.5)
    optimizer = torch.optim.Adam(task.parameters(), lr=0.02)
    for _ in range(40):
        optimizer.zero_grad()
        task.loss_fn(task(x), y).backward()
        optimizer.step()
    task.eval()
    with torch.no_grad():
        deterministic = -float(F.cross_entropy(task(x), y))
    assert deterministic > -0.5  # it learned something
    draws = stochastic_logits(task.net, x, 16)
    assert not torch.equal(draws[0], draws[1])  # dropout is active during the draws
    task._eval_step("test", (x, y))
    values = task.metrics["test"]["sandwich"].compute()
    assert float(values["dv_lower_bound"]) < float(values["log_softmax_mean"]) < 0.0  # Eq. 27 (I >= 0)


def test_mc_samples_need_a_dropout_layer():

    task = ClassificationModule(
        {"name": "gap_cnn", "channels": [4], "in_channels": 1}, {"name": "softmax"},
        {"_target_": "torch.optim.Adam"}, num_classes=2, top_k=None, mc_samples=3,
    )
    x, y = two_blob_data(8)
    with pytest.raises(ConfigError, match="no dropout layer"):
        task._eval_step("val", (x, y))
