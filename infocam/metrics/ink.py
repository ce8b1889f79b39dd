"""How much of each digit's ink a mask lets through, summed exactly over a (distributed) split."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class InkSurvival(Metric):
    """Fraction of the target digit's and of the other digit's ink that survives a mask.

    ``update(mask [B, H, W], ink [B, 2, H, W])``: ``mask`` is boolean or a keep probability in
    [0, 1] (the expected random mask); ``ink[:, 0]`` is the target digit's intensity and
    ``ink[:, 1]`` the other digit's. The value is sum(kept ink) / sum(ink) over all images
    (pixel-intensity weighted). States are float64 sums, so DDP equals one process.
    """

    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("kept", default=torch.zeros(2, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, mask: Tensor, ink: Tensor) -> None:
        ink = ink.detach().to(torch.float64)
        self.kept += (ink * mask.detach().to(torch.float64)[:, None]).sum(dim=(0, 2, 3))
        self.total += ink.sum(dim=(0, 2, 3))

    def compute(self) -> dict[str, Tensor]:
        fraction = self.kept / self.total  # nan when a split has no ink of that owner
        return {"target_ink": fraction[0], "other_ink": fraction[1]}
