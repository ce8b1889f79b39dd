"""Unpack an archive only when every member stays inside the destination.

torchvision's ``extract_archive`` (used for the unpacking itself) calls ``tarfile.extractall``
/ ``zipfile.extractall`` on every member as it is: on this Python a tar member named
``../../x`` or ``/etc/x``, or a symlink or hard link, is written where it points. The members
are therefore listed and refused first, by hand: ``..`` or an absolute path, a link of any
kind, a device or FIFO. The archives of these datasets contain none, so nothing legitimate is
refused.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path

from infocam.data.formats.paths import stays_inside
from infocam.errors import DataError


def _tar_problem(member: tarfile.TarInfo) -> str | None:
    if not stays_inside(member.name):
        return "its path leaves the destination"
    if member.issym() or member.islnk():
        return f"it is a link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "it is not a plain file or folder"
    return None


def _zip_problem(info: zipfile.ZipInfo) -> str | None:
    if not stays_inside(info.filename.rstrip("/") or "."):
        return "its path leaves the destination"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "it is a link"
    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "it is not a plain file or folder"
    return None


def check_members(archive: Path) -> list[str]:
    """Every member name of ``archive``; a :class:`DataError` naming the first unsafe one."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                pairs = [(i.filename, _zip_problem(i)) for i in handle.infolist()]
        else:
            with tarfile.open(archive) as handle:
                pairs = [(m.name, _tar_problem(m)) for m in handle.getmembers()]
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{archive}: not a readable tar or zip archive ({err})") from None
    for name, problem in pairs:
        if problem:
            raise DataError(f"{archive}: refusing to unpack member {name!r}: {problem}; nothing was unpacked")
    return [name for name, _ in pairs]


def safe_extract(archive: Path, destination: Path) -> Path:
    """Unpack ``archive`` into ``destination`` after :func:`check_members` passed."""
    from torchvision.datasets.utils import extract_archive

    check_members(archive)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        extract_archive(str(archive), str(destination))
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, RuntimeError) as err:
        raise DataError(f"{archive}: unpacking failed ({err})") from None
    return destination
