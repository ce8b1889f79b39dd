"""The five-component Gaussian mixture of the paper's Table 1, with its exact MI."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.errors import ConfigError
from infocam.metrics.monte_carlo import monte_carlo_mutual_information

#: Table 1: component means (broadcast to every dimension) and per-class sample counts.
GMM_MEANS = (0.0, 2.0, -2.0, 4.0, -4.0)
GMM_COUNTS = {
    "balanced": (12_000, 12_000, 12_000, 12_000, 12_000),
    "unbalanced": (6_000, 12_000, 18_000, 24_000, 30_000),
}


class GaussianMixture:
    """Isotropic unit-covariance Gaussians N(mu_y * 1, I) with class prior P(y)."""

    def __init__(self, means: Sequence[float], prior: Sequence[float], dim: int) -> None:
        self.means = torch.tensor(means, dtype=torch.float64)
        self.prior = torch.tensor(prior, dtype=torch.float64) / sum(prior)
        self.dim = dim

    def sample_class(self, label: int, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.dim, generator=generator, dtype=torch.float64) + self.means[label]

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        labels = torch.multinomial(self.prior, n, replacement=True, generator=generator)
        x = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return x + self.means[labels][:, None], labels

    def log_likelihoods(self, x: Tensor) -> Tensor:
        """log N(x | mu_y, I) for every class y: shape ``[n, M]``."""
        sq = (x[:, None, :] - self.means[None, :, None]).square().sum(-1)
        return -0.5 * sq - 0.5 * self.dim * math.log(2 * math.pi)

    def mutual_information(self, num_samples: int, seed: int) -> tuple[float, float]:
        return monte_carlo_mutual_information(
            self.sample, self.log_likelihoods, self.prior.log(), num_samples, seed
        )


class GaussianMixtureDataModule(SplitDataModule):
    """Train/val/test draws from the Table 1 mixture; test is the held-out estimation split.

    The split is stratified, so every split keeps the class proportions of ``balance``.
    All draws come from a generator seeded by ``seed`` (data identity), independent of the
    training seed.
    """

    num_classes = len(GMM_MEANS)

    def __init__(
        self,
        dim: int = 2,
        balance: str = "balanced",
        seed: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 256,
        eval_batch_size: int = 4096,
        num_workers: int = 0,
        mc_samples: int = 1_000_000,
        size_scale: float = 1.0,
        num_classes: int = len(GMM_MEANS),
    ) -> None:
        super().__init__()
        if num_classes != len(GMM_MEANS):
            raise ConfigError(f"data.num_classes is fixed at {len(GMM_MEANS)} for the Gaussian mixture")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"data.dim must be a positive integer (paper: 1, 2, 5, 10), got {dim!r}")
        if balance not in GMM_COUNTS:
            raise ConfigError(f"data.balance must be one of {sorted(GMM_COUNTS)}, got {balance!r}")
        if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ConfigError("data.val_fraction and data.test_fraction must be in (0, 1) and sum below 1")
        if not 0 < size_scale <= 1:
            raise ConfigError(f"data.size_scale must be in (0, 1], got {size_scale}")
        self.save_hyperparameters()
        counts = [max(int(round(c * size_scale)), 3) for c in GMM_COUNTS[balance]]
        self.class_sizes = counts
        self.mixture = GaussianMixture(GMM_MEANS, counts, dim)
        self.splits: dict[str, TensorBatchDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        generator = torch.Generator().manual_seed(self.hparams.seed)
        parts: dict[str, list[tuple[Tensor, Tensor]]] = {"train": [], "val": [], "test": []}
        for label, n in enumerate(self.class_sizes):
            x = self.mixture.sample_class(label, n, generator).float()
            y = torch.full((n,), label, dtype=torch.long)
            n_val = max(int(round(n * self.hparams.val_fraction)), 1)
            n_test = max(int(round(n * self.hparams.test_fraction)), 1)
            parts["test"].append((x[:n_test], y[:n_test]))
            parts["val"].append((x[n_test : n_test + n_val], y[n_test : n_test + n_val]))
            parts["train"].append((x[n_test + n_val :], y[n_test + n_val :]))
        for split, chunks in parts.items():
            x = torch.cat([c[0] for c in chunks])
            y = torch.cat([c[1] for c in chunks])
            order = torch.randperm(len(y), generator=generator)
            self.splits[split] = TensorBatchDataset(x[order], y[order])

    def true_mutual_information(self) -> tuple[float, float]:
        """Monte-Carlo I(X;Y) of the generating mixture and its standard error (nats)."""
        return self.mixture.mutual_information(self.hparams.mc_samples, seed=self.hparams.seed + 1)
