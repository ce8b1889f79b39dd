"""Checks of the command line that run before Hydra starts.

Hydra creates the run directory and its log file before any job code runs, and reports a
failure there (or a bad launcher count, or an unreadable ``--config-dir`` file) with a traceback.
These checks turn the common cases into one line. Which entry point runs which, and why, is in
:mod:`infocam.cli`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from infocam.errors import ConfigError, InfocamError
from infocam.entry.messages import PREFIX
from infocam.runtime.user_yaml import check_config_dirs
from infocam.runtime.shipped_conf import config_dir
from infocam.runtime.launcher_args import check_launcher_counts

_OUTPUT_KEYS = ("hydra.run.dir", "hydra.sweep.dir")

#: the deepest directory that existed before this command, above its run directories: a refused
#: run removes the empty directories Hydra made below it (:func:`remove_empty_dirs`)
existed_before: Path | None = None


def nearest_existing_dir(path: str | os.PathLike) -> Path:
    """``path`` itself if it exists, else its nearest existing ancestor (what ``mkdir -p`` starts from)."""
    ancestor = Path(path).absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return ancestor


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


def _overrides(argv: list[str]) -> dict[str, str]:
    values = {}
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        values[key] = value
    return values


def check_output_overrides(argv: list[str]) -> None:
    """Refuse an unusable ``hydra.run.dir``/``hydra.sweep.dir`` (a path through a file, a read-only place)."""
    global existed_before
    for key, value in _overrides(argv).items():
        if key not in _OUTPUT_KEYS or not value or "${" in value:
            continue
        ancestor = nearest_existing_dir(value)
        existed_before = ancestor
        if not _writable(ancestor):
            raise ConfigError(f"{key}={value} is not writable ({ancestor} is not a writable directory)")


def check_default_log_dir(argv: list[str]) -> None:
    """Without ``hydra.run.dir``/``hydra.sweep.dir``, runs go under ``paths.log_dir``: refuse an
    unwritable one (Hydra's log-file handler would fail there with a traceback)."""
    global existed_before
    values = _overrides(argv)
    if any(key in values for key in _OUTPUT_KEYS):
        return
    root = values.get("paths.root_dir") or os.environ.get("INFOCAM_ROOT") or "."
    log_dir = values.get("paths.log_dir") or os.environ.get("INFOCAM_LOGS") or str(Path(root) / "logs")
    if "${" in log_dir:
        return
    ancestor = nearest_existing_dir(log_dir)
    existed_before = ancestor
    if not _writable(ancestor):
        raise ConfigError(
            f"cannot create run directories under {log_dir} ({ancestor} is not a writable directory); "
            "set paths.log_dir=DIR (or INFOCAM_LOGS), or hydra.run.dir=DIR"
        )


def remove_empty_dirs(run_dir: str | os.PathLike) -> None:
    """Remove ``run_dir`` and its parents while they are empty, up to (not including) the
    directory that existed before the command: a refused run leaves no empty directories."""
    if existed_before is None:
        return
    directory = Path(run_dir).absolute()
    removed: Path | None = None
    while directory != existed_before and existed_before in directory.parents:
        try:
            directory.rmdir()  # only an empty directory goes
        except OSError:
            break
        removed, directory = directory, directory.parent
    if removed is not None:
        _drop_file_handlers_under(removed)


def _drop_file_handlers_under(directory: Path) -> None:
    """Close the logging file handlers that point into a removed directory. Hydra's job log is
    opened lazily (``delay``), so its directory can be empty and go; a handler left attached would
    raise FileNotFoundError on the next record (``FileHandler.emit`` opens outside its try), which
    in a process that goes on (the Python API, tests) breaks the next run."""
    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger))]
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(directory):
                logger.removeHandler(handler)
                handler.close()


def usage(config_name: str) -> str:
    """The description and examples at the top of ``--help`` (``hydra.help.header`` of the config)."""
    header = OmegaConf.load(config_dir() / f"{config_name}.yaml").hydra.help.header
    return str(header).rstrip() + "\nMore: --help (config groups), --cfg job (the composed config)."


def preflight(argv: list[str], *, log_dir: bool = True, required: str | None = None, config_name: str = "") -> None:
    """Run the checks; a failure prints one line and exits 1. ``required``: a key without which
    the command cannot run; a command line of no arguments prints the usage and exits 2."""
    global existed_before
    existed_before = None
    if required and not argv:
        print(usage(config_name), file=sys.stderr)
        sys.exit(2)
    try:
        check_launcher_counts(argv)
        check_config_dirs(argv)
        check_output_overrides(argv)
        if log_dir:
            check_default_log_dir(argv)
    except InfocamError as err:
        print(f"{PREFIX}{err}", file=sys.stderr)
        sys.exit(1)


#: groups an eval inherits from its checkpoint's run when the command line sets their keys only
INHERITED_GROUPS = ("data", "cam")


def checkpoint_choices(ckpt_path: str) -> dict[str, str]:
    """The Hydra group choices of the run that saved ``ckpt_path``: ``.hydra/hydra.yaml`` of its
    run directory (``<run>/checkpoints/x.ckpt``), read as plain YAML; {} when there is none."""
    import yaml

    for run_dir in Path(ckpt_path).absolute().parents[:2]:
        record = run_dir / ".hydra" / "hydra.yaml"
        if record.is_file():
            try:
                choices = (yaml.safe_load(record.read_text(encoding="utf-8")) or {})["hydra"]["runtime"]["choices"]
            except (OSError, yaml.YAMLError, KeyError, TypeError):
                return {}
            return {str(k): str(v) for k, v in (choices or {}).items() if v is not None}
    return {}


def inherited_group_args(argv: list[str]) -> list[str]:
    """``data=cub`` for ``infocam-eval ckpt_path=... data.root=DIR`` of a checkpoint trained with
    ``data=cub`` (and ``cam=`` for ``cam.region_size=3``): eval.yaml's defaults hold no such key,
    so Hydra would refuse it; the checkpoint's run knows the group. Nothing when the command line
    chooses the group (or an ``experiment=``) itself."""
    keys = [arg.lstrip("+~").split("=", 1)[0] for arg in argv]
    values = _overrides(argv)
    ckpt = values.get("ckpt_path")
    if not ckpt or "experiment" in keys:
        return []
    wanted = [g for g in INHERITED_GROUPS if g not in keys and any(k.startswith(f"{g}.") for k in keys)]
    if not wanted:
        return []
    choices = checkpoint_choices(ckpt)
    return [f"{group}={choices[group]}" for group in wanted if group in choices]
