"""Reading I(X;Y) off a classifier's logits, exactly over a whole (distributed) split."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric

from infocam.errors import ConfigError


class VariationalMIBound(Metric):
    """Mean of a variational MI lower bound over every sample seen (summed in float64).

    ``conditional``: mean_i [f_{y_i}(x_i) - log sum_y' q(y') exp f_y'(x_i)]. With
    q = 1/M this is Theorem 1's log M - CE; with q = P(y) it is the PC-softmax estimate
    (Eq. 5 / Eq. 10). Also returns the standard error of that mean.

    ``donsker_varadhan``: mean_i f_{y_i}(x_i) - log mean_i sum_y' P(y') exp f_y'(x_i), the
    bound MINE maximises, with the product-of-marginals expectation over y' taken exactly.

    States are sums and counts, so the value under DDP equals the one-process value.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, kind: str = "conditional", **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in ("conditional", "donsker_varadhan"):
            raise ConfigError(f"unknown MI bound {kind!r}: use conditional or donsker_varadhan")
        self.kind = kind
        zero = lambda: torch.tensor(0.0, dtype=torch.float64)  # noqa: E731
        self.add_state("sum_joint", default=zero(), dist_reduce_fx="sum")
        self.add_state("sum_sq", default=zero(), dist_reduce_fx="sum")
        self.add_state("sum_partition", default=zero(), dist_reduce_fx="sum")
        self.add_state("count", default=zero(), dist_reduce_fx="sum")

    def update(self, logits: Tensor, target: Tensor, log_weights: Tensor) -> None:
        logits = logits.detach().to(torch.float64)
        log_partition = torch.logsumexp(logits + log_weights.to(logits), dim=1)
        joint = logits.gather(1, target[:, None].long()).squeeze(1)
        if self.kind == "conditional":
            pointwise = joint - log_partition
            self.sum_joint += pointwise.sum()
            self.sum_sq += pointwise.square().sum()
        else:
            self.sum_joint += joint.sum()
            self.sum_partition += log_partition.exp().sum()
        self.count += joint.numel()

    def compute(self) -> dict[str, Tensor]:
        n = self.count
        mean = self.sum_joint / n
        if self.kind == "conditional":
            variance = (self.sum_sq / n - mean.square()).clamp_min(0) * n / (n - 1).clamp_min(1)
            return {"estimate": mean, "se": (variance / n).sqrt(), "count": n}
        estimate = mean - torch.log(self.sum_partition / n)
        return {"estimate": estimate, "se": torch.tensor(math.nan, dtype=torch.float64), "count": n}
