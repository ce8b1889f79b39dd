"""Monte-Carlo ground truth for I(X;Y) when the class-conditional densities are known (Eq. 11)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor


def monte_carlo_mutual_information(
    sample: Callable[[int, torch.Generator], tuple[Tensor, Tensor]],
    log_likelihoods: Callable[[Tensor], Tensor],
    log_prior: Tensor,
    num_samples: int,
    seed: int,
    chunk: int = 100_000,
) -> tuple[float, float]:
    """(1/N) sum_i log p(x_i|y_i) / p(x_i) over fresh draws, and its standard error.

    ``sample(n, gen)`` draws ``(x, y)`` from the joint; ``log_likelihoods(x)`` gives
    log p(x|y') for every class, shape ``[n, M]``. Draws come in chunks so N = 10^6 fits
    in memory for any dimension.
    """
    generator = torch.Generator().manual_seed(seed)
    total = total_sq = 0.0
    done = 0
    while done < num_samples:
        n = min(chunk, num_samples - done)
        x, y = sample(n, generator)
        log_px_given_all = log_likelihoods(x).to(torch.float64)
        log_px = torch.logsumexp(log_px_given_all + log_prior.to(torch.float64), dim=1)
        pmi = log_px_given_all.gather(1, y[:, None]).squeeze(1) - log_px
        total += pmi.sum().item()
        total_sq += pmi.square().sum().item()
        done += n
    mean = total / num_samples
    variance = max(total_sq / num_samples - mean * mean, 0.0) * num_samples / max(num_samples - 1, 1)
    return mean, math.sqrt(variance / num_samples)
