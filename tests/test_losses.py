import math

import pytest
import torch
import torch.nn.functional as F

from infocam.errors import ConfigError, DataError
from infocam.registry import LOSSES

import infocam.losses  # noqa: F401


def test_softmax_is_cross_entropy():
    logits, target = torch.randn(8, 5), torch.randint(0, 5, (8,))
    loss = LOSSES.create("softmax", num_classes=5)
    assert torch.allclose(loss(logits, target), F.cross_entropy(logits, target))


def test_pc_softmax_matches_eq10_directly():
    torch.manual_seed(0)
    logits, target = torch.randn(16, 4), torch.randint(0, 4, (16,))
    counts = torch.tensor([10, 20, 30, 40])
    loss = LOSSES.create("pc_softmax", num_classes=4)
    loss.set_class_counts(counts)
    prior = counts / counts.sum()
    # Eq. 10 written the naive way, in float64
    num = logits.double().exp().gather(1, target[:, None]).squeeze(1)
    den = (prior.double() * logits.double().exp()).sum(1)
    expected = -(num / den).log().mean()
    assert loss(logits, target).double().item() == pytest.approx(expected.item(), rel=1e-5)


def test_pc_softmax_never_overflows():
    logits = torch.tensor([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 3.0]])
    loss = LOSSES.create("pc_softmax", num_classes=3)
    loss.set_class_counts([1, 1000, 10])
    value = loss(logits, torch.tensor([0, 1]))
    assert torch.isfinite(value)


def test_pc_softmax_equals_softmax_on_uniform_priors_up_to_log_m():
    logits, target = torch.randn(32, 5), torch.randint(0, 5, (32,))
    pc = LOSSES.create("pc_softmax", num_classes=5)
    pc.set_class_counts([7] * 5)
    ce = LOSSES.create("softmax", num_classes=5)
    assert pc(logits, target).item() == pytest.approx(ce(logits, target).item() - math.log(5), abs=1e-5)


def test_absent_class_gives_clear_error():
    loss = LOSSES.create("pc_softmax", num_classes=3)
    with pytest.raises(DataError, match=r"classes \[1\] have no training samples"):
        loss.set_class_counts([5, 0, 2])


def test_logit_adjusted_tau1_has_pc_softmax_gradients():
    torch.manual_seed(1)
    counts = [5, 15, 80]
    target = torch.randint(0, 3, (20,))
    grads = []
    for name, kwargs in (("pc_softmax", {}), ("logit_adjusted", {"tau": 1.0})):
        logits = torch.randn(20, 3, generator=torch.Generator().manual_seed(2)).requires_grad_()
        loss = LOSSES.create(name, num_classes=3, **kwargs)
        loss.set_class_counts(counts)
        loss(logits, target).backward()
        grads.append(logits.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_mine_loss_tracks_moving_average_and_validates_decay():
    loss = LOSSES.create("mine", num_classes=3, ema_decay=0.5)
    logits = torch.zeros(4, 3)
    loss.train()
    loss(logits, torch.tensor([0, 1, 2, 0]))
    assert loss.ema_partition.item() == pytest.approx(1.0)  # E[e^0] = 1
    loss(logits + 1.0, torch.tensor([0, 1, 2, 0]))
    assert loss.ema_partition.item() == pytest.approx(0.5 + 0.5 * math.e)
    with pytest.raises(ConfigError, match="ema_decay"):
        LOSSES.create("mine", num_classes=3, ema_decay=1.5)
