"""Seeded, stratified splits of a label vector."""

from __future__ import annotations

import torch
from torch import Tensor


def stratified_split(labels: Tensor, fraction: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(rest, held-out) sorted positions: ``round(fraction * n_c)`` of each class ``c`` held out."""
    held, rest = [], []
    for c in labels.unique().tolist():
        positions = torch.nonzero(labels == c).flatten()
        positions = positions[torch.randperm(len(positions), generator=generator)]
        n_held = int(round(fraction * len(positions)))
        held.append(positions[:n_held])
        rest.append(positions[n_held:])
    return torch.cat(rest).sort().values, torch.cat(held).sort().values
