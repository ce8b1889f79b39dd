"""MINE (Belghazi et al., 2018) as a loss on a label-indexed statistics network.

The statistics network is T(x, y) = n(x)_y: for a discrete Y this is as expressive as
feeding (x, one-hot y) to a network, and it lets MINE share the classifier architectures.
"""

from __future__ import annotations

import torch
from torch import Tensor

from infocam.errors import ConfigError
from infocam.losses.base import ClassificationLoss
from infocam.registry import LOSSES


@LOSSES.register("mine")
class MINELoss(ClassificationLoss):
    """Negative Donsker-Varadhan bound with MINE's moving-average gradient correction.

    Samples of P(x)P(y) pair each x with the label of another sample in the batch. The
    gradient of log E[e^T] is E[grad(T) e^T] / E[e^T]; the minibatch denominator biases it,
    so MINE divides by an exponential moving average of E[e^T] instead.
    """

    mi_bound = "donsker_varadhan"

    def __init__(self, num_classes: int, ema_decay: float = 0.99) -> None:
        super().__init__(num_classes)
        if not 0.0 <= ema_decay < 1.0:
            raise ConfigError(f"loss.ema_decay must be in [0, 1), got {ema_decay}")
        self.ema_decay = float(ema_decay)
        self.register_buffer("ema_partition", torch.tensor(float("nan")))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        joint = logits.gather(1, target[:, None]).squeeze(1).mean()
        shuffled = target[torch.randperm(target.numel(), device=target.device)]
        partition = logits.gather(1, shuffled[:, None]).squeeze(1).exp().mean()
        if self.training:
            batch_value = partition.detach().to(self.ema_partition.dtype)
            if torch.isnan(self.ema_partition):
                self.ema_partition.copy_(batch_value)
            else:
                self.ema_partition.mul_(self.ema_decay).add_((1 - self.ema_decay) * batch_value)
            # value of the surrogate is not the bound; its gradient is MINE's corrected one
            return -(joint - partition / self.ema_partition.to(partition.dtype))
        return -(joint - partition.log())
