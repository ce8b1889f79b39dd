"""Softmax cross-entropy and its prior-corrected relatives (paper Eq. 7 and Eq. 10)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from infocam.losses.base import ClassificationLoss
from infocam.registry import LOSSES


@LOSSES.register("softmax", aliases=("softmax_ce", "cross_entropy"))
class SoftmaxCrossEntropy(ClassificationLoss):
    """Plain cross-entropy. By Theorem 1, log M - CE estimates I(X;Y) on balanced labels."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target)

    def mi_log_weights(self) -> Tensor:
        # The uniform 1/M of Theorem 1, whatever the data's real priors are: on unbalanced
        # data this is exactly what makes the softmax estimate biased by log M - H(Y).
        return torch.full_like(self.log_prior, -math.log(self.num_classes))


@LOSSES.register("pc_softmax")
class PCSoftmaxCrossEntropy(ClassificationLoss):
    """Cross-entropy of the probability-corrected softmax, Eq. 10.

    -log[exp(f_y) / sum_y' P(y') exp(f_y')] = logsumexp(f + log P) - f_y, computed in log
    space so large logits never overflow and no probability is ever divided by.

    This is also InfoNCE with the whole label set as negatives, each weighted by P(y'): the
    partition (1/K) sum_j exp f_{y_j}(x) over K negative labels drawn from P(y) becomes
    sum_y' P(y') exp f_y'(x) exactly when the negatives are the label set so weighted (for
    empirical priors: all N training labels). So the PC-softmax estimate is InfoNCE without
    the log K cap of in-batch negatives (tests/test_mi_bounds.py checks the identity).
    """

    needs_priors = True

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_partition = torch.logsumexp(logits + self.log_prior.to(logits.dtype), dim=1)
        return (log_partition - logits.gather(1, target[:, None]).squeeze(1)).mean()


@LOSSES.register("logit_adjusted")
class LogitAdjustedCrossEntropy(ClassificationLoss):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021): CE(f + tau * log P, y).

    With tau=1 its gradients equal PC-softmax's (the two differ by the constant log P(y)).
    The MI read-off is the Eq. 5 bound with the real priors, valid for any tau, tight at 1.
    """

    needs_priors = True

    def __init__(self, num_classes: int, tau: float = 1.0) -> None:
        super().__init__(num_classes)
        self.tau = float(tau)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits + self.tau * self.log_prior.to(logits.dtype), target)
