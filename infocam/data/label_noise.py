"""Images with an exact I(X;Y): bars whose orientation is the class, labels flipped at rate eps.

The clean class is a deterministic function of the image: the bar's pixels are the only ones
above the background's ceiling, and a horizontal, vertical, diagonal or anti-diagonal run of
at least two pixels can be told apart by the pixels alone (``decode_bar_class`` does it, and
the tests check it on every image). A flip to one of the other M - 1 classes, uniformly, with
probability eps and independently of the image, then makes

    I(X; Y_noisy) = I(Y; Y_noisy) = H(Y_noisy) - h(eps) - eps log(M - 1)

exactly, for any class prior (h: binary entropy; H(Y_noisy) of the noisy prior).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.errors import ConfigError

#: class index -> (row step, column step) of the bar
ORIENTATIONS = ((0, 1), (1, 0), (1, 1), (-1, 1))
#: background pixels lie in [0, BACKGROUND_MAX); bar pixels in [BAR_MIN, 1]
BACKGROUND_MAX, BAR_MIN = 0.3, 0.5


def noisy_prior(prior: Tensor, eps: float) -> Tensor:
    """P(Y_noisy = j) = (1 - eps) P(j) + eps (1 - P(j)) / (M - 1)."""
    m = len(prior)
    return (1 - eps) * prior + eps * (1 - prior) / (m - 1)


def label_noise_mutual_information(prior: Sequence[float] | Tensor, eps: float) -> float:
    """H(Y_noisy) - h(eps) - eps log(M - 1), in nats: the task's exact I(X; Y_noisy)."""
    prior = torch.as_tensor(prior, dtype=torch.float64)
    prior = prior / prior.sum()
    m = len(prior)
    q = noisy_prior(prior, eps)
    entropy = -(q * q.clamp_min(1e-300).log()).sum().item()
    binary = 0.0 if eps in (0.0, 1.0) else -(eps * math.log(eps) + (1 - eps) * math.log(1 - eps))
    return entropy - binary - eps * math.log(m - 1)


def draw_bars(labels: Tensor, image_size: int, generator: torch.Generator, min_length: int = 4) -> Tensor:
    """One bar per image, ``[n, 1, S, S]``: random length, position and brightness on a
    random dim background (the nuisance a classifier has to ignore)."""
    n, s = len(labels), image_size
    images = torch.rand(n, 1, s, s, generator=generator) * BACKGROUND_MAX
    lengths = torch.randint(min_length, s // 2 + 1, (n,), generator=generator)
    brightness = BAR_MIN + (1 - BAR_MIN) * torch.rand(n, generator=generator)
    start = torch.rand(n, 2, generator=generator)
    steps = torch.tensor(ORIENTATIONS)[labels]  # [n, 2]
    for i in range(n):  # bars are short; a loop over samples keeps the geometry readable
        length, (dr, dc) = int(lengths[i]), steps[i].tolist()
        r_lo, r_hi = (0, s - 1 - dr * (length - 1)) if dr >= 0 else (length - 1, s - 1)
        c_hi = s - 1 - (length - 1)
        r0 = r_lo + int(start[i, 0] * (r_hi - r_lo + 1))
        c0 = int(start[i, 1] * (c_hi + 1))
        k = torch.arange(length)
        images[i, 0, r0 + dr * k, c0 + dc * k] = brightness[i]
    return images


def decode_bar_class(image: Tensor) -> int:
    """The clean class of one ``[1, S, S]`` image from its pixels alone (-1 if no bar)."""
    rows, cols = torch.nonzero(image[0] >= BAR_MIN, as_tuple=True)
    if len(rows) < 2:
        return -1
    dr, dc = rows.max() - rows.min(), cols.max() - cols.min()
    if dr == 0:
        return 0
    if dc == 0:
        return 1
    top_col = cols[rows == rows.min()].min()
    return 2 if top_col == cols.min() else 3


def flip_labels(labels: Tensor, num_classes: int, eps: float, generator: torch.Generator) -> Tensor:
    """With probability eps, replace each label by one of the other M - 1, uniformly."""
    flip = torch.rand(len(labels), generator=generator) < eps
    offset = torch.randint(1, num_classes, (len(labels),), generator=generator)
    return torch.where(flip, (labels + offset) % num_classes, labels)


class LabelNoiseBarsDataModule(SplitDataModule):
    """Bar images ``[n, 1, S, S]`` with noisy labels; train/val/test from one seeded draw.

    ``n`` counts every split; ``test_fraction`` of it is the held-out estimation split.
    ``dim`` must equal ``image_size ** 2`` (the flattened input size task=mi passes to models).
    """

    def __init__(
        self,
        num_classes: int = 4,
        eps: float = 0.1,
        image_size: int = 16,
        dim: int | None = None,
        n: int = 6000,
        prior: Sequence[float] | None = None,
        seed: int = 0,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 128,
        eval_batch_size: int = 1024,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or num_classes not in range(2, len(ORIENTATIONS) + 1):
            raise ConfigError(f"data.num_classes must be 2..{len(ORIENTATIONS)} (bar orientations), got {num_classes!r}")
        if not 0 <= eps < 1:
            raise ConfigError(f"data.eps must be in [0, 1), got {eps}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
            raise ConfigError(f"data.image_size must be an integer >= 8, got {image_size!r}")
        if dim is not None and dim != image_size**2:
            raise ConfigError(f"data.dim must be image_size^2 = {image_size ** 2} (or null), got {dim}")
        if prior is not None and (len(prior) != num_classes or any(float(p) <= 0 for p in prior)):
            raise ConfigError(f"data.prior must hold {num_classes} positive weights, got {list(prior)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 10 * num_classes:
            raise ConfigError(f"data.n must be an integer of at least {10 * num_classes}, got {n!r}")
        if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
            raise ConfigError("data.val_fraction and data.test_fraction must be in (0, 1) and sum below 1")
        self.save_hyperparameters()
        weights = torch.tensor([float(p) for p in prior] if prior is not None else [1.0] * num_classes,
                               dtype=torch.float64)
        self.prior = weights / weights.sum()
        self.splits: dict[str, TensorBatchDataset] = {}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.hparams.image_size, self.hparams.image_size)

    def draw(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """(images, clean labels, noisy labels) of n fresh samples."""
        clean = torch.multinomial(self.prior, n, replacement=True, generator=generator)
        images = draw_bars(clean, self.hparams.image_size, generator)
        return images, clean, flip_labels(clean, self.hparams.num_classes, self.hparams.eps, generator)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        n = self.hparams.n
        images, _, noisy = self.draw(n, torch.Generator().manual_seed(self.hparams.seed))
        n_test = int(round(n * self.hparams.test_fraction))
        n_val = int(round(n * self.hparams.val_fraction))
        bounds = {"test": (0, n_test), "val": (n_test, n_test + n_val), "train": (n_test + n_val, n)}
        self.splits = {k: TensorBatchDataset(images[a:b], noisy[a:b]) for k, (a, b) in bounds.items()}

    def true_mutual_information(self) -> tuple[float, float]:
        """The exact I(X; Y_noisy) (standard error 0: no Monte Carlo)."""
        return label_noise_mutual_information(self.prior, self.hparams.eps), 0.0
