"""A small CNN with a global-average-pooling + linear head: the CAM test bed before VGG/ResNet-GAP.

It exposes timm's interface (``forward_features``, ``forward_head(x, pre_logits)``,
``get_classifier``); the weight-based CAM methods check on that interface that the head is
GAP + linear, as they do for the VGG16/ResNet50 WSOL backbones and timm models.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from infocam.errors import ConfigError
from infocam.registry import MODELS


class GapCNN(nn.Module):
    """``len(channels)`` blocks of [3x3 conv, BN, ReLU] x 2; the first ``pools`` blocks (default:
    all but the last) are followed by a 2x2 max-pool.

    Two options shape the class activation maps, not the accuracy: ``pools`` sets the resolution
    of the last features (64 px with 1 pool: 32x32), and ``last_batchnorm=False`` ends with a
    biased conv + ReLU without BatchNorm (like VGG-GAP's conv6), so the last features can be zero
    on the background instead of being re-centred to fire at about half of all positions.
    """

    def __init__(
        self,
        num_classes: int,
        channels: Sequence[int] = (32, 64, 128),
        in_channels: int = 3,
        pools: int | None = None,
        last_batchnorm: bool = True,
    ) -> None:
        super().__init__()
        if not channels or any(int(c) < 1 for c in channels):
            raise ConfigError(f"model.channels must be a non-empty list of positive ints, got {channels}")
        pools = len(channels) - 1 if pools is None else int(pools)
        if not 0 <= pools <= len(channels):
            raise ConfigError(f"model.pools must be in 0..{len(channels)} (one per block at most), got {pools}")
        layers: list[nn.Module] = []
        width = in_channels
        for i, out in enumerate(int(c) for c in channels):
            for j in range(2):
                last = i == len(channels) - 1 and j == 1
                if last and not last_batchnorm:
                    layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU(inplace=True)]
                else:
                    layers += [nn.Conv2d(width, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                width = out
            if i < pools:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.fc(pooled)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


@MODELS.register("gap_cnn")
def gap_cnn(
    num_classes: int,
    channels: Sequence[int] = (32, 64, 128),
    in_channels: int = 3,
    pools: int | None = None,
    last_batchnorm: bool = True,
) -> GapCNN:
    return GapCNN(num_classes, channels, in_channels, pools, last_batchnorm)
