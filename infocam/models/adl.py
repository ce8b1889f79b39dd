"""Attention-based Dropout Layer (Choe & Shim, CVPR 2019), inserted after named backbone stages.

ADL hides the most discriminative part of a feature map during training, so the classifier
must also use the rest of the object and its CAM covers more of it. It has no parameters,
so a network's state dict is the same with and without it.

Hand-written: neither torchvision nor timm ships ADL (it is a dozen lines of tensor code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from infocam.errors import ConfigError


class ADL(nn.Module):
    """Identity at eval. In training, with attention ``a = mean over channels of x`` ([B, 1, h, w]):

    - with probability ``drop_rate`` (one draw per batch, as the authors' code does) the *drop
      mask* ``1[a < gamma * max_hw a]`` zeroes the most activated positions of each sample;
    - otherwise the *importance map* ``sigmoid(a)`` re-weights every position;

    and the chosen map multiplies every channel of ``x``.
    """

    def __init__(self, drop_rate: float = 0.75, gamma: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= drop_rate <= 1.0:
            raise ConfigError(f"model.adl.drop_rate must be in [0, 1], got {drop_rate!r}")
        if not 0.0 < gamma <= 1.0:
            raise ConfigError(f"model.adl.gamma must be in (0, 1], got {gamma!r}")
        self.drop_rate = float(drop_rate)
        self.gamma = float(gamma)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        attention = x.mean(dim=1, keepdim=True)
        # drawn on the CPU generator: no device sync, and seeded like every other torch draw
        if torch.rand(()).item() < self.drop_rate:
            peak = attention.amax(dim=(2, 3), keepdim=True)
            selected = (attention < self.gamma * peak).to(x.dtype)
        else:
            selected = torch.sigmoid(attention)
        return x * selected

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}, gamma={self.gamma}"


@dataclass(frozen=True)
class ADLSettings:
    """``model.adl``: whether ADL is on, its two rates and where it goes (readable stage names)."""

    enabled: bool
    drop_rate: float
    gamma: float
    positions: tuple[str, ...]


def adl_settings(spec: Mapping[str, Any] | None, default_gamma: float, default_positions: Sequence[str]) -> ADLSettings:
    """Parse ``model.adl`` (None or a dict with ``enabled``, ``drop_rate``, ``gamma``, ``positions``)."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - {"enabled", "drop_rate", "gamma", "positions"})
    if unknown:
        raise ConfigError(f"model.adl: unknown keys {unknown} (known: enabled, drop_rate, gamma, positions)")
    enabled = spec.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"model.adl.enabled must be true or false, got {enabled!r}")
    positions = spec.get("positions")
    positions = tuple(default_positions) if positions is None else positions
    if isinstance(positions, str) or not all(isinstance(p, str) for p in positions):
        raise ConfigError(f"model.adl.positions must be a list of stage names, got {positions!r}")
    gamma = spec.get("gamma")
    return ADLSettings(
        enabled=enabled,
        drop_rate=float(spec.get("drop_rate", 0.75)),
        gamma=float(default_gamma if gamma is None else gamma),
        positions=tuple(positions),
    )


def build_adl_layers(settings: ADLSettings, valid_positions: Sequence[str]) -> nn.ModuleDict:
    """One ADL per configured position, keyed by the position name with dots as underscores
    (``nn.ModuleDict`` keys cannot hold dots). Empty when ADL is off."""
    layers = nn.ModuleDict()
    if not settings.enabled:
        return layers
    for position in settings.positions:
        if position not in valid_positions:
            raise ConfigError(
                f"model.adl.positions: unknown position {position!r}; valid: {', '.join(valid_positions)}"
            )
        layers[adl_key(position)] = ADL(settings.drop_rate, settings.gamma)
    return layers


def adl_key(position: str) -> str:
    return position.replace(".", "_")
