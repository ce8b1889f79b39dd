"""gap_cnn's two map-shaping options: the number of pools (feature resolution) and a last
conv without BatchNorm (features free to be zero on the background)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infocam.errors import ConfigError
from infocam.registry import MODELS


def test_pools_set_the_feature_resolution():
    x = torch.randn(2, 3, 64, 64)
    assert MODELS.create("gap_cnn", num_classes=4, channels=[4, 8, 8]).forward_features(x).shape == (2, 8, 16, 16)
    assert MODELS.create("gap_cnn", num_classes=4, channels=[4, 8, 8], pools=1).forward_features(x).shape == (2, 8, 32, 32)
    with pytest.raises(ConfigError, match="model.pools must be in 0..3"):
        MODELS.create("gap_cnn", num_classes=4, channels=[4, 8, 8], pools=4)


def test_last_conv_without_batchnorm_ends_in_a_biased_conv_and_relu():
    net = MODELS.create("gap_cnn", num_classes=4, channels=[4, 8], last_batchnorm=False)
    tail = list(net.features)[-2:]
    assert isinstance(tail[0], nn.Conv2d) and tail[0].bias is not None and isinstance(tail[1], nn.ReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 3  # one per conv but the last
    with torch.no_grad():
        tail[0].bias.fill_(-1e3)  # a silent last layer: all-zero features, as on a plain background
    assert net.eval().forward_features(torch.randn(1, 3, 16, 16)).abs().max() == 0
    default = MODELS.create("gap_cnn", num_classes=4, channels=[4, 8])
    assert sum(isinstance(m, nn.BatchNorm2d) for m in default.modules()) == 4
