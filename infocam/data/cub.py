"""CUB-200-2011 (200 bird species) from the official archive layout, with bounding boxes.

A sample is a dict::

    image     float32 [3, S, S], normalised with the ImageNet mean/std (S = image_size)
    label     int64, 0-based class (class_id - 1 of image_class_labels.txt)
    boxes     float32 [1, 4]: the ground-truth box as (x0, y0, x1, y1) in pixels of the
              *transformed* image, continuous coordinates (x1 = x0 + width, so x1/y1 are
              exclusive pixel edges), clamped to the image; it follows resize/crop/flip
    orig_size int64 [2]: (height, width) of the original image
    image_id  int64, the id of images.txt

so a batch has ``boxes`` ``[B, 1, 4]``. Splits: the official training images are ``train``;
``val_fraction`` of the official test images (stratified, seeded; the paper uses half) are
``val`` and the rest ``test``. With ``val_fraction=0`` validation reuses the whole test set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from infocam.data.boxes import check_boxes, warn_clamped
from infocam.data.formats.cub import CubImage, read_cub
from infocam.data.imbalance import balance_spec, plain_options, select_indices
from infocam.data.base import SplitDataModule
from infocam.data.splits import stratified_split
from infocam.data.summary import record_data_summary
from infocam.errors import ConfigError, DataError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def cub_transforms(image_size: int, train: bool, min_crop_scale: float = 0.35) -> v2.Compose:
    """Random resized crop + flip for training, a plain square resize for evaluation."""
    if train:
        geometry = [v2.RandomResizedCrop(image_size, scale=(min_crop_scale, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    else:
        geometry = [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose(
        [*geometry, v2.ClampBoundingBoxes(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


def open_rgb(path: Path, image_id: int) -> Image.Image:
    """Decode an image fully; any failure is a DataError naming the file."""
    try:
        with Image.open(path) as handle:
            return handle.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: cannot decode image id {image_id}: {err}") from None


def check_image_header(item: CubImage) -> tuple[int, int]:
    """Cheap check (header only) that an image exists and is a readable image file; its (width, height)."""
    try:
        with Image.open(item.path) as handle:
            return handle.size
    except FileNotFoundError:
        raise DataError(f"{item.path}: image id {item.image_id} listed in images.txt does not exist") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{item.path}: not a readable image (image id {item.image_id}): {err}") from None


def checked_boxes(root: Path, *splits: list[CubImage]) -> list[list[CubImage]]:
    """Read every image header; a box wholly outside its image is a DataError naming its line
    of bounding_boxes.txt, a box partly outside is clamped (one warning with the count)."""
    from infocam.data.formats.cub import CUB_DIR, _line_of

    boxes_file = root / CUB_DIR / "bounding_boxes.txt"
    checked: dict[int, CubImage] = {}
    clamped = 0
    for item in {i.image_id: i for split in splits for i in split}.values():
        width, height = check_image_header(item)
        x, y, w, h = item.box
        where = lambda _: f"{boxes_file}:{_line_of(boxes_file, item.image_id)} (image {item.path.name})"  # noqa: E731
        [(x0, y0, x1, y1)], count = check_boxes([(x, y, x + w, y + h)], width, height, where)
        clamped += count
        checked[item.image_id] = replace(item, box=(x0, y0, x1 - x0, y1 - y0)) if count else item
    warn_clamped(clamped, len(checked), str(boxes_file))
    return [[checked[i.image_id] for i in split] for split in splits]


class CubDataset(Dataset):
    """Decodes lazily in ``__getitem__``; see the module docstring for the sample format."""

    def __init__(self, items: Sequence[CubImage], transform: v2.Transform) -> None:
        self.items = list(items)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        item = self.items[index]
        image = open_rgb(item.path, item.image_id)
        width, height = image.size
        x, y, w, h = item.box
        check_boxes([(x, y, x + w, y + h)], width, height, f"{item.path} (image id {item.image_id})")  # verify_images=false
        boxes = tv_tensors.BoundingBoxes([[x, y, x + w, y + h]], format="XYXY", canvas_size=(height, width))
        pixels, boxes = self.transform(tv_tensors.Image(TF.pil_to_tensor(image)), boxes)
        return {
            "image": pixels.as_subclass(Tensor),
            "label": torch.tensor(item.label, dtype=torch.long),
            "boxes": boxes.as_subclass(Tensor).float(),
            "orig_size": torch.tensor([height, width], dtype=torch.long),
            "image_id": torch.tensor(item.image_id, dtype=torch.long),
        }


class CUBDataModule(SplitDataModule):
    """CUB-200-2011 train/val/test; ``balance`` picks an index transform of the training split.

    Default ``balance_options``: ``balanced`` is the official training split as shipped
    (196 classes with 30 images, 4 with 29), ``unbalanced`` drops half of the training images
    of a random half of the classes (seeded by ``seed``; which classes goes into the data
    summary, ``data_summary.json`` in the run directory).
    """

    pin_memory = True  # JPEGs decoded per sample, then copied to the GPU

    def __init__(
        self,
        root: str,
        balance: str = "balanced",
        balance_options: Mapping[str, Mapping[str, Any] | None] | None = None,
        seed: int = 0,
        val_fraction: float = 0.5,
        image_size: int = 299,
        min_crop_scale: float = 0.35,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        num_workers: int = 4,
        num_classes: int = 200,
        verify_images: bool = True,
        summary_path: str | None = None,
    ) -> None:
        super().__init__()
        balance_options = plain_options(balance_options)  # plain dicts: checkpoints load with weights_only
        options = dict(balance_options or {"balanced": None})
        balance_spec(balance, options)
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
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
        train_labels = torch.tensor([i.label for i in train])
        selection = select_indices(balance_spec(hp.balance, self.balance_options), train_labels, hp.num_classes, hp.seed + 1)
        train = [train[k] for k in selection.indices.tolist()]
        if hp.val_fraction > 0:
            generator = torch.Generator().manual_seed(hp.seed)
            rest, held = stratified_split(torch.tensor([i.label for i in test]), hp.val_fraction, generator)
            val, test = [test[k] for k in held.tolist()], [test[k] for k in rest.tolist()]
        else:
            val = test
        if hp.verify_images:
            train, val, test = checked_boxes(Path(hp.root), train, val, test)
        self.splits = {
            "train": CubDataset(train, cub_transforms(hp.image_size, True, hp.min_crop_scale)),
            "val": CubDataset(val, cub_transforms(hp.image_size, False)),
            "test": CubDataset(test, cub_transforms(hp.image_size, False)),
        }
        self.summary = {
            "dataset": "cub",
            "balance": hp.balance,
            **selection.summary(),
            "train_class_counts": self.train_class_counts.tolist(),
            "sizes": {k: len(v) for k, v in self.splits.items()},
        }
        record_data_summary(hp.summary_path, self.summary)

    def train_labels(self) -> Tensor:
        return torch.tensor([item.label for item in self.splits["train"].items], dtype=torch.long)
