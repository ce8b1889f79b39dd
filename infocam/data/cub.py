"""CUB-200-2011 (200 bird species) from the official archive layout, with bounding boxes.

A sample is a dict::

    image     float32 [3, S, S], normalised with the ImageNet mean/std (S = image_size)
    label     int64, 0-based class (class_id - 1 of image_class_labels.txt)
    boxes     float32 [1, 4]: the ground-truth box as (x0, y0, x1, y1) in pixels of the
              *transformed* image, continuous coordinates (x1 = x0 + width, so x1/y1 are
              exclusive pixel edges), clamped to the image; it follows resize/crop/flip
              (``train_transform``/``eval_transform``, see :mod:`infocam.data.boxed_images`)
    orig_size int64 [2]: (height, width) of the original image
    image_id  int64, the id of images.txt

so a batch has ``boxes`` ``[B, 1, 4]``. Splits: the official training images are ``train``;
``val_fraction`` of the official test images (stratified, seeded; the paper uses half) are
``val`` (epoch selection) and the rest ``test`` (final report only); the two never overlap.
With ``val_fraction=0`` validation reuses the whole test set. ``data.balance`` reduces the
training split, and with ``data.balance_splits=all`` the val and test halves the same way (the
same classes).

``data.balance=authors`` rebuilds the released code's Table 3 splits (``data_splits/`` of the
paper's repository), in images.txt order: each class keeps the first images its ``authors``
entry names -- even 0-based labels the first 10 training and 5 test images, odd labels every
training image and the first 15 test images. That test set is the test split; validation (their
code has none) is the official test images it leaves out, cut by the same rule (the next 5 /
15), disjoint from it. ``val_fraction`` does not apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.boxed_images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    BoxedImage,
    BoxedImageDataset,
    boxed_splits,
    checked_items,
    check_transform_names,
    split_val_test,
)
from infocam.data.formats.cub import CUB_DIR, CubImage, line_of, read_cub
from infocam.data.imbalance import (
    AUTHORS,
    IndexSelection,
    balance_spec,
    check_balance_splits,
    class_counts,
    eval_spec,
    plain_options,
    select_indices,
    split_specs,
)
from infocam.data.standins import standin_name
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError

#: the dataset's name for people (reports); a stand-in in this layout records its own
DISPLAY_NAME = "CUB-200-2011"

__all__ = ["CUBDataModule", "CubDataset", "IMAGENET_MEAN", "IMAGENET_STD", "as_boxed"]

#: CUB samples are the generic boxed-image samples (one box per image)
CubDataset = BoxedImageDataset


def as_boxed(item: CubImage) -> BoxedImage:
    """bounding_boxes.txt's (x, y, width, height) as corners (x, y, x + width, y + height)."""
    x, y, w, h = item.box
    return BoxedImage(item.image_id, item.path, item.label, ((x, y, x + w, y + h),))


class CUBDataModule(SplitDataModule):
    """CUB-200-2011 train/val/test; ``balance`` picks an index transform of the training split.

    Default ``balance_options``: ``balanced`` is the official training split as shipped
    (196 classes with 30 images, 4 with 29), ``unbalanced`` drops half of the training images
    of a random half of the classes (seeded by ``seed``; which classes goes into the data
    summary, ``data_summary.json`` in the run directory); ``authors`` is the released code's
    splits (module docstring). ``balance_splits``: ``train`` or ``all`` (val and test too).
    """

    pin_memory = True  # JPEGs decoded per sample, then copied to the GPU
    fetch_name = "cub"  # data.download=true fetches the official archive (infocam.data.fetch)

    def __init__(
        self,
        root: str,
        balance: str = "balanced",
        balance_options: Mapping[str, Mapping[str, Any] | None] | None = None,
        balance_splits: str = "train",
        seed: int = 0,
        val_fraction: float = 0.5,
        image_size: int = 299,
        min_crop_scale: float = 0.35,
        train_transform: str = "resize_random_crop",
        eval_transform: str = "resize",
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 4,
        num_classes: int = 200,
        verify_images: bool = True,
        summary_path: str | None = None,
        download: bool = False,
        download_url: str | None = None,
        download_md5: str | None = None,
    ) -> None:
        super().__init__()
        balance_options = plain_options(balance_options)  # plain dicts: checkpoints load with weights_only
        options = dict(balance_options or {"balanced": None})
        balance_spec(balance, options)
        check_balance_splits(balance_splits)
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        check_transform_names(train_transform, eval_transform)
        self.save_hyperparameters()
        self.balance_options = options
        self.splits: dict[str, CubDataset] = {}
        self.class_names: list[str] = []
        self.summary: dict[str, Any] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        items, self.class_names = read_cub(hp.root)
        if len(self.class_names) != hp.num_classes:
            raise DataError(f"{Path(hp.root) / 'CUB_200_2011' / 'classes.txt'}: {len(self.class_names)} classes, data.num_classes is {hp.num_classes}")
        train = [i for i in items if i.is_train]
        test = [i for i in items if not i.is_train]
        if not train or not test:
            raise DataError(f"{Path(hp.root) / 'CUB_200_2011' / 'train_test_split.txt'}: needs both training (1) and test (0) images")
        spec = balance_spec(hp.balance, self.balance_options)
        if hp.balance == AUTHORS:
            (train, val, test), selection = self._authors_splits(train, test, spec)
        else:
            selection = select_indices(spec, labels_of(train), hp.num_classes, hp.seed + 1)
            train = kept(train, selection)
            val, test = split_val_test(test, hp.val_fraction, hp.seed)
            if hp.balance_splits == "all":
                pinned = eval_spec(spec, selection)
                same = val is test
                test = kept(test, select_indices(pinned, labels_of(test), hp.num_classes, hp.seed + 3))
                val = test if same else kept(val, select_indices(pinned, labels_of(val), hp.num_classes, hp.seed + 2))
        train, val, test = ([as_boxed(i) for i in split] for split in (train, val, test))
        if hp.verify_images:  # headers read, boxes checked against the image sizes (file:line on error)
            boxes_file = Path(hp.root) / CUB_DIR / "bounding_boxes.txt"

            def where(item: BoxedImage) -> str:
                return f"{boxes_file}:{line_of(boxes_file, item.image_id)} (image {item.path.name})"

            checked = {i.image_id: i for i in checked_items({i.image_id: i for i in (*train, *val, *test)}.values(), "images.txt", where, str(boxes_file))}
            train, val, test = ([checked[i.image_id] for i in split] for split in (train, val, test))
        self.splits = boxed_splits(
            train, val, test, hp.image_size, hp.train_transform, hp.eval_transform, hp.min_crop_scale
        )
        self.summary = {
            "dataset": "cub",
            # a stand-in in this layout says what it is (reports name the data from this)
            "display_name": standin_name(Path(hp.root) / CUB_DIR) or DISPLAY_NAME,
            "balance": hp.balance,
            **selection.summary(),
            "balance_splits": "all" if hp.balance == AUTHORS else hp.balance_splits,
            "train_class_counts": self.train_class_counts.tolist(),
            "class_counts": {k: class_counts(labels_of(v.items), hp.num_classes) for k, v in self.splits.items()},
            "sizes": {k: len(v) for k, v in self.splits.items()},
        }
        record_data_summary(hp.summary_path, self.summary)

    def _authors_splits(
        self, train: list[CubImage], test: list[CubImage], spec: Mapping[str, Any] | None
    ) -> tuple[tuple[list[CubImage], list[CubImage], list[CubImage]], IndexSelection]:
        """(train, val, test) by the ``authors`` rule, in images.txt order, and the training selection."""
        hp = self.hparams
        specs = split_specs(spec)
        selection = select_indices(specs["train"], labels_of(train), hp.num_classes, hp.seed + 1)
        chosen = select_indices(specs["test"], labels_of(test), hp.num_classes, hp.seed + 3).indices.tolist()
        left = sorted(set(range(len(test))) - set(chosen))
        rest = [test[k] for k in left]
        val = kept(rest, select_indices(specs["val"], labels_of(rest), hp.num_classes, hp.seed + 2))
        if not val:
            raise DataError("data.balance=authors: no official test image is left for validation")
        return (kept(train, selection), val, [test[k] for k in chosen]), selection

    def train_labels(self) -> Tensor:
        return labels_of(self.splits["train"].items)


def labels_of(items: Sequence[Any]) -> Tensor:
    return torch.tensor([item.label for item in items], dtype=torch.long)


def kept(items: list, selection: IndexSelection) -> list:
    """The items an index selection keeps, in order."""
    return [items[k] for k in selection.indices.tolist()]
