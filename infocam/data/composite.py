"""MNIST composites for info-masking (paper 2, §4): one or two digits side by side, labelled
by whether the target digit is among them, with per-pixel ink ownership.

Each image is two MNIST cells wide (``[H, 2W]``, 28x56 for MNIST). A slot (left or right half)
holds a digit or stays blank; images hold one or two digits, drawn from the split's own
digits. Half of the images contain the target digit (label 1) and half do not (label 0); a
positive image holds exactly one target digit, its partner (if any) is another digit.
The generator also returns the ink of each owner separately -- ``ink[:, 0]`` the target
digit's pixels, ``ink[:, 1]`` the other digit's -- so ``ink.sum(1)`` is the image itself and
mask scores can say whose ink survived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.data.mnist import MNIST_MEAN, MNIST_STD, load_mnist_split
from infocam.data.splits import stratified_split
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError

#: index of each owner in the ink tensor
TARGET_INK, OTHER_INK = 0, 1


@dataclass
class Composites:
    """``images [N, H, 2W]`` uint8, ``labels [N]`` int64 (1: holds the target digit),
    ``ink [N, 2, H, 2W]`` uint8 (target digit's pixels, other digit's pixels) and
    ``digits [N, 2]`` int64 (the digit in the left/right slot, -1 when blank)."""

    images: Tensor
    labels: Tensor
    ink: Tensor
    digits: Tensor


def make_composites(
    images: Tensor,
    labels: Tensor,
    count: int,
    target_digit: int,
    generator: torch.Generator,
    two_digit_fraction: float = 0.5,
) -> Composites:
    """``count`` composites from the digits ``images [N, H, W]`` (uint8) with ``labels [N]``.

    Draws (with replacement) are fixed by ``generator``, so every DDP rank that seeds it the
    same way builds the same split. ``count // 2`` images are positive, the rest negative.
    """
    if count < 2:
        raise ConfigError(f"a composite split needs at least 2 images, got {count}")
    if not 0.0 <= two_digit_fraction <= 1.0:
        raise ConfigError(f"data.two_digit_fraction must be in [0, 1], got {two_digit_fraction}")
    target_pool = torch.nonzero(labels == target_digit).flatten()
    other_pool = torch.nonzero(labels != target_digit).flatten()
    if len(target_pool) == 0 or len(other_pool) == 0:
        raise DataError(
            f"composites need digits {target_digit} and other digits in the split; "
            f"found {len(target_pool)} of digit {target_digit} and {len(other_pool)} others"
        )
    n_pos = count // 2
    positive = torch.zeros(count, dtype=torch.bool)
    positive[:n_pos] = True
    positive = positive[torch.randperm(count, generator=generator)]
    two = torch.rand(count, generator=generator) < two_digit_fraction
    target_left = torch.rand(count, generator=generator) < 0.5  # slot of the first digit
    first_target = target_pool[torch.randint(len(target_pool), (count,), generator=generator)]
    first_other = other_pool[torch.randint(len(other_pool), (count,), generator=generator)]
    second = other_pool[torch.randint(len(other_pool), (count,), generator=generator)]

    first = torch.where(positive, first_target, first_other)  # index of the first digit
    height, width = images.shape[1:]
    blank = torch.zeros(count, height, width, dtype=images.dtype)
    first_img = images[first]
    second_img = torch.where(two[:, None, None], images[second], blank)
    left = torch.where(target_left[:, None, None], first_img, second_img)
    right = torch.where(target_left[:, None, None], second_img, first_img)
    composite = torch.cat([left, right], dim=2)

    # ownership: the first digit's pixels are target ink on positives; everything else is other ink
    on_left = target_left[:, None, None]
    first_canvas = torch.cat([torch.where(on_left, first_img, blank), torch.where(on_left, blank, first_img)], dim=2)
    target_ink = torch.where(positive[:, None, None], first_canvas, torch.zeros_like(first_canvas))
    other_ink = composite - target_ink
    ink = torch.stack([target_ink, other_ink], dim=1)

    first_digit, second_digit = labels[first], torch.where(two, labels[second], torch.full_like(labels[second], -1))
    digits = torch.stack(
        [torch.where(target_left, first_digit, second_digit), torch.where(target_left, second_digit, first_digit)], dim=1
    )
    return Composites(composite, positive.long(), ink, digits)


def normalise(images: Tensor) -> Tensor:
    """uint8 ``[N, H, W]`` to MNIST-normalised float ``[N, 1, H, W]``."""
    return ((images.float() / 255.0 - MNIST_MEAN) / MNIST_STD).unsqueeze(1).contiguous()


class MNISTCompositeDataModule(SplitDataModule):
    """Composite splits as cached tensors ``(images [N, 1, H, 2W], labels [N], ink [N, 2, H, 2W])``.

    The training and validation composites come from a stratified split of the official
    training digits (``val_fraction``), the test composites from the official test digits, so
    no digit image is shared between splits. ``num_train``/``num_val``/``num_test`` set the
    composite counts (null: as many as the split has digits). Generation uses ``seed`` only.
    """

    def __init__(
        self,
        root: str,
        target_digit: int = 0,
        seed: int = 0,
        val_fraction: float = 0.1,
        num_train: int | None = None,
        num_val: int | None = None,
        num_test: int | None = None,
        two_digit_fraction: float = 0.5,
        batch_size: int = 128,
        eval_batch_size: int = 100,
        num_workers: int = 0,
        num_classes: int = 2,
        summary_path: str | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= int(target_digit) <= 9:
            raise ConfigError(f"data.target_digit must be a digit 0..9, got {target_digit}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
        if num_classes != 2:
            raise ConfigError(f"data.num_classes must be 2 (target digit present or not), got {num_classes}")
        self.save_hyperparameters()
        self.splits: dict[str, TensorBatchDataset] = {}
        self.summary: dict[str, Any] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        train_images, train_labels = load_mnist_split(hp.root, "train")
        test_images, test_labels = load_mnist_split(hp.root, "test")
        generator = torch.Generator().manual_seed(hp.seed)
        train_pos, val_pos = stratified_split(train_labels, hp.val_fraction, generator)
        sources = {
            "train": (train_images[train_pos], train_labels[train_pos], hp.num_train),
            "val": (train_images[val_pos], train_labels[val_pos], hp.num_val),
            "test": (test_images, test_labels, hp.num_test),
        }
        for offset, (split, (images, labels, count)) in enumerate(sources.items()):
            split_generator = torch.Generator().manual_seed(hp.seed * 1000 + offset + 1)
            made = make_composites(
                images, labels, int(count or len(labels)), int(hp.target_digit), split_generator, hp.two_digit_fraction
            )
            self.splits[split] = TensorBatchDataset(normalise(made.images), made.labels, made.ink)
        self.summary = {
            "dataset": "mnist_composite",
            "target_digit": int(hp.target_digit),
            "sizes": {k: len(v) for k, v in self.splits.items()},
            "train_class_counts": self.train_class_counts.tolist(),
        }
        record_data_summary(hp.summary_path, self.summary)
