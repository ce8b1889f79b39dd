"""Variational MI bounds as training objectives on a label-indexed critic T(x, y) = f_y(x).

The bounds of Poole et al. (ICML 2019) and Song & Ermon (ICLR 2020) for a discrete Y: the
expectation over the product of marginals is taken exactly, ``E_x sum_y' P(y') g(f_y'(x))``
with the training priors, so (unlike MINE's shuffled pairs) no negative pairs are sampled.
Each loss names the read-out :class:`infocam.metrics.VariationalMIBound` applies on held-out data.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from infocam.errors import ConfigError
from infocam.losses.base import ClassificationLoss
from infocam.metrics.mutual_information import infonce_batch_terms, pointwise_bound_terms
from infocam.registry import LOSSES


@LOSSES.register("nwj")
class NWJLoss(ClassificationLoss):
    """Negative NWJ bound E_P[f] + 1 - E_Q[e^f]: unbiased per batch (no log of a mean), but
    its variance grows like e^I; optimal at f = log p(x, y) / (p(x) p(y))."""

    mi_bound = "nwj"
    needs_priors = True

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        terms, _ = pointwise_bound_terms("nwj", logits, target, self.log_prior)
        return -terms.mean()


@LOSSES.register("infonce_batch")
class InfoNCEBatchLoss(ClassificationLoss):
    """InfoNCE (van den Oord et al.) with the other samples of a block of K = ``negatives`` as
    negatives (K is the training batch size by default). Low variance, but capped at log K:
    with K = 256 no estimate exceeds 5.55 nats, and it is biased low well before that."""

    mi_bound = "infonce_batch"

    def __init__(self, num_classes: int, negatives: int = 256) -> None:
        super().__init__(num_classes)
        if isinstance(negatives, bool) or int(negatives) < 2:
            raise ConfigError(f"loss.negatives must be an integer >= 2 (K of InfoNCE), got {negatives!r}")
        self.negatives = int(negatives)

    def mi_bound_options(self) -> dict[str, Any]:
        return {"negatives": self.negatives}

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return -infonce_batch_terms(logits, target, self.negatives).mean()


def jensen_shannon_objective(logits: Tensor, target: Tensor, log_prior: Tensor) -> Tensor:
    """f-GAN Jensen-Shannon objective E_P[-softplus(-f)] - E_Q[softplus(f)], Q exact over the
    labels; its maximiser is f = log density ratio, the same critic the read-outs need."""
    joint = -F.softplus(-logits.gather(1, target[:, None]).squeeze(1))
    marginal = (F.softplus(logits) * log_prior.to(logits).exp()).sum(dim=1)
    return joint.mean() - marginal.mean()


@LOSSES.register("js")
class JensenShannonLoss(ClassificationLoss):
    """Critic trained on the JS objective (stable: bounded gradients), MI read out with NWJ
    (Poole et al. 2019, 'JS'). JS itself is no MI bound; only the read-out is."""

    mi_bound = "nwj"
    needs_priors = True

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return -jensen_shannon_objective(logits, target, self.log_prior)


@LOSSES.register("smile")
class SMILELoss(JensenShannonLoss):
    """SMILE (Song & Ermon 2020): JS-trained critic, Donsker-Varadhan read-out with the critic
    clipped to [-tau, tau] in the partition term, trading a bias for a variance bounded by tau."""

    mi_bound = "smile"

    def __init__(self, num_classes: int, tau: float = 5.0) -> None:
        super().__init__(num_classes)
        if not float(tau) > 0:
            raise ConfigError(f"loss.tau must be > 0 (SMILE's clipping), got {tau!r}")
        self.tau = float(tau)

    def mi_bound_options(self) -> dict[str, Any]:
        return {"tau": self.tau}
