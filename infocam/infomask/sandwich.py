"""The stochastic-output sandwich of paper 2 (Eq. 23-27): a network whose outputs are random
draws has ``dv_lower_bound <= log_softmax_mean < 0``; logged by ``task=classify`` with
``mc_samples=K`` (the dropout CNN)."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


class StochasticSoftmaxBounds(Metric):
    """Paper 2, Eq. 25-27: log-softmax of a network with random outputs and its DV lower bound.

    ``update(logits [K, B, M], target [B])`` takes K draws z^(1..K) of the outputs per input.
    Per input x with label y, over the draws (E_z: mean over k; E_y: uniform over the M
    classes, Eq. 20):

    - ``log_softmax_mean``: E_z[log softmax(z)_y];
    - ``dv_lower_bound``: E_z[z_y] - log E_z E_y[exp z] - log M, the DV estimate of Eq. 13
      minus log M (Eq. 25).

    Both are averaged over all inputs. Jensen's inequality gives ``dv_lower_bound <=
    log_softmax_mean`` for every input, with equality when K = 1 or the draws agree
    (Eq. 23); ``log_softmax_mean < 0 <= I(Z; Y | X)`` is the upper side (Eq. 26). The paper
    cites this step as its Eq. 24, which is printed with the inequality reversed: log is
    concave, so E_z[log E_y exp T] <= log E_z E_y exp T, and it is this direction that makes
    Eq. 25's right-hand side a lower bound (tests/test_sandwich.py checks the ordering).
    States are float64 sums, so DDP equals one process.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        zero = lambda: torch.tensor(0.0, dtype=torch.float64)  # noqa: E731
        self.add_state("sum_log_softmax", default=zero(), dist_reduce_fx="sum")
        self.add_state("sum_dv", default=zero(), dist_reduce_fx="sum")
        self.add_state("count", default=zero(), dist_reduce_fx="sum")

    def update(self, logits: Tensor, target: Tensor) -> None:
        if logits.ndim != 3:
            raise ValueError(f"expected draws of logits [K, B, M], got {tuple(logits.shape)}")
        logits = logits.detach().to(torch.float64)
        draws, _, num_classes = logits.shape
        index = target.long()[None, :, None].expand(draws, -1, 1)
        joint = logits.gather(2, index).squeeze(2)  # [K, B]: z_y of each draw
        log_partition = torch.logsumexp(logits, dim=2)  # [K, B]: log sum_m exp z_m
        self.sum_log_softmax += (joint - log_partition).mean(0).sum()
        # log E_z E_y exp z = logsumexp over (k, m) - log K - log M
        log_mean_exp = torch.logsumexp(log_partition, dim=0) - math.log(draws) - math.log(num_classes)
        self.sum_dv += (joint.mean(0) - log_mean_exp - math.log(num_classes)).sum()
        self.count += joint.shape[1]

    def compute(self) -> dict[str, Tensor]:
        return {"log_softmax_mean": self.sum_log_softmax / self.count, "dv_lower_bound": self.sum_dv / self.count}
