"""Shared behaviour of the classification losses: class priors and the MI bound they imply."""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import torch
from torch import Tensor, nn

from infocam.errors import ConfigError, DataError

MIBoundKind = Literal["conditional", "donsker_varadhan", "nwj", "smile", "infonce_batch", "knn"]


class ClassificationLoss(nn.Module):
    """A loss on logits ``[B, M]`` that also says how to read I(X;Y) off the same logits.

    ``log_prior`` holds log P(y) from the training labels (uniform until
    :meth:`set_class_counts` is called). It is a buffer, so it travels with checkpoints and a
    model restored with ``load_from_checkpoint`` estimates MI with the priors it trained on.
    """

    #: how :class:`infocam.metrics.VariationalMIBound` turns logits into an MI estimate
    mi_bound: MIBoundKind = "conditional"
    #: whether training needs the class priors of the training labels
    needs_priors: bool = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.register_buffer("log_prior", torch.full((num_classes,), -math.log(num_classes)))

    def set_class_counts(self, counts: Sequence[int] | Tensor) -> None:
        """Set P(y) to the empirical label frequencies of the training set."""
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.shape != (self.num_classes,):
            raise DataError(
                f"expected {self.num_classes} class counts, got shape {tuple(counts.shape)}"
            )
        missing = torch.nonzero(counts <= 0).flatten().tolist()
        if missing and self.needs_priors:
            raise DataError(
                f"{type(self).__name__} needs every class in the training data, but classes "
                f"{missing} have no training samples (P(y)=0 makes log P(y) undefined)"
            )
        if missing:
            return  # uniform-weight losses don't use priors; keep the placeholder
        prior = counts / counts.sum()
        self.log_prior.copy_(prior.log().to(self.log_prior.dtype))

    def mi_bound_options(self) -> dict[str, Any]:
        """Settings of the read-out beyond its kind (SMILE's tau, InfoNCE's K)."""
        return {}

    def mi_log_weights(self) -> Tensor:
        """log q(y') inside the bound's partition term: log P(y') for an Eq. 5 bound."""
        return self.log_prior

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
