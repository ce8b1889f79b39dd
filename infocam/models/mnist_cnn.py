"""The small MNIST classifier of the paper's Fig. 5."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from infocam.errors import ConfigError
from infocam.registry import MODELS


@MODELS.register("mnist_cnn")
def mnist_cnn(
    num_classes: int,
    in_channels: int = 1,
    image_size: int = 28,
    channels: Sequence[int] = (32, 64),
    kernel_size: int = 5,
    hidden_dim: int = 128,
) -> nn.Sequential:
    """Two conv layers, each followed by 2x2 max-pooling and ReLU, then two fully-connected
    layers (the last gives the logits; the softmax lives in the loss)."""
    if len(channels) != 2 or any(int(c) < 1 for c in channels):
        raise ConfigError(f"model.channels must be two positive ints, got {channels}")
    if kernel_size % 2 == 0:
        raise ConfigError(f"model.kernel_size must be odd (same padding), got {kernel_size}")
    if image_size % 4:
        raise ConfigError(f"model.image_size must be divisible by 4 (two 2x2 poolings), got {image_size}")
    c1, c2 = int(channels[0]), int(channels[1])
    pad = kernel_size // 2
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size, padding=pad),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size, padding=pad),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * side * side, hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, num_classes),
    )
