"""Parsers of the CUB-200-2011 metadata files, with ``file:line`` in every error.

Official layout under ``<root>/CUB_200_2011/`` (ids are 1-based integers)::

    images.txt              <image_id> <relative path under images/>
    image_class_labels.txt  <image_id> <class_id>
    train_test_split.txt    <image_id> <is_training: 1 or 0>
    bounding_boxes.txt      <image_id> <x> <y> <width> <height>   (floats, pixels, top-left origin)
    classes.txt             <class_id> <class name>
    images/<class dir>/<file>.jpg
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from infocam.data.formats.paths import inside, stays_inside
from infocam.errors import DataError

CUB_DIR = "CUB_200_2011"
CUB_FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt")


@dataclass(frozen=True)
class CubImage:
    """One image: 0-based ``label``; ``box`` as in bounding_boxes.txt, (x, y, width, height)."""

    image_id: int
    path: Path
    label: int
    is_train: bool
    box: tuple[float, float, float, float]


def _int(text: str) -> int:
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not finite")
    return value


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"{text!r} is not 0 or 1")
    return text == "1"


def read_table(path: Path, converters: Sequence[Callable[[str], object]], names: Sequence[str]) -> dict[int, tuple]:
    """``{id: (fields...)}`` from a whitespace-separated file whose first field is an integer id.

    Every non-blank line must have exactly ``len(converters)`` fields; duplicate ids and
    unparsable values fail with ``path:line``.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found (CUB-200-2011 needs {', '.join(CUB_FILES)})")
    rows: dict[int, tuple] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(converters):
                raise DataError(
                    f"{path}:{number}: expected {len(converters)} fields ({' '.join(names)}), got {len(fields)}: {line.strip()!r}"
                )
            try:
                values = tuple(convert(field) for convert, field in zip(converters, fields))
            except ValueError as err:
                raise DataError(f"{path}:{number}: bad value ({err}): {line.strip()!r}") from None
            key = values[0]
            if key in rows:
                raise DataError(f"{path}:{number}: duplicate id {key}")
            rows[key] = values[1:]
    if not rows:
        raise DataError(f"{path}: no entries")
    return rows


def line_of(path: Path, key: int) -> int:
    """The line number at which ``key`` is the first field (for messages only)."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if fields and fields[0] == str(key):
                return number
    return 0


def read_cub(root: str | Path) -> tuple[list[CubImage], list[str]]:
    """Every image of CUB-200-2011 (sorted by id) and the class names (index = label)."""
    base = Path(root) / CUB_DIR
    if not base.is_dir():
        raise DataError(f"CUB-200-2011 not found under {root}: expected {base}/ with {', '.join(CUB_FILES)} and images/")
    files = {name: base / name for name in CUB_FILES}
    classes = read_table(files["classes.txt"], (_int, str), ("class_id", "name"))
    images = read_table(files["images.txt"], (_int, str), ("image_id", "path"))
    labels = read_table(files["image_class_labels.txt"], (_int, _int), ("image_id", "class_id"))
    split = read_table(files["train_test_split.txt"], (_int, _flag), ("image_id", "is_training"))
    boxes = read_table(files["bounding_boxes.txt"], (_int, _float, _float, _float, _float), ("image_id", "x", "y", "width", "height"))

    class_ids = sorted(classes)
    if class_ids != list(range(1, len(class_ids) + 1)):
        raise DataError(f"{files['classes.txt']}: class ids must be 1..{len(class_ids)} without gaps")
    for name in ("image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt"):
        table = {"image_class_labels.txt": labels, "train_test_split.txt": split, "bounding_boxes.txt": boxes}[name]
        stray = sorted(set(table) - set(images))
        if stray:
            line = line_of(files[name], stray[0])
            raise DataError(f"{files[name]}:{line}: image id {stray[0]} is not in images.txt")
        missing = sorted(set(images) - set(table))
        if missing:
            line = line_of(files["images.txt"], missing[0])
            raise DataError(f"{files[name]}: no entry for image id {missing[0]} ({files['images.txt']}:{line})")
    result = []
    for image_id in sorted(images):
        (class_id,) = labels[image_id]
        if class_id not in classes:
            line = line_of(files["image_class_labels.txt"], image_id)
            raise DataError(f"{files['image_class_labels.txt']}:{line}: class id {class_id} is not in classes.txt")
        x, y, w, h = boxes[image_id]
        if w <= 0 or h <= 0 or x < 0 or y < 0:
            line = line_of(files["bounding_boxes.txt"], image_id)
            raise DataError(f"{files['bounding_boxes.txt']}:{line}: box ({x}, {y}, {w}, {h}) needs x, y >= 0 and width, height > 0")
        relpath = images[image_id][0]
        line = line_of(files["images.txt"], image_id) if not stays_inside(relpath) else None  # only to name it
        path = inside(base / "images", relpath, files["images.txt"], line, "image")
        result.append(CubImage(image_id, path, class_id - 1, split[image_id][0], (x, y, w, h)))
    return result, [classes[c][0] for c in class_ids]
