"""MNIST from the official IDX files in the torchvision layout, decoded once and cached.

Expected files (each plain or ``.gz``)::

    <root>/MNIST/raw/train-images-idx3-ubyte   <root>/MNIST/raw/train-labels-idx1-ubyte
    <root>/MNIST/raw/t10k-images-idx3-ubyte    <root>/MNIST/raw/t10k-labels-idx1-ubyte

Splits: ``val_fraction`` of the official training set (stratified, seeded by ``seed``) is the
validation split; ``data.balance`` then transforms the index of the remaining training part
only. Validation and the official test set are never rebalanced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from infocam.data.formats.idx import read_idx, resolve_idx
from infocam.data.imbalance import balance_spec, plain_options, select_indices
from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.data.splits import stratified_split
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: the usual MNIST normalisation (mean and std of the training pixels in [0, 1])
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def mnist_raw_dir(root: str | Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def load_mnist_split(root: str | Path, split: str, num_classes: int = 10) -> tuple[Tensor, Tensor]:
    """uint8 images ``[N, H, W]`` and int64 labels ``[N]`` of one official split, validated."""
    raw = mnist_raw_dir(root)
    images_name, labels_name = MNIST_FILES[split]
    images_path, labels_path = resolve_idx(raw / images_name), resolve_idx(raw / labels_name)
    if images_path is None or labels_path is None:
        expected = ", ".join(f"{raw / n}[.gz]" for pair in MNIST_FILES.values() for n in pair)
        missing = [n for n, p in ((images_name, images_path), (labels_name, labels_path)) if p is None]
        raise DataError(f"MNIST not found under {root}: missing {', '.join(missing)}; expected {expected}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise DataError(f"{images_path}: expected uint8 images of shape [N, H, W], got {images.dtype} {tuple(images.shape)}")
    if labels.dtype != torch.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path}: expected uint8 labels of shape [N], got {labels.dtype} {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels but {images_path.name} has {len(images)} images")
    labels = labels.long()
    bad = torch.nonzero((labels < 0) | (labels >= num_classes)).flatten()
    if len(bad):
        first = int(bad[0])
        raise DataError(
            f"{labels_path}: record {first} has label {int(labels[first])}, outside [0, {num_classes}) "
            f"({len(bad)} such records)"
        )
    return images, labels


class MNISTDataModule(SplitDataModule):
    """MNIST as cached, normalised float tensors ``[N, 1, H, W]`` with int64 labels.

    ``balance`` names one of ``balance_options`` (index transforms, see
    :mod:`infocam.data.imbalance`); the default options are ``original`` (as shipped),
    ``balanced`` (every class cut to the smallest one's count, as in the paper) and
    ``unbalanced`` (90 % of the training digits 0, 2, 4, 6, 8 dropped).
    """

    def __init__(
        self,
        root: str,
        balance: str = "original",
        balance_options: Mapping[str, Mapping[str, Any] | None] | None = None,
        seed: int = 0,
        val_fraction: float = 0.1,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        num_workers: int = 0,
        num_classes: int = 10,
        summary_path: str | None = None,
    ) -> None:
        super().__init__()
        balance_options = plain_options(balance_options)  # plain dicts: checkpoints load with weights_only
        options = dict(balance_options or {"original": None})
        balance_spec(balance, options)  # fail at construction, before any training time
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
        self.save_hyperparameters()
        self.balance_options = options
        self.splits: dict[str, TensorBatchDataset] = {}
        self.summary: dict[str, Any] = {}

    @staticmethod
    def _to_float(images: Tensor) -> Tensor:
        return ((images.float() / 255.0 - MNIST_MEAN) / MNIST_STD).unsqueeze(1).contiguous()

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        train_images, train_labels = load_mnist_split(hp.root, "train", hp.num_classes)
        test_images, test_labels = load_mnist_split(hp.root, "test", hp.num_classes)
        generator = torch.Generator().manual_seed(hp.seed)
        train_pos, val_pos = stratified_split(train_labels, hp.val_fraction, generator)
        selection = select_indices(
            balance_spec(hp.balance, self.balance_options), train_labels[train_pos], hp.num_classes, hp.seed + 1
        )
        train_pos = train_pos[selection.indices]
        self.splits = {
            "train": TensorBatchDataset(self._to_float(train_images[train_pos]), train_labels[train_pos]),
            "val": TensorBatchDataset(self._to_float(train_images[val_pos]), train_labels[val_pos]),
            "test": TensorBatchDataset(self._to_float(test_images), test_labels),
        }
        self.summary = {
            "dataset": "mnist",
            "balance": hp.balance,
            **selection.summary(),
            "train_class_counts": self.train_class_counts.tolist(),
            "sizes": {k: len(v) for k, v in self.splits.items()},
        }
        record_data_summary(hp.summary_path, self.summary)
