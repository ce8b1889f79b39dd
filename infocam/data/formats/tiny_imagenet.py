"""Parsers of the official ``tiny-imagenet-200`` layout, with ``file:line`` in every error.

Layout under ``<root>/tiny-imagenet-200/``::

    wnids.txt                            one WordNet id per line; line order = class index
    train/<wnid>/<wnid>_boxes.txt        <file> <x0> <y0> <x1> <y1>          (tab-separated)
    train/<wnid>/images/<file>.JPEG
    val/val_annotations.txt              <file> <wnid> <x0> <y0> <x1> <y1>   (tab-separated)
    val/images/<file>.JPEG

Box files hold **corners** (x0, y0, x1, y1), not (x, y, width, height) -- the authors' code read
them as the latter. The corners are inclusive pixel indices (a box covering a whole 64 px image
is ``0 0 63 63``), so the exclusive right/bottom edges used everywhere in infocam are x1 + 1 and
y1 + 1. The official test split has no labels and is not read.
"""

from __future__ import annotations

from pathlib import Path

from infocam.data.boxed_images import BoxedImage
from infocam.data.formats.paths import inside
from infocam.errors import DataError

TINY_DIR = "tiny-imagenet-200"


def read_wnids(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: file not found (Tiny-ImageNet needs wnids.txt, train/ and val/)")
    wnids: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 1:
                raise DataError(f"{path}:{number}: expected one WordNet id, got {line.strip()!r}")
            if fields[0] in wnids:
                raise DataError(f"{path}:{number}: duplicate wnid {fields[0]}")
            inside(path.parent / "train", fields[0], path, number, "wnid")  # it names a folder under train/
            wnids.append(fields[0])
    if not wnids:
        raise DataError(f"{path}: no entries")
    return wnids


def _corners(path: Path, number: int, fields: list[str], line: str) -> tuple[float, float, float, float]:
    """Inclusive corner indices -> (x0, y0, x1, y1) with exclusive right/bottom edges."""
    try:
        x0, y0, x1, y1 = (float(f) for f in fields)
    except ValueError:
        raise DataError(f"{path}:{number}: box corners must be numbers: {line.strip()!r}") from None
    if not (0 <= x0 <= x1 and 0 <= y0 <= y1):
        raise DataError(f"{path}:{number}: box corners need 0 <= x0 <= x1 and 0 <= y0 <= y1: {line.strip()!r}")
    return (x0, y0, x1 + 1, y1 + 1)


def _rows(path: Path, width: int, names: str):
    """(line number, fields, raw line) of every non-blank line, each with ``width`` tab-separated fields."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != width:
                fields = line.split()  # tolerate spaces, still require the field count
            if len(fields) != width:
                raise DataError(f"{path}:{number}: expected {width} fields ({names}), got {len(fields)}: {line.strip()!r}")
            yield number, fields, line


def _image(path: Path, listed_in: Path, number: int) -> Path:
    if not path.is_file():
        raise DataError(f"{listed_in}:{number}: image {path} does not exist")
    return path


def read_tiny_imagenet(root: str | Path) -> tuple[list[BoxedImage], list[BoxedImage], list[str]]:
    """(train, val, wnids): every annotated image of the official train and val splits, in file
    order; ``label`` is the wnid's line index in wnids.txt. ``image_id`` numbers train images
    from 0 and val images after them, so ids are unique across the two."""
    base = Path(root) / TINY_DIR
    if not base.is_dir():
        raise DataError(f"Tiny-ImageNet not found under {root}: expected {base}/ with wnids.txt, train/ and val/")
    wnids = read_wnids(base / "wnids.txt")
    index = {w: k for k, w in enumerate(wnids)}
    train: list[BoxedImage] = []
    for wnid in wnids:
        folder = base / "train" / wnid
        boxes_file = folder / f"{wnid}_boxes.txt"
        seen: set[str] = set()
        for number, fields, line in _rows(boxes_file, 5, "file x0 y0 x1 y1"):
            name = fields[0]
            if name in seen:
                raise DataError(f"{boxes_file}:{number}: duplicate image {name}")
            seen.add(name)
            box = _corners(boxes_file, number, fields[1:], line)
            image = _image(inside(folder / "images", name, boxes_file, number, "image"), boxes_file, number)
            train.append(BoxedImage(len(train), image, index[wnid], (box,), f"{boxes_file}:{number}"))
    annotations = base / "val" / "val_annotations.txt"
    val: list[BoxedImage] = []
    seen = set()
    for number, fields, line in _rows(annotations, 6, "file wnid x0 y0 x1 y1"):
        name, wnid = fields[0], fields[1]
        if wnid not in index:
            raise DataError(f"{annotations}:{number}: unknown wnid {wnid!r} (not in {base / 'wnids.txt'})")
        if name in seen:
            raise DataError(f"{annotations}:{number}: duplicate image {name}")
        seen.add(name)
        box = _corners(annotations, number, fields[2:], line)
        image = _image(inside(base / "val" / "images", name, annotations, number, "image"), annotations, number)
        val.append(BoxedImage(len(train) + len(val), image, index[wnid], (box,), f"{annotations}:{number}"))
    if not val:
        raise DataError(f"{annotations}: no entries")
    return train, val, wnids
