"""infoCAM's subtraction term under softmax training, and the diagnostics that show it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from infocam.cams.diagnostics import (
    CamInfocamAgreement,
    class_weight_sum_ratio,
    per_image_pearson,
)

# training_step logs; outside a Trainer Lightning warns that self.log has nowhere to go
pytestmark = pytest.mark.filterwarnings("ignore:You are trying to .self.log")

TINY = ["experiment=wsol_synthetic", "model.channels=[8,16]", "data.num_train=32", "data.num_val=8",
        "data.num_test=8", "data.batch_size=16"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """One composed config and one real training batch for every test here (composing is the slow part)."""
    from conftest import compose_config

    cfg = compose_config("train", TINY, tmp_path_factory.mktemp("subtraction"))
    data = instantiate(cfg.data)
    data.setup("fit")
    return cfg, next(iter(data.train_dataloader()))


def _task_and_batch(setup, overrides: dict | None = None, loss: str | None = None):
    cfg, batch = setup
    cfg = cfg.copy()
    for key, value in (overrides or {}).items():
        OmegaConf.update(cfg, key, value, force_add=True)
    if loss is not None:
        cfg.loss.name = loss
    torch.manual_seed(0)
    return instantiate(cfg.task), batch


def _weight_sum(task) -> torch.Tensor:
    return task.net.get_classifier().weight.detach().sum(0).clone()


@pytest.mark.parametrize("loss", ["softmax", "pc_softmax"])
def test_cross_entropy_has_zero_gradient_along_the_class_weight_sum(setup, loss):
    task, batch = _task_and_batch(setup, loss=loss)
    head = task.net.get_classifier()
    task.training_step(batch, 0).backward()
    grad = head.weight.grad
    assert grad.norm() > 1e-4  # a real step: the head's weights do get a gradient
    # dCE/dS: moving every w_c by v/M shifts all logits equally; sum_c dCE/dw_c is that derivative
    assert grad.sum(0).norm() < 1e-5 * grad.norm()
    if head.bias is not None:
        assert abs(float(head.bias.grad.sum())) < 1e-5 * float(head.bias.grad.norm())
    assert (grad.norm(dim=1) > 1e-6).all()  # not zero class by class: only their sum cancels


def _steps(task, batch, n: int = 3) -> None:
    optimizer = task.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    for i in range(n):
        optimizer.zero_grad()
        task.training_step(batch, i).backward()
        optimizer.step()


def test_sgd_keeps_the_weight_sum_and_adam_or_weight_decay_move_it(setup):
    sgd = {"task.optimizer._target_": "torch.optim.SGD", "task.optimizer.lr": 0.5, "task.optimizer.momentum": 0.9,
           "task.scheduler": None}
    task, batch = _task_and_batch(setup, {**sgd, "task.optimizer.weight_decay": 0})
    before = _weight_sum(task)
    head_before = task.net.get_classifier().weight.detach().clone()
    _steps(task, batch)
    assert not torch.allclose(task.net.get_classifier().weight, head_before)  # the head did train
    torch.testing.assert_close(_weight_sum(task), before, rtol=0, atol=1e-5)

    task, batch = _task_and_batch(setup, {**sgd, "task.optimizer.weight_decay": 0.1})
    before = _weight_sum(task)
    _steps(task, batch, n=1)  # one step: S <- (1 - lr * wd) S exactly (no momentum history yet)
    torch.testing.assert_close(_weight_sum(task), before * (1 - 0.5 * 0.1), rtol=1e-4, atol=1e-6)

    task, batch = _task_and_batch(setup, {"task.optimizer.weight_decay": 0, "task.optimizer.lr": 0.05,
                                          "task.scheduler": None})  # Adam
    before = _weight_sum(task)
    _steps(task, batch)
    assert (_weight_sum(task) - before).norm() > 1e-2 * before.norm()


def test_weight_sum_ratio_and_pearson_by_hand():
    weight = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0]])
    assert float(class_weight_sum_ratio(weight)) == pytest.approx(3.0 / (5.0 / 3.0))
    assert float(class_weight_sum_ratio(weight - weight.mean(0))) == pytest.approx(0.0, abs=1e-12)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4, 5))
    corr = per_image_pearson(torch.from_numpy(a), torch.from_numpy(b))
    expected = [np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)]
    np.testing.assert_allclose(corr.numpy(), expected, rtol=1e-10)
    flat = per_image_pearson(torch.ones(1, 3, 3), torch.from_numpy(a[:1, :3, :3]))
    assert torch.isnan(flat).all()


def test_maps_agree_exactly_when_the_weight_sum_is_zero(setup):
    task, batch = _task_and_batch(setup)
    head = task.net.get_classifier()
    images, labels = batch[0], batch[1]
    task.eval()
    with torch.no_grad():
        head.weight.add_(torch.randn(head.weight.shape[1]) * 5 * head.weight.norm(dim=1).mean())  # a large shared S
    drifted = CamInfocamAgreement(region_size=3)
    drifted.update(task.net, images, labels)
    with torch.no_grad():
        head.weight.sub_(head.weight.mean(0))  # S = 0: infoCAM = M / (M - 1) x CAM
    centred = CamInfocamAgreement(region_size=3)
    centred.update(task.net, images, labels)
    assert float(centred.compute()) == pytest.approx(1.0, abs=1e-9)
    assert float(drifted.compute()) < 0.99
    assert int(centred.count) == images.shape[0]
    # the features the task's CAM method already computed give the same value, with no second pass
    from infocam.registry import CAMS

    result = CAMS.create("infocam", region_size=3).compute(task.net, images, [labels])
    reused = CamInfocamAgreement(region_size=3)
    with torch.no_grad():
        reused.update(task.net, images, labels, result.features)
    assert result.features is not None and float(reused.compute()) == pytest.approx(float(centred.compute()), abs=1e-12)
