"""One run per run directory: an exclusive lock held for the life of the run.

Two runs writing into one directory overwrite each other's checkpoints and metrics. The lock is
an ``fcntl.flock`` on ``<run dir>/.infocam.lock`` (the kernel drops it when the process dies,
even by SIGKILL, so a crash never leaves a stale lock); the file names the holder, so a second
run can say who is using the directory. Under DDP only the launching process (rank 0) locks.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from infocam.errors import ConfigError, OutputError

log = logging.getLogger(__name__)


class RunDirRefused(ConfigError):
    """This run may not use the directory (another run holds it, or it holds a finished run):
    nothing of this run is written there, not even its error."""


LOCK_NAME = ".infocam.lock"
#: rank variables set by torchrun, Lightning's launchers and SLURM (as Lightning reads them)
# submitit's local executor starts each DDP rank itself and names it in SUBMITIT_LOCAL_GLOBALID
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "SUBMITIT_LOCAL_GLOBALID", "JSM_NAMESPACE_RANK")


def is_launching_process() -> bool:
    """True unless this process is a non-zero rank started by a DDP launcher."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None:
            return int(value) == 0 and int(os.environ.get("NODE_RANK", "0") or 0) == 0
    return True


class RunDirLock:
    """The held lock of one run directory; :meth:`release` (or process exit) frees it."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory, self._fd = directory, fd

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "RunDirLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run_dir(directory: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> RunDirLock:
    """Lock ``directory`` for this run, or fail in one line naming the run that holds it.

    A directory whose run finished (``metrics.json`` exists) is refused unless this run
    resumes it (``ckpt_path=last``) or ``run.overwrite=true``. Temporary files that a killed
    run left behind (``.<name>.<...>.tmp``) are removed once the lock is held.
    """
    directory = Path(directory)
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise OutputError(f"cannot create the run lock {path}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise RunDirRefused(
            f"run directory {directory} is in use by {holder}; wait for that run to end or choose "
            "another hydra.run.dir"
        ) from None
    lock = RunDirLock(directory, fd)
    if (directory / "metrics.json").exists() and not (resume or overwrite):
        lock.release()
        raise RunDirRefused(
            f"run directory {directory} holds a finished run (metrics.json); resume it with ckpt_path=last, "
            "replace it with run.overwrite=true, or choose another hydra.run.dir"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} (since {time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode(), 0)
    remove_stale_temporaries(directory)
    return lock


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the ``.<name>.<...>.tmp`` files that atomic writes of a killed run left behind.

    Only called with the directory's lock held, so no live writer owns them.
    """
    removed = []
    for folder in (directory, directory / "checkpoints"):
        if not folder.is_dir():
            continue
        for tmp in folder.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    if removed:
        log.info("removed %d temporary file(s) a killed run left in %s", len(removed), directory)
    return removed


#: where the Hydra record goes (``hydra.output_subdir`` is null, so Hydra itself writes nothing)
HYDRA_RECORD = ".hydra"


def write_hydra_record(cfg: object, directory: str | os.PathLike) -> Path | None:
    """Write the ``.hydra/`` record (config.yaml, hydra.yaml, overrides.yaml) that Hydra would write.

    Hydra writes it before the job starts, i.e. before this run holds the directory, so a
    refused run would rewrite the record of the run that owns it (issue 21, item 3).
    ``conf/hydra/default.yaml`` turns that off; a run calls this once it holds the directory.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from infocam.runtime.io import atomic_write_text

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.instance().cfg
    record = Path(directory) / HYDRA_RECORD
    atomic_write_text(record / "config.yaml", OmegaConf.to_yaml(cfg))
    atomic_write_text(record / "hydra.yaml", OmegaConf.to_yaml(hydra_cfg))
    atomic_write_text(record / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.hydra.overrides.task))
    return record
