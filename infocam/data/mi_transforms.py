"""Invertible maps of X that leave I(X;Y) unchanged, so a task reuses its base task's truth.

For an injective, differentiable f applied to X alone, p(f(x)|y) / p(f(x)) = p(x|y) / p(x):
the Jacobian cancels in the density ratio, so I(f(X);Y) = I(X;Y) exactly (Czyz et al. 2023,
"Beyond Normal", build their benchmark the same way). Padding X with independent noise and
rotating is such a map of (X, noise). Each transform here can also give the density of its
output (``log_abs_det_inverse``), which is how the tests check the invariance numerically.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infocam.errors import ConfigError

TRANSFORMS = ("rotation", "half_cube", "asinh", "cube", "coupling", "pad_rotate")


def random_rotation(dim: int, generator: torch.Generator) -> Tensor:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix, signs fixed by R's diagonal)."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]


class InvertibleMap:
    """x in R^d_in -> z in R^d_out; ``inverse(z)`` returns (x, log density of the padding noise)."""

    def __init__(self, name: str, in_dim: int, out_dim: int, seed: int = 0, coupling_layers: int = 4) -> None:
        if name not in TRANSFORMS:
            raise ConfigError(f"data.transform must be one of {', '.join(TRANSFORMS)} or null, got {name!r}")
        if out_dim != in_dim and name != "pad_rotate":
            raise ConfigError(f"data.signal_dim differs from data.dim only with data.transform=pad_rotate, not {name}")
        if name == "pad_rotate" and out_dim < in_dim:
            raise ConfigError(f"data.signal_dim ({in_dim}) must be at most data.dim ({out_dim})")
        if name == "coupling" and in_dim < 2:
            raise ConfigError("data.transform=coupling needs data.dim >= 2 (it splits the coordinates)")
        self.name, self.in_dim, self.out_dim = name, in_dim, out_dim
        generator = torch.Generator().manual_seed(seed)
        if name in ("rotation", "pad_rotate"):
            self.rotation = random_rotation(out_dim, generator)
        if name == "coupling":
            self.layers = [self._coupling_weights(in_dim, generator) for _ in range(coupling_layers)]

    @staticmethod
    def _coupling_weights(dim: int, generator: torch.Generator, hidden: int = 16) -> dict[str, Tensor]:
        half = dim // 2
        draw = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
        return {"w1": draw(half, hidden) / math.sqrt(half), "b1": draw(hidden),
                "ws": draw(hidden, dim - half) / math.sqrt(hidden), "wt": draw(hidden, dim - half) / math.sqrt(hidden)}

    @staticmethod
    def _shift_scale(layer: dict[str, Tensor], kept: Tensor) -> tuple[Tensor, Tensor]:
        hidden = torch.tanh(kept @ layer["w1"] + layer["b1"])
        return torch.tanh(hidden @ layer["ws"]), hidden @ layer["wt"]  # log-scale within (-1, 1)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = x.to(torch.float64)
        if self.name == "rotation":
            return x @ self.rotation.T
        if self.name == "half_cube":
            return x * x.abs().sqrt()
        if self.name == "asinh":
            return torch.asinh(x)
        if self.name == "cube":
            return x.pow(3)
        if self.name == "pad_rotate":
            noise = torch.randn(len(x), self.out_dim - self.in_dim, generator=generator, dtype=torch.float64)
            return torch.cat([x, noise], dim=1) @ self.rotation.T
        half = self.in_dim // 2
        for i, layer in enumerate(self.layers):  # affine coupling: transform one half given the other
            x = x.flip(1) if i % 2 else x
            log_scale, shift = self._shift_scale(layer, x[:, :half])
            x = torch.cat([x[:, :half], x[:, half:] * log_scale.exp() + shift], dim=1)
            x = x.flip(1) if i % 2 else x
        return x

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(x, log |det d x / d z| plus the log density of the padding noise), per sample."""
        z = z.to(torch.float64)
        zero = z.new_zeros(len(z))
        if self.name == "rotation":
            return z @ self.rotation, zero
        if self.name == "half_cube":  # x = sign(z) |z|^(2/3)
            return z.sign() * z.abs().pow(2 / 3), (math.log(2 / 3) - z.abs().log() / 3).sum(1)
        if self.name == "asinh":
            return torch.sinh(z), torch.cosh(z).log().sum(1)
        if self.name == "cube":
            return z.sign() * z.abs().pow(1 / 3), (-math.log(3) - 2 * z.abs().log() / 3).sum(1)
        if self.name == "pad_rotate":
            full = z @ self.rotation
            noise = full[:, self.in_dim :]
            log_noise = -0.5 * noise.square().sum(1) - 0.5 * noise.shape[1] * math.log(2 * math.pi)
            return full[:, : self.in_dim], log_noise
        half = self.in_dim // 2
        log_det = zero
        for i, layer in reversed(list(enumerate(self.layers))):
            z = z.flip(1) if i % 2 else z
            log_scale, shift = self._shift_scale(layer, z[:, :half])
            z = torch.cat([z[:, :half], (z[:, half:] - shift) * (-log_scale).exp()], dim=1)
            log_det = log_det - log_scale.sum(1)
            z = z.flip(1) if i % 2 else z
        return z, log_det
