"""Atomic file writes: a reader (or a resumed run) never sees half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from infocam.errors import OutputError


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    ``mkstemp`` creates the file private (0600); it gets the mode a plain ``open`` would give
    (0666 less the umask), so results in a shared directory stay readable by the group.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise OutputError(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars to plain floats/ints; non-finite floats to None (valid JSON)."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write flat ``metrics.json`` (sorted keys) atomically."""
    flat = {str(k): _plain(v) for k, v in sorted(metrics.items())}
    return atomic_write_text(path, json.dumps(flat, indent=2) + "\n")


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` and prove it is writable, before any training time is spent."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-probe-"):
            pass
    except OSError as err:
        raise OutputError(f"output directory {directory} is not writable: {err.strerror or err}") from None
    return directory
