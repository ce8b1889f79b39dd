"""Is a dataset in place and complete? Every file its own index lists must be present.

The index is the dataset's: CUB-200-2011's ``images.txt``; Tiny-ImageNet's ``wnids.txt``, each
class's ``<wnid>_boxes.txt`` and ``val/val_annotations.txt``; MNIST's four IDX headers (the
image and label counts must agree). The official counts (:data:`OFFICIAL`) are reported, not
required: a smaller mirror in the same layout passes when its index is complete. Only names
and headers are read (no image is decoded), so the check is cheap enough to run before every
job; the readers in :mod:`infocam.data.formats` still validate every line when a run starts.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from infocam.data.formats.cub import CUB_DIR, CUB_FILES
from infocam.data.formats.paths import stays_inside
from infocam.data.formats.tiny_imagenet import TINY_DIR
from infocam.errors import ConfigError

#: what the official archives hold (the message says when a set differs)
OFFICIAL = {"cub": (11_788, "images"), "tiny_imagenet": (200, "classes"), "mnist": (70_000, "images")}
MNIST_SPLITS = (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))


@dataclass(frozen=True)
class Status:
    """``complete``: every listed file present; ``present``: the dataset's folder exists;
    ``count``: images (CUB, MNIST) or classes (Tiny-ImageNet) listed; ``detail``: one phrase."""

    name: str
    folder: Path
    present: bool
    complete: bool
    count: int
    detail: str

    @property
    def official(self) -> bool:
        return self.count == OFFICIAL[self.name][0]


def _first_missing(paths: Iterable[Path]) -> tuple[int, Path | None]:
    missing, first = 0, None
    for path in paths:
        if not path.is_file():
            missing += 1
            first = first or path
    return missing, first


def _listed(index: Path, column: int, width: int) -> list[str]:
    """Column ``column`` of every non-blank line of ``index``; a line without ``width`` fields
    or with an unsafe path gives ``"\\0"``, a name no file has, so it counts as missing."""
    names = []
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("\t") if "\t" in line else line.split()
        if not fields:
            continue
        name = fields[column] if len(fields) == width else "\0"
        names.append(name if stays_inside(name) else "\0")
    return names


def _verdict(name: str, folder: Path, count: int, what: str, index: str, missing: int, first: Path | None) -> Status:
    official, unit = OFFICIAL[name]
    if missing:
        return Status(name, folder, True, False, count, f"{missing} of the {count:,} {what} that {index} lists are missing (first: {first})")
    scope = "the official count" if count == official else f"a subset or mirror: the official set has {official:,} {unit}"
    return Status(name, folder, True, True, count, f"{count:,} {what} listed in {index}, all present ({scope})")


def cub_status(root: Path) -> Status:
    folder = root / CUB_DIR
    if not folder.is_dir():
        return Status("cub", folder, False, False, 0, f"{folder} does not exist")
    absent = [n for n in CUB_FILES if not (folder / n).is_file()]
    if absent:
        return Status("cub", folder, True, False, 0, f"{folder} lacks {', '.join(absent)}")
    names = _listed(folder / "images.txt", 1, 2)
    missing, first = _first_missing(folder / "images" / n for n in names)
    return _verdict("cub", folder, len(names), "images", "images.txt", missing, first)


def tiny_imagenet_status(root: Path) -> Status:
    folder = root / TINY_DIR
    if not folder.is_dir():
        return Status("tiny_imagenet", folder, False, False, 0, f"{folder} does not exist")
    wnids_file, annotations = folder / "wnids.txt", folder / "val" / "val_annotations.txt"
    absent = [str(p.relative_to(folder)) for p in (wnids_file, annotations) if not p.is_file()]
    if absent:
        return Status("tiny_imagenet", folder, True, False, 0, f"{folder} lacks {', '.join(absent)}")
    wnids = [w for w in wnids_file.read_text(encoding="utf-8", errors="replace").split() if w]
    files: list[Path] = []
    for wnid in wnids:
        boxes = folder / "train" / wnid / f"{wnid}_boxes.txt"
        if not stays_inside(wnid) or not boxes.is_file():
            return Status("tiny_imagenet", folder, True, False, len(wnids),
                          f"{boxes} is missing (wnids.txt lists {len(wnids)} classes)")
        files += [folder / "train" / wnid / "images" / n for n in _listed(boxes, 0, 5)]
    files += [folder / "val" / "images" / n for n in _listed(annotations, 0, 6)]
    missing, first = _first_missing(files)
    if missing:
        return Status("tiny_imagenet", folder, True, False, len(wnids),
                      f"{missing} of the {len(files):,} images the annotation files list are missing (first: {first})")
    return _verdict("tiny_imagenet", folder, len(wnids), "classes", "wnids.txt", 0, None)


def _idx_count(path: Path) -> int | None:
    """The first dimension in an IDX header (plain or gzipped), or None when unreadable."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            header = handle.read(8)
        zero, _, ndim, count = struct.unpack(">HBBI", header)
        return count if zero == 0 and ndim >= 1 else None
    except (OSError, EOFError, struct.error):
        return None


def mnist_status(root: Path) -> Status:
    folder = root / "MNIST" / "raw"
    if not folder.is_dir():
        return Status("mnist", folder, False, False, 0, f"{folder} does not exist")
    total = 0
    for images, labels in MNIST_SPLITS:
        counts = []
        for stem in (images, labels):
            path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
            if path is None:
                return Status("mnist", folder, True, False, total, f"{folder / stem}[.gz] is missing")
            count = _idx_count(path)
            if count is None:
                return Status("mnist", folder, True, False, total, f"{path} is not a readable IDX file")
            counts.append(count)
        if counts[0] != counts[1]:
            return Status("mnist", folder, True, False, total, f"{images} holds {counts[0]} images but {labels} {counts[1]} labels")
        total += counts[0]
    return _verdict("mnist", folder, total, "images", "the IDX headers", 0, None)


CHECKS: dict[str, Callable[[Path], Status]] = {"cub": cub_status, "tiny_imagenet": tiny_imagenet_status, "mnist": mnist_status}


def dataset_status(name: str, root: str | Path) -> Status:
    """Whether ``name`` is in place under ``root`` (nothing is downloaded or changed)."""
    if name not in CHECKS:
        raise ConfigError(f"dataset={name!r}: no completeness check; choose one of {', '.join(sorted(CHECKS))}")
    return CHECKS[name](Path(root))
