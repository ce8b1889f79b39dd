"""Fetch a dataset into ``root`` so that nothing half-done ever looks complete.

Order: (1) if the dataset's folder is complete (:mod:`.complete`), return without a request;
a folder that exists but is incomplete is refused, never deleted. (2) Download into a fresh
temporary folder *inside* ``root`` (same file system, so the last step is a rename), checksum
first. (3) Check every archive member, unpack into that temporary folder, check the unpacked
folder's index. (4) Rename the folder into place and remove the temporary one. An interrupted
fetch leaves only a ``.infocam-fetch-*`` folder, which the next fetch ignores (and a later one
removes when its owner is gone: the lock below). A file lock in ``root`` serialises fetchers
(two nodes' local rank 0 on one shared file system): the second finds the data in place.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from infocam.data.fetch.archive import safe_extract
from infocam.data.fetch.complete import OFFICIAL, Status, dataset_status
from infocam.data.fetch.sources import SOURCES, Source, source_for
from infocam.data.fetch.transfer import DEFAULT_TIMEOUT, Unreachable, download
from infocam.errors import DataError

log = logging.getLogger(__name__)

STAGING_PREFIX = ".infocam-fetch-"
#: seconds to wait for another process's fetch of the same dataset to finish
LOCK_TIMEOUT = 4 * 3600.0


def by_hand(source: Source, root: Path) -> str:
    """How to stage the data on a machine with internet, in one clause."""
    files = ", ".join(f"{name} (md5 {md5})" for name, md5 in source.files)
    where = "the folder holding them" if len(source.files) > 1 else "the file"
    return (f"to stage it by hand, download {files} from {source.urls(source.files[0][0])[0]} where there is internet, "
            f"then run infocam-data dataset={source.name} root={root} local=<{where}>")


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    return float(os.environ.get("INFOCAM_FETCH_TIMEOUT", DEFAULT_TIMEOUT))


def _gather(source: Source, staging: Path, local: Path | None, timeout: float) -> list[Path]:
    """The source's files in ``staging``: copied from ``local`` or downloaded, each checked."""
    from torchvision.datasets.utils import calculate_md5

    paths = []
    for name, md5 in source.files:
        target = staging / name
        if local is None:
            log.info("downloading %s into %s", source.urls(name)[0], staging.parent)
            paths.append(download(source.urls(name), staging, name, md5, timeout))
            continue
        given = local / name if local.is_dir() else local
        if not given.is_file():
            raise DataError(f"local={local}: {given} does not exist")
        actual = calculate_md5(given)
        if actual != md5:
            raise DataError(f"{given}: md5 {actual} but expected {md5}; nothing was unpacked (a copy cut short, or another file)")
        target = staging / given.name if source.archive else target  # its own suffix picks the unpacker
        shutil.copyfile(given, target)
        paths.append(target)
    return paths


def _assemble(source: Source, staging: Path, files: list[Path]) -> Path:
    """The dataset's folder, complete, inside ``staging``."""
    if source.archive:
        unpacked = safe_extract(files[0], staging / "unpacked")
        folder = unpacked / source.target
    else:
        folder = staging / "unpacked" / source.target
        folder.mkdir(parents=True)
        for path in files:
            path.rename(folder / path.name)
    status = dataset_status(source.name, staging / "unpacked")
    if not status.complete:
        raise DataError(f"{files[0].name} does not unpack into a complete {source.title} ({status.detail}); nothing was moved into place")
    return folder


def _remove_stale_staging(root: Path, name: str) -> None:
    """Temporary folders of earlier fetches of ``name`` that were killed (we hold its lock: none
    is live; another dataset's may be, so only this one's are touched)."""
    for stale in root.glob(f"{STAGING_PREFIX}{name}-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def fetch_dataset(name: str, root: str | Path, url: str | None = None, md5: str | None = None,
                  local: str | Path | None = None, timeout: float | None = None) -> Status:
    """Make ``root`` hold a complete copy of dataset ``name``; return its status.

    ``url``/``md5``: a mirror and its checksum (:func:`.sources.source_for`); ``local``: an
    archive (or, for MNIST, a folder of the four files) already on this machine, checked and
    unpacked the same way. ``timeout``: seconds per connect/read (default 60,
    ``INFOCAM_FETCH_TIMEOUT``).
    """
    from filelock import FileLock, Timeout

    source = source_for(name, url, md5)
    root = Path(root).expanduser().absolute()
    status = dataset_status(name, root)
    if status.complete:  # the common case: nothing to lock, nothing to request
        log.info("%s in place: %s", source.title, status.detail)
        return status
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"data.root={root}: cannot create it ({err.strerror or err})") from None
    lock = FileLock(str(root / f".infocam-fetch-{name}.lock"))
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT):
            return _fetch_locked(source, root, Path(local).expanduser() if local else None, _timeout(timeout))
    except Timeout:
        raise DataError(f"{root}: another process has been fetching {source.title} for {LOCK_TIMEOUT / 3600:.0f} h; "
                        f"remove {lock.lock_file} if no fetch is running") from None


def _fetch_locked(source: Source, root: Path, local: Path | None, timeout: float) -> Status:
    status = dataset_status(source.name, root)
    if status.complete:  # another process fetched it while we waited for the lock
        return status
    if status.present:
        raise DataError(f"{source.title} under {root} is incomplete ({status.detail}); "
                        f"move {status.folder} away (or complete it), then fetch again")
    _remove_stale_staging(root, source.name)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{source.name}-", dir=root))
    try:
        try:
            files = _gather(source, staging, local, timeout)
        except Unreachable as err:
            raise DataError(f"{source.title}: {err}; {by_hand(source, root)}") from None
        folder = _assemble(source, staging, files)
        destination = root / source.target
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, destination)  # one rename: the folder appears complete or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    status = dataset_status(source.name, root)
    official = SOURCES[source.name]
    if source.files == official.files and not status.official:  # the official archive must hold the official set
        count, unit = OFFICIAL[source.name]
        raise DataError(f"{status.folder}: the official {source.title} archive should hold {count:,} {unit}, got {status.count:,}")
    log.info("%s ready: %s", source.title, status.detail)
    return status
