"""MNIST from the official IDX files in the torchvision layout, decoded once and cached.

Expected files (each plain or ``.gz``)::

    <root>/MNIST/raw/train-images-idx3-ubyte   <root>/MNIST/raw/train-labels-idx1-ubyte
    <root>/MNIST/raw/t10k-images-idx3-ubyte    <root>/MNIST/raw/t10k-labels-idx1-ubyte

Splits: ``val_fraction`` of the official training set (stratified, seeded by ``seed``) is the
validation split; ``data.balance`` then transforms the index of the remaining training part,
and with ``data.balance_splits=all`` the validation split and the official test set the same
way (the reduced classes pinned to the training draw's).

``data.balance=authors`` rebuilds the released code's splits instead (``dataset_tool.py`` of
the paper's repository), from the official *training* file only: records 0-39,999 train and
40,000-49,999 test, each keeping the first images of every class the ``authors`` entry names
(300 per even digit, 3,000 per odd one). Their code has no validation split; ours is records
50,000-59,999 under the same rule, disjoint from both. The official test file is not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from infocam.data.formats.idx import read_idx, resolve_idx
from infocam.data.imbalance import (
    AUTHORS,
    SPLITS,
    IndexSelection,
    balance_spec,
    check_balance_splits,
    class_counts,
    eval_spec,
    plain_options,
    select_indices,
    split_specs,
)
from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.data.splits import stratified_split
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: ``data.balance=authors``: [start, stop) records of the official training file per split
#: (train and test as in the authors' dataset_tool.py; validation is ours, the records they leave unused)
AUTHORS_RECORDS = {"train": (0, 40_000), "test": (40_000, 50_000), "val": (50_000, 60_000)}
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
    ``balanced`` (every class cut to the smallest one's count, as in the paper),
    ``unbalanced`` (90 % of the training digits 0, 2, 4, 6, 8 dropped) and ``authors`` (the
    released code's splits, module docstring). ``balance_splits``: ``train`` (the paper's text)
    or ``all`` (validation and test reduced too). ``authors_records``: the authors' record ranges
    (:data:`AUTHORS_RECORDS`; smaller ones only for tests). ``download``: fetch the four
    official files into ``root`` first (``prepare_data``; ``download_url``/``download_md5``: a mirror).
    """

    fetch_name = "mnist"

    def __init__(
        self,
        root: str,
        balance: str = "original",
        balance_options: Mapping[str, Mapping[str, Any] | None] | None = None,
        balance_splits: str = "train",
        seed: int = 0,
        val_fraction: float = 0.1,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        num_workers: int = 0,
        num_classes: int = 10,
        summary_path: str | None = None,
        authors_records: Mapping[str, Sequence[int]] | None = None,
        download: bool = False,
        download_url: str | None = None,
        download_md5: str | None = None,
    ) -> None:
        super().__init__()
        balance_options = plain_options(balance_options)  # plain dicts: checkpoints load with weights_only
        options = dict(balance_options or {"original": None})
        balance_spec(balance, options)  # fail at construction, before any training time
        check_balance_splits(balance_splits)
        records = {k: [int(v) for v in r] for k, r in dict(authors_records or AUTHORS_RECORDS).items()}
        if sorted(records) != sorted(SPLITS) or any(len(r) != 2 or not 0 <= r[0] < r[1] for r in records.values()):
            raise ConfigError(f"authors_records must give [start, stop) for {', '.join(SPLITS)}, got {authors_records!r}")
        authors_records = records
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
        spec = balance_spec(hp.balance, self.balance_options)
        train_images, train_labels = load_mnist_split(hp.root, "train", hp.num_classes)
        if hp.balance == AUTHORS:
            sources = {split: (train_images, train_labels) for split in SPLITS}
            positions, selection = self._authors_positions(train_labels, spec)
        else:
            test_images, test_labels = load_mnist_split(hp.root, "test", hp.num_classes)
            sources = {"train": (train_images, train_labels), "val": (train_images, train_labels),
                       "test": (test_images, test_labels)}
            generator = torch.Generator().manual_seed(hp.seed)
            train_pos, val_pos = stratified_split(train_labels, hp.val_fraction, generator)
            selection = select_indices(spec, train_labels[train_pos], hp.num_classes, hp.seed + 1)
            positions = {"train": train_pos[selection.indices], "val": val_pos, "test": torch.arange(len(test_labels))}
            if hp.balance_splits == "all":
                for offset, split in enumerate(("val", "test"), start=2):
                    kept = select_indices(eval_spec(spec, selection), sources[split][1][positions[split]],
                                          hp.num_classes, hp.seed + offset)
                    positions[split] = positions[split][kept.indices]
        self.splits = {
            split: TensorBatchDataset(self._to_float(sources[split][0][pos]), sources[split][1][pos])
            for split, pos in positions.items()
        }
        self.summary = {
            "dataset": "mnist",
            "balance": hp.balance,
            "balance_splits": "all" if hp.balance == AUTHORS else hp.balance_splits,
            **selection.summary(),
            "train_class_counts": self.train_class_counts.tolist(),
            "class_counts": {k: class_counts(v.tensors[1], hp.num_classes) for k, v in self.splits.items()},
            "sizes": {k: len(v) for k, v in self.splits.items()},
        }
        record_data_summary(hp.summary_path, self.summary)

    def _authors_positions(
        self, labels: Tensor, spec: Mapping[str, Any] | None
    ) -> tuple[dict[str, Tensor], IndexSelection]:
        """Each split's records of the official training file, cut by the ``authors`` rule."""
        hp = self.hparams
        specs = split_specs(spec)
        positions, selections = {}, {}
        for split in SPLITS:
            start, stop = hp.authors_records[split]
            if stop > len(labels):
                raise DataError(
                    f"data.balance=authors takes {split} from records {start}-{stop - 1} of MNIST's training file, "
                    f"which has {len(labels)} (the official file has 60,000)"
                )
            window = torch.arange(start, stop)
            selections[split] = select_indices(specs[split], labels[window], hp.num_classes, hp.seed + 1)
            positions[split] = window[selections[split].indices]
        return positions, selections["train"]
