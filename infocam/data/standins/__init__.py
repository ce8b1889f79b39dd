"""Offline stand-ins written in the official on-disk formats (scikit-learn's bundled 8x8 digits as
MNIST IDX files, thin-stroke font digits as MNIST IDX files, digits on cluttered canvases as a
CUB-200-2011 layout). They are easier than the real data; see docs/data.md (what each stand-in is and is not)."""

from __future__ import annotations

from pathlib import Path

#: the file a stand-in writes beside its data: its display name on the first line, so that
#: runs and reports name it for what it is (never as the dataset whose layout it borrows)
STANDIN_FILE = "STANDIN.txt"


def standin_name(directory: str | Path) -> str | None:
    """The display name a stand-in recorded in ``directory`` (its first line), else None."""
    path = Path(directory) / STANDIN_FILE
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    return first or None
