"""Fully-connected networks for vector inputs (the MI estimator of the paper's Fig. 4)."""

from __future__ import annotations

from typing import Sequence

from torch import nn

from infocam.errors import ConfigError
from infocam.registry import MODELS


@MODELS.register("mlp")
def mlp(input_dim: int, num_classes: int, hidden_dims: Sequence[int] = (256, 256, 256)) -> nn.Sequential:
    """ReLU MLP; the default three hidden layers plus the output make the paper's four layers."""
    if not hidden_dims or any(int(h) < 1 for h in hidden_dims):
        raise ConfigError(f"model.hidden_dims must be a non-empty list of positive ints, got {hidden_dims}")
    layers: list[nn.Module] = []
    width = input_dim
    for hidden in hidden_dims:
        layers += [nn.Linear(width, int(hidden)), nn.ReLU()]
        width = int(hidden)
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
