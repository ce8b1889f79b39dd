"""Tiny-ImageNet (200 classes, 64x64 images) from the official ``tiny-imagenet-200`` layout.

Samples are the same dicts as CUB's (:class:`infocam.data.boxed_images.BoxedImageDataset`):
``image`` (RGB; the grayscale files are converted), ``label`` (wnids.txt line index),
``boxes`` ``[1, 4]`` (x0, y0, x1, y1) in pixels of the transformed image with x1/y1 exclusive,
``orig_size`` and ``image_id``. Splits: the official training images are ``train``; the official
val images (the test images have no labels) are split per class, seeded, into ``val``
(``val_fraction``, picks the epoch) and ``test`` (the final report); the two never overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.boxed_images import BoxedImageDataset, boxed_splits, check_transform_names, checked_items, split_val_test
from infocam.data.formats.tiny_imagenet import TINY_DIR, read_tiny_imagenet
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError


class TinyImageNetDataModule(SplitDataModule):
    """Official train split for training; official val split halved into val/test (see module doc)."""

    pin_memory = True  # JPEGs decoded per sample, then copied to the GPU
    fetch_name = "tiny_imagenet"  # data.download=true fetches the official archive (infocam.data.fetch)

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        batch_size: int = 128,
        eval_batch_size: int = 256,
        num_workers: int = 4,
        seed: int = 0,
        val_fraction: float = 0.5,
        num_classes: int = 200,
        train_transform: str = "resize_random_crop",
        eval_transform: str = "resize",
        min_crop_scale: float = 0.35,
        summary_path: str | None = None,
        verify_images: bool = True,
        download: bool = False,
        download_url: str | None = None,
        download_md5: str | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        if image_size < 8:
            raise ConfigError(f"data.image_size must be >= 8, got {image_size}")
        check_transform_names(train_transform, eval_transform)
        self.save_hyperparameters()
        self.splits: dict[str, BoxedImageDataset] = {}
        self.wnids: list[str] = []
        self.summary: dict[str, Any] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        train, official_val, self.wnids = read_tiny_imagenet(hp.root)
        if len(self.wnids) != hp.num_classes:
            raise DataError(f"{Path(hp.root) / TINY_DIR / 'wnids.txt'}: {len(self.wnids)} classes, data.num_classes is {hp.num_classes}")
        if not train:
            raise DataError(f"{Path(hp.root) / TINY_DIR / 'train'}: no training images listed in the *_boxes.txt files")
        if hp.verify_images:  # headers read, boxes checked against the image sizes (file:line on error)
            train = checked_items(train, "the *_boxes.txt files", boxes_file="train/*/*_boxes.txt")
            official_val = checked_items(official_val, "val/val_annotations.txt", boxes_file="val/val_annotations.txt")
        val, test = split_val_test(official_val, hp.val_fraction, hp.seed)
        self.splits = boxed_splits(
            train, val, test, hp.image_size, hp.train_transform, hp.eval_transform, hp.min_crop_scale
        )
        self.summary = {"dataset": "tiny_imagenet", "display_name": "Tiny-ImageNet", "sizes": {k: len(v) for k, v in self.splits.items()}}
        record_data_summary(hp.summary_path, self.summary)

    def train_labels(self) -> Tensor:
        return torch.tensor([item.label for item in self.splits["train"].items], dtype=torch.long)
