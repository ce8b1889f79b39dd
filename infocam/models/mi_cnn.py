"""A small CNN critic for MI estimation on images (the label-noise bar tasks)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from infocam.errors import ConfigError
from infocam.registry import MODELS


class SmallImageCritic(nn.Module):
    """Three 3x3 conv layers, global max-pooling, a linear head: translation-invariant, so
    a bar anywhere counts the same. Takes ``[B, C, S, S]`` images or flattened ``[B, C*S*S]``."""

    def __init__(self, input_dim: int, num_classes: int, in_channels: int = 1, channels: Sequence[int] = (16, 32, 32)) -> None:
        super().__init__()
        side = math.isqrt(max(int(input_dim) // in_channels, 1))
        if side * side * in_channels != int(input_dim):
            raise ConfigError(f"model mi_cnn needs square images: input_dim={input_dim} is not "
                              f"{in_channels} x S x S")
        if not channels or any(int(c) < 1 for c in channels):
            raise ConfigError(f"model.channels must be positive ints, got {channels}")
        self.in_channels, self.side = in_channels, side
        layers: list[nn.Module] = []
        width = in_channels
        for c in channels:
            layers += [nn.Conv2d(width, int(c), 3, padding=1), nn.ReLU()]
            width = int(c)
        self.features = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(len(x), self.in_channels, self.side, self.side)
        return self.head(self.features(x))


@MODELS.register("mi_cnn")
def mi_cnn(input_dim: int, num_classes: int, in_channels: int = 1, channels: Sequence[int] = (16, 32, 32)) -> nn.Module:
    return SmallImageCritic(input_dim, num_classes, in_channels, channels)
