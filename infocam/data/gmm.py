"""Class-conditional mixtures with known I(X;Y): the paper's Table 1 Gaussians, any M and prior,
Student-t components, and invertible transforms of X that keep the base truth."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.data.mi_transforms import InvertibleMap
from infocam.errors import ConfigError
from infocam.metrics.monte_carlo import monte_carlo_mutual_information

#: Table 1: component means (broadcast to every dimension) and per-class sample counts.
GMM_MEANS = (0.0, 2.0, -2.0, 4.0, -4.0)
GMM_COUNTS = {
    "balanced": (12_000, 12_000, 12_000, 12_000, 12_000),
    "unbalanced": (6_000, 12_000, 18_000, 24_000, 30_000),
}
FAMILIES = ("gaussian", "student_t")


def diagonal_means(num_classes: int, spacing: float = 2.0) -> tuple[float, ...]:
    """Table 1's layout for any M: 0, +s, -s, +2s, -2s, ... along the diagonal (M = 5: Table 1)."""
    return tuple(spacing * ((j + 1) // 2) * (1 if j % 2 else -1) if j else 0.0 for j in range(num_classes))


def default_counts(num_classes: int, balance: str) -> tuple[int, ...]:
    """Table 1's counts for any M: 12,000 per class, or 6,000 x (1, 2, ..., M) when unbalanced."""
    return tuple(12_000 if balance == "balanced" else 6_000 * (j + 1) for j in range(num_classes))


class GaussianMixture:
    """Isotropic unit-covariance Gaussians N(mu_y * 1, I) with class prior P(y)."""

    def __init__(self, means: Sequence[float], prior: Sequence[float], dim: int) -> None:
        self.means = torch.tensor(means, dtype=torch.float64)
        self.prior = torch.tensor(prior, dtype=torch.float64) / sum(prior)
        self.dim = dim

    def noise(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.dim, generator=generator, dtype=torch.float64)

    def log_density(self, offset: Tensor) -> Tensor:
        """log density of the centred component at ``offset`` (last axis = dimensions)."""
        return -0.5 * offset.square().sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def sample_class(self, label: int, n: int, generator: torch.Generator) -> Tensor:
        return self.noise(n, generator) + self.means[label]

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        labels = torch.multinomial(self.prior, n, replacement=True, generator=generator)
        return self.noise(n, generator) + self.means[labels][:, None], labels

    def log_likelihoods(self, x: Tensor) -> Tensor:
        """log p(x | y) for every class y: shape ``[n, M]``."""
        return self.log_density(x[:, None, :] - self.means[None, :, None])

    def mutual_information(self, num_samples: int, seed: int) -> tuple[float, float]:
        return monte_carlo_mutual_information(
            self.sample, self.log_likelihoods, self.prior.log(), num_samples, seed
        )


class StudentTMixture(GaussianMixture):
    """Multivariate Student-t components t_df(mu_y * 1, I): heavy tails, same layout.

    Draws are z / sqrt(v / df) with v ~ chi^2_df as a sum of df squared normals, so every
    draw comes from the seeded generator (torch's Gamma sampler takes none); df is an integer.
    """

    def __init__(self, means: Sequence[float], prior: Sequence[float], dim: int, df: int = 3) -> None:
        super().__init__(means, prior, dim)
        if isinstance(df, bool) or not isinstance(df, int) or df < 1:
            raise ConfigError(f"data.df must be a positive integer (Student-t degrees of freedom), got {df!r}")
        self.df = df

    def noise(self, n: int, generator: torch.Generator) -> Tensor:
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        chi2 = torch.randn(n, self.df, generator=generator, dtype=torch.float64).square().sum(1, keepdim=True)
        return z / (chi2 / self.df).sqrt()

    def log_density(self, offset: Tensor) -> Tensor:
        d, nu = self.dim, self.df
        const = math.lgamma((nu + d) / 2) - math.lgamma(nu / 2) - 0.5 * d * math.log(nu * math.pi)
        return const - 0.5 * (nu + d) * torch.log1p(offset.square().sum(-1) / nu)


class TransformedMixture:
    """A mixture seen through an invertible map: same I(X;Y), densities by change of variables."""

    def __init__(self, base: GaussianMixture, transform: InvertibleMap) -> None:
        self.base, self.transform = base, transform
        self.prior, self.dim = base.prior, transform.out_dim

    def sample_class(self, label: int, n: int, generator: torch.Generator) -> Tensor:
        return self.transform.forward(self.base.sample_class(label, n, generator), generator)

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x, y = self.base.sample(n, generator)
        return self.transform.forward(x, generator), y

    def log_likelihoods(self, z: Tensor) -> Tensor:
        x, log_det = self.transform.inverse(z)
        return self.base.log_likelihoods(x) + log_det[:, None]

    def mutual_information(self, num_samples: int, seed: int) -> tuple[float, float]:
        """The base task's MC truth: the map leaves I(X;Y) unchanged exactly."""
        return self.base.mutual_information(num_samples, seed)


class GaussianMixtureDataModule(SplitDataModule):
    """Train/val/test draws from a class-conditional mixture; test is the held-out estimation split.

    Defaults are the paper's Table 1. ``num_classes``/``prior``/``n`` give any M, prior and
    total sample size (train + val + test); ``family=student_t`` heavy tails; ``transform``
    an invertible map of X (``pad_rotate`` puts the ``signal_dim``-dimensional mixture into
    ``dim`` dimensions with independent noise). The split is stratified. All draws come from
    a generator seeded by ``seed`` (data identity), independent of the training seed.
    """

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
        prior: Sequence[float] | None = None,
        n: int | None = None,
        family: str = "gaussian",
        df: int = 3,
        transform: str | None = None,
        signal_dim: int | None = None,
        transform_seed: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"data.dim must be a positive integer (paper: 1, 2, 5, 10), got {dim!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(f"data.num_classes must be an integer >= 2, got {num_classes!r}")
        if balance not in GMM_COUNTS:
            raise ConfigError(f"data.balance must be one of {sorted(GMM_COUNTS)}, got {balance!r}")
        if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ConfigError("data.val_fraction and data.test_fraction must be in (0, 1) and sum below 1")
        if not 0 < size_scale <= 1:
            raise ConfigError(f"data.size_scale must be in (0, 1], got {size_scale}")
        if family not in FAMILIES:
            raise ConfigError(f"data.family must be one of {', '.join(FAMILIES)}, got {family!r}")
        if prior is not None and (len(prior) != num_classes or any(float(p) <= 0 for p in prior)):
            raise ConfigError(f"data.prior must hold {num_classes} positive weights, got {list(prior)}")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 3 * num_classes):
            raise ConfigError(f"data.n must be an integer of at least 3 per class ({3 * num_classes}), got {n!r}")
        if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 2:
            raise ConfigError(f"data.mc_samples must be an integer >= 2 (Monte-Carlo draws for the truth), got {mc_samples!r}")
        self.save_hyperparameters()
        weights = [float(p) for p in prior] if prior is not None else default_counts(num_classes, balance)
        total = n if n is not None else sum(default_counts(num_classes, balance)) if prior is None else 12_000 * num_classes
        counts = [max(int(round(total * w / sum(weights) * size_scale)), 3) for w in weights]
        self.class_sizes = counts
        signal = dim if signal_dim is None else int(signal_dim)
        means = diagonal_means(num_classes)
        base = (GaussianMixture(means, counts, signal) if family == "gaussian"
                else StudentTMixture(means, counts, signal, df))
        if transform is None and signal != dim:
            raise ConfigError("data.signal_dim differs from data.dim only with data.transform=pad_rotate")
        self.mixture = base if transform is None else TransformedMixture(
            base, InvertibleMap(transform, signal, dim, seed=transform_seed))
        self.splits: dict[str, TensorBatchDataset] = {}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.hparams.dim,)

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
