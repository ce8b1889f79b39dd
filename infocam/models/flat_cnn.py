"""``flat_cnn``: the ``gap_cnn`` trunk with a flatten + linear head. Without global average pooling
the weight-based CAM methods do not apply, so it is the test bed for Grad-CAM alone."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from infocam.models.gap_cnn import GapCNN
from infocam.registry import MODELS


class PlainCNN(nn.Module):
    """The same trunk with a flatten + linear head: no GAP, so only Grad-CAM applies to it."""

    def __init__(self, num_classes: int, channels: Sequence[int] = (16, 32), in_channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        trunk = GapCNN(num_classes, channels, in_channels)
        self.features = trunk.features
        side = image_size // 2 ** (len(channels) - 1)
        self.fc = nn.Linear(trunk.num_features * side * side, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        flat = torch.flatten(features, 1)
        return flat if pre_logits else self.fc(flat)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


@MODELS.register("flat_cnn")
def flat_cnn(num_classes: int, channels: Sequence[int] = (16, 32), in_channels: int = 3, image_size: int = 64) -> PlainCNN:
    return PlainCNN(num_classes, channels, in_channels, image_size)
