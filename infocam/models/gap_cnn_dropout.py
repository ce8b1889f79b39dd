"""``gap_cnn`` with dropout before its linear head: a network whose outputs can be random
(paper 2, §3.2, ``task.mc_samples``) and that still gives CAM maps."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from infocam.errors import ConfigError
from infocam.models.gap_cnn import GapCNN
from infocam.registry import MODELS


class DropoutGapCNN(GapCNN):
    """GapCNN whose pooled features pass through ``nn.Dropout(dropout)`` before the classifier.

    Dropout acts on the pooled vector, so in eval mode the head is still GAP + linear and the
    weight-based CAM methods apply unchanged.
    """

    def __init__(
        self, num_classes: int, channels: Sequence[int] = (16, 32, 64), in_channels: int = 1, dropout: float = 0.5
    ) -> None:
        super().__init__(num_classes, channels, in_channels)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {dropout}")
        self.dropout = nn.Dropout(dropout)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        pooled = self.dropout(features.mean(dim=(2, 3)))
        return pooled if pre_logits else self.fc(pooled)


@MODELS.register("gap_cnn_dropout")
def gap_cnn_dropout(
    num_classes: int, channels: Sequence[int] = (16, 32, 64), in_channels: int = 1, dropout: float = 0.5
) -> DropoutGapCNN:
    return DropoutGapCNN(num_classes, channels, in_channels, dropout)
