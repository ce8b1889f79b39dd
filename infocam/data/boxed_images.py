"""File-backed image datasets with bounding boxes (CUB-200-2011, Tiny-ImageNet).

The geometry of the WSOL recipes lives here, once, so the boxes follow the image through it:
torchvision's v2 transforms move ``tv_tensors.BoundingBoxes`` together with the image through
every resize, crop and flip (we never rescale boxes by hand).

Train (``train_transform``):

- ``resize_random_crop`` -- the authors' code and wsolevaluation: square resize to
  ``round(image_size * 256 / 224)`` (256 at 224 px), random ``image_size`` crop, horizontal flip;
- ``random_resized_crop`` -- Inception-style random area/aspect crop (``min_crop_scale``) + flip,
  the classification recipe of Table 3.

Evaluation (``eval_transform``):

- ``resize`` -- square resize to ``image_size`` (wsolevaluation; the whole object stays in view);
- ``resize_center_crop`` -- square resize to ``round(image_size * 256 / 224)``, centre
  ``image_size`` crop (the authors' test code; boxes are clipped to the crop).

Box sanity (every box format, CUB and Tiny-ImageNet): a box wholly outside its image cannot be
right (a swapped or mis-scaled annotation), and clamping it would leave a zero-area box that
silently counts as a miss, so it is a :class:`DataError` naming its source; a box partly outside
is border rounding: it is clamped, and the dataset warns once with the count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from infocam.errors import ConfigError, DataError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
TRAIN_TRANSFORMS = ("resize_random_crop", "random_resized_crop")
EVAL_TRANSFORMS = ("resize", "resize_center_crop")


@dataclass(frozen=True)
class BoxedImage:
    """One image file: 0-based ``label`` and ground-truth ``boxes`` as (x0, y0, x1, y1) pixels of
    the file, x1/y1 exclusive edges (see :mod:`infocam.localization`)."""

    image_id: int
    path: Path
    label: int
    boxes: tuple[tuple[float, float, float, float], ...]
    source: str = ""  # where the boxes were read, ``file:line``, for error messages


def check_boxes(
    boxes: Sequence[Box], width: float, height: float, where: str | Callable[[int], str]
) -> tuple[list[Box], int]:
    """``(clamped boxes, how many needed clamping)`` for ``(x0, y0, x1, y1)`` pixel boxes on a
    ``width`` x ``height`` image; ``where`` names the source (``file:line``) of box ``i``."""
    clamped: list[Box] = []
    count = 0
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0 or x1 <= x0 or y1 <= y0:
            place = where(i) if callable(where) else where
            raise DataError(
                f"{place}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) as (x0, y0, x1, y1) lies wholly outside "
                f"its {width:g}x{height:g} image"
            )
        box = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
        count += box != (x0, y0, x1, y1)
        clamped.append(box)
    return clamped, count


def warn_clamped(count: int, total: int, source: str) -> None:
    """The one warning per dataset for boxes that reached past their image's border."""
    if count:
        log.warning("%s: %d of %d boxes reach past their image and were clamped to it", source, count, total)


def resize_side(image_size: int) -> int:
    """The square resize before a crop: 256 for 224 px, in proportion otherwise."""
    return int(round(image_size * 256 / 224))


def check_transform_names(train_transform: str, eval_transform: str) -> None:
    if train_transform not in TRAIN_TRANSFORMS:
        raise ConfigError(f"data.train_transform must be one of {', '.join(TRAIN_TRANSFORMS)}, got {train_transform!r}")
    if eval_transform not in EVAL_TRANSFORMS:
        raise ConfigError(f"data.eval_transform must be one of {', '.join(EVAL_TRANSFORMS)}, got {eval_transform!r}")


def box_transforms(
    image_size: int,
    train: bool,
    train_transform: str = "resize_random_crop",
    eval_transform: str = "resize",
    min_crop_scale: float = 0.35,
) -> v2.Compose:
    """Geometry (see the module docstring), box clamping, float conversion, ImageNet normalisation."""
    check_transform_names(train_transform, eval_transform)
    side = resize_side(image_size)
    if train and train_transform == "random_resized_crop":
        geometry = [v2.RandomResizedCrop(image_size, scale=(min_crop_scale, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    elif train:
        geometry = [v2.Resize((side, side), antialias=True), v2.RandomCrop(image_size), v2.RandomHorizontalFlip()]
    elif eval_transform == "resize_center_crop":
        geometry = [v2.Resize((side, side), antialias=True), v2.CenterCrop(image_size)]
    else:
        geometry = [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose(
        [*geometry, v2.ClampBoundingBoxes(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


def open_rgb(path: Path, image_id: int) -> Image.Image:
    """Decode an image fully, grayscale and palette images converted to RGB; any failure is a
    DataError naming the file."""
    try:
        with Image.open(path) as handle:
            return handle.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: cannot decode image id {image_id}: {err}") from None


def check_image_header(path: Path, image_id: int, listed_in: str) -> tuple[int, int]:
    """Cheap check (header only) that an image exists and is a readable image file; its (width, height)."""
    try:
        with Image.open(path) as handle:
            return handle.size
    except FileNotFoundError:
        raise DataError(f"{path}: image id {image_id} listed in {listed_in} does not exist") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not a readable image (image id {image_id}): {err}") from None


def describe_source(item: BoxedImage) -> str:
    return f"{item.source or item.path} (image {item.path.name})"


def checked_items(
    items: Sequence[BoxedImage],
    listed_in: str,
    where: Callable[[BoxedImage], str] = describe_source,
    boxes_file: str | None = None,
) -> list[BoxedImage]:
    """Read every image header (a missing or unreadable file is a DataError); a box wholly outside
    its image is a DataError naming ``where(item)``, a box partly outside is clamped, with one
    warning for the whole list (:func:`warn_clamped`)."""
    checked, clamped, total = [], 0, 0
    for item in items:
        width, height = check_image_header(item.path, item.image_id, listed_in)
        boxes, count = check_boxes(item.boxes, width, height, lambda _: where(item))
        clamped += count
        total += len(boxes)
        checked.append(replace(item, boxes=tuple(boxes)) if count else item)
    warn_clamped(clamped, total, boxes_file or listed_in)
    return checked


class BoxedImageDataset(Dataset):
    """Decodes lazily in ``__getitem__``. A sample is a dict::

        image     float32 [3, S, S], ImageNet-normalised
        label     int64, 0-based class
        boxes     float32 [K, 4], (x0, y0, x1, y1) pixels of the *transformed* image, x1/y1
                  exclusive, clamped to the image (a box cropped away has zero area)
        orig_size int64 [2], (height, width) of the file
        image_id  int64
    """

    def __init__(self, items: Sequence[BoxedImage], transform: v2.Transform) -> None:
        self.items = list(items)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        item = self.items[index]
        image = open_rgb(item.path, item.image_id)
        width, height = image.size
        checked, _ = check_boxes(item.boxes, width, height, describe_source(item))  # with verify_images=false
        boxes = tv_tensors.BoundingBoxes(checked, format="XYXY", canvas_size=(height, width))
        pixels, boxes = self.transform(tv_tensors.Image(TF.pil_to_tensor(image)), boxes)
        return {
            "image": pixels.as_subclass(Tensor),
            "label": torch.tensor(item.label, dtype=torch.long),
            "boxes": boxes.as_subclass(Tensor).float(),
            "orig_size": torch.tensor([height, width], dtype=torch.long),
            "image_id": torch.tensor(item.image_id, dtype=torch.long),
        }


def boxed_splits(
    train: Sequence[BoxedImage],
    val: Sequence[BoxedImage],
    test: Sequence[BoxedImage],
    image_size: int,
    train_transform: str,
    eval_transform: str,
    min_crop_scale: float,
) -> dict[str, BoxedImageDataset]:
    """The three split datasets with the recipe's geometry: training augmentation for ``train``,
    the evaluation transform for ``val`` and ``test``."""
    geometry = {"train_transform": train_transform, "eval_transform": eval_transform}
    return {
        "train": BoxedImageDataset(train, box_transforms(image_size, True, min_crop_scale=min_crop_scale, **geometry)),
        "val": BoxedImageDataset(val, box_transforms(image_size, False, **geometry)),
        "test": BoxedImageDataset(test, box_transforms(image_size, False, **geometry)),
    }


def split_val_test(items: Sequence[BoxedImage], val_fraction: float, seed: int) -> tuple[list[BoxedImage], list[BoxedImage]]:
    """(val, test): ``val_fraction`` of each class's images (seeded) for model selection, the
    rest for the final report; disjoint. ``val_fraction=0`` reuses the whole set for both."""
    from infocam.data.splits import stratified_split

    items = list(items)
    if val_fraction <= 0:
        return items, items
    generator = torch.Generator().manual_seed(seed)
    rest, held = stratified_split(torch.tensor([i.label for i in items]), val_fraction, generator)
    return [items[k] for k in held.tolist()], [items[k] for k in rest.tolist()]
