"""Reading I(X;Y) off a classifier's logits, exactly over a whole (distributed) split.

Every bound treats the logit ``f_y(x)`` as a critic for the log density ratio
``log p(x, y) / (p(x) p(y))`` and takes the expectation over the product of marginals exactly:
for a discrete Y it is ``E_x sum_y' P(y') g(f_y'(x))``, so no shuffled pairs are needed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric

from infocam.errors import ConfigError

#: the read-outs this metric knows (see :class:`VariationalMIBound`)
BOUND_KINDS = ("conditional", "donsker_varadhan", "nwj", "smile", "infonce_batch")


def pointwise_bound_terms(kind: str, logits: Tensor, target: Tensor, log_weights: Tensor,
                          tau: float = 5.0, negatives: int = 256) -> tuple[Tensor, Tensor | None]:
    """Per-sample terms ``(a_i, b_i)`` of a bound: the estimate is ``mean(a)`` when ``b`` is None,
    else ``mean(a) - log mean(b)`` (the Donsker-Varadhan form)."""
    joint = logits.gather(1, target[:, None].long()).squeeze(1)
    weighted = logits + log_weights.to(logits)
    if kind == "conditional":
        return joint - torch.logsumexp(weighted, dim=1), None
    if kind == "nwj":
        # NWJ with the critic f + 1: E_P[f + 1] - e^{-1} E_Q[e^{f + 1}] = E_P[f] + 1 - E_Q[e^f],
        # tight at f = log density ratio (the optimum of the JS objective as well)
        return joint + 1.0 - torch.logsumexp(weighted, dim=1).exp(), None
    if kind == "donsker_varadhan":
        return joint, torch.logsumexp(weighted, dim=1).exp()
    if kind == "smile":
        # Song & Ermon: the partition term sees the ratio clipped to [e^-tau, e^tau]
        clipped = logits.clamp(-tau, tau)
        return joint, torch.logsumexp(clipped + log_weights.to(logits), dim=1).exp()
    if kind == "infonce_batch":
        return infonce_batch_terms(logits, target, negatives), None
    raise ConfigError(f"unknown MI bound {kind!r}: use one of {', '.join(BOUND_KINDS)}")


def infonce_batch_terms(logits: Tensor, target: Tensor, negatives: int) -> Tensor:
    """InfoNCE with in-batch negatives: consecutive blocks of K = ``negatives`` samples, and
    ``f_{y_i}(x_i) - log (1/K) sum_j f_{y_j}(x_i)`` over the block (j = i included).

    Each term is at most log K (the positive is one of the K), so the estimate is capped at
    log K whatever the truth is; a last block shorter than K uses its own size.
    """
    terms = []
    for start in range(0, target.numel(), negatives):
        block_logits, block_target = logits[start : start + negatives], target[start : start + negatives].long()
        scores = block_logits[:, block_target]  # scores[i, j] = f_{y_j}(x_i)
        k = block_target.numel()
        terms.append(scores.diagonal() - torch.logsumexp(scores, dim=1) + math.log(k))
    return torch.cat(terms) if terms else logits.new_zeros(0)


class VariationalMIBound(Metric):
    """Mean of a variational MI lower bound over every sample seen (summed in float64).

    ``conditional``: mean_i [f_{y_i}(x_i) - log sum_y' q(y') exp f_y'(x_i)]. With
    q = 1/M this is Theorem 1's log M - CE; with q = P(y) it is the PC-softmax estimate
    (Eq. 5 / Eq. 10), which is also InfoNCE with the whole label set as negatives weighted by P(y').

    ``donsker_varadhan``: mean_i f_{y_i}(x_i) - log mean_i sum_y' P(y') exp f_y'(x_i), the
    bound MINE maximises. ``smile`` is the same with f clipped to [-tau, tau] in the partition.
    ``nwj``: mean_i [f_{y_i}(x_i) + 1 - sum_y' P(y') exp f_y'(x_i)] (Nguyen-Wainwright-Jordan).
    ``infonce_batch``: in-batch negatives in blocks of ``negatives`` samples, capped at log K.

    Returns the standard error too: of the mean for the averaged bounds, by the delta method
    for the two with a log-partition (DV, SMILE). States are sums and counts, so the value
    under DDP equals the one-process value (for ``infonce_batch``, blocks are formed per batch).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, kind: str = "conditional", tau: float = 5.0, negatives: int = 256, **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in BOUND_KINDS:
            raise ConfigError(f"unknown MI bound {kind!r}: use one of {', '.join(BOUND_KINDS)}")
        if tau <= 0:
            raise ConfigError(f"loss.tau must be > 0, got {tau}")
        if int(negatives) < 2:
            raise ConfigError(f"InfoNCE needs at least 2 samples per block, got negatives={negatives}")
        self.kind, self.tau, self.negatives = kind, float(tau), int(negatives)
        zero = lambda: torch.tensor(0.0, dtype=torch.float64)  # noqa: E731
        for name in ("sum_a", "sum_aa", "sum_b", "sum_bb", "sum_ab", "count"):
            self.add_state(name, default=zero(), dist_reduce_fx="sum")

    def update(self, logits: Tensor, target: Tensor, log_weights: Tensor) -> None:
        logits = logits.detach().to(torch.float64)
        a, b = pointwise_bound_terms(self.kind, logits, target, log_weights, self.tau, self.negatives)
        self.sum_a += a.sum()
        self.sum_aa += a.square().sum()
        if b is not None:
            self.sum_b += b.sum()
            self.sum_bb += b.square().sum()
            self.sum_ab += (a * b).sum()
        self.count += a.numel()

    def compute(self) -> dict[str, Tensor]:
        n = self.count
        correction = n / (n - 1).clamp_min(1)
        mean_a = self.sum_a / n
        var_a = (self.sum_aa / n - mean_a.square()).clamp_min(0) * correction
        if self.kind not in ("donsker_varadhan", "smile"):
            return {"estimate": mean_a, "se": (var_a / n).sqrt(), "count": n}
        mean_b = self.sum_b / n
        var_b = (self.sum_bb / n - mean_b.square()).clamp_min(0) * correction
        cov_ab = (self.sum_ab / n - mean_a * mean_b) * correction
        # delta method on mean(a) - log mean(b): influence a_i - b_i / mean(b)
        var = (var_a + var_b / mean_b.square() - 2 * cov_ab / mean_b).clamp_min(0)
        return {"estimate": mean_a - torch.log(mean_b), "se": (var / n).sqrt(), "count": n}

