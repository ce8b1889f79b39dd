"""Paths named by annotation files must stay inside the folder they are relative to.

A line such as ``../../outside/secret`` or ``/etc/passwd`` in a metadata file would otherwise
make a reader score or train on any file the user can read. The check is lexical (``..`` and
absolute paths are refused after normalisation) rather than ``Path.resolve``: datasets are
often copied as trees of symlinks into shared storage, and those must keep working.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from infocam.errors import DataError


def stays_inside(relpath: str) -> bool:
    """Whether ``relpath`` is a non-empty relative path that does not climb out of its root."""
    text = str(relpath)
    if not text or "\x00" in text:
        return False
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        return False
    normal = os.path.normpath(text.replace("\\", "/"))
    return normal != ".." and not normal.startswith("../")


def inside(root: Path, relpath: str, listed_in: Path | str, number: int | None, what: str = "path") -> Path:
    """``root / relpath``, or a :class:`DataError` naming ``listed_in:number`` when ``relpath``
    is empty, absolute or climbs out of ``root``."""
    if not stays_inside(relpath):
        place = f"{listed_in}:{number}" if number is not None else str(listed_in)
        raise DataError(f"{place}: {what} {str(relpath)!r} must be a relative path inside {root}")
    return Path(root) / str(relpath)
