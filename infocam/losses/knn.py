"""``loss=knn``: the training-free nearest-neighbour estimator, selectable beside the bounds."""

from __future__ import annotations

from torch import Tensor

from infocam.errors import ConfigError
from infocam.losses.base import ClassificationLoss
from infocam.registry import LOSSES


@LOSSES.register("knn")
class KNNEstimator(ClassificationLoss):
    """No objective: ``task=mi`` skips the fit loop for it and reads out with
    :func:`infocam.metrics.knn.knn_mutual_information` on the held-out test split, the split
    the trained estimators read out on, so the numbers compare."""

    mi_bound = "knn"
    #: the run builds no fit loop (see ``infocam.run``)
    needs_training = False

    def __init__(self, num_classes: int, k: int = 3) -> None:
        super().__init__(num_classes)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"loss.k must be a positive integer (neighbours), got {k!r}")
        self.k = k

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        raise ConfigError("loss=knn has no training objective; it runs without a fit loop (task=mi)")
