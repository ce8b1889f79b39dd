"""Command-line entry points: thin ``@hydra.main`` wrappers around :mod:`infocam.run`.

User errors (:class:`infocam.errors.InfocamError`) print as one line and exit with status 1.
In a multirun a failed cell does not stop the sweep: its error goes to ``error.txt`` in its run
directory, and the command exits 1 at the end with a list of the failed cells.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from infocam.runtime.booleans import check_booleans
from infocam.runtime.shipped_conf import config_dir
from infocam.runtime.console import configure_console, quiet_launcher
from infocam.errors import ConfigError, InfocamError, RunTerminated


CONFIG_DIR = str(config_dir())


def _user_error(err: BaseException) -> InfocamError | None:
    """The InfocamError behind ``err`` (Hydra wraps errors raised during instantiate)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InfocamError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _one_line(err: InfocamError) -> str:
    """The message alone: a DataLoader worker re-raises our error with its traceback inside."""
    message = str(err)
    if "Original Traceback" in message:
        last = message.strip().splitlines()[-1]
        message = last.split(": ", 1)[1] if last.startswith(type(err).__module__) else last
    return message


log = logging.getLogger(__name__)

#: (run directory, one-line error) of each multirun cell that failed in this process
FAILED_CELLS: list[tuple[str, str]] = []


def guarded(job: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    def wrapper(cfg: DictConfig) -> Any:
        try:
            _reject_multirun_ddp(cfg)
        except InfocamError as err:  # the whole sweep is misconfigured: stop at once, not per cell
            if os.environ.get("INFOCAM_FULL_ERROR"):
                raise
            print(f"infocam: error: {_one_line(err)}", file=sys.stderr)
            sys.exit(1)
        started = time.perf_counter()
        try:
            check_booleans(cfg)
            configure_console(cfg)
            result = job(cfg)
            if _in_multirun():
                _print_cell_line(cfg, started)
            return result
        except Exception as err:  # noqa: BLE001  (sorted below: user error, multirun cell, bug)
            user_error = _user_error(err)
            if os.environ.get("INFOCAM_FULL_ERROR"):
                raise
            if isinstance(user_error, RunTerminated):  # the whole command was asked to stop
                print(f"infocam: error: {_one_line(user_error)}", file=sys.stderr)
                sys.exit(user_error.exit_status)
            if _in_multirun():
                message = _one_line(user_error) if user_error is not None else f"{type(err).__name__}: {err}".splitlines()[0]
                if user_error is None:
                    log.exception("multirun cell failed")  # the traceback goes to the cell's log file
                from infocam.runtime.rundir import RunDirRefused

                return _record_failed_cell(cfg, message, refused=isinstance(user_error, RunDirRefused))
            if user_error is None:
                raise
            print(f"infocam: error: {_one_line(user_error)}", file=sys.stderr)
            sys.exit(1)
        finally:
            _close_wandb()

    return wrapper


def _print_cell_line(cfg: DictConfig, started: float) -> None:
    """One line per finished multirun cell (infocam.runtime.console.cell_line), from its metrics.json."""
    from infocam.runtime.console import cell_line
    from infocam.runtime.io import read_metrics

    path = Path(str(HydraConfig.get().runtime.output_dir)) / "metrics.json"
    try:
        metrics = read_metrics(path) if path.is_file() else {}
    except (OSError, ValueError):
        metrics = {}
    print(cell_line(metrics, cfg, time.perf_counter() - started), flush=True)


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and str(HydraConfig.get().mode).endswith("MULTIRUN")


def _record_failed_cell(cfg: DictConfig, message: str, refused: bool = False) -> float | None:
    """Write the cell's error into its run directory and remember it for the closing summary;
    the sweep goes on (an Optuna sweeper sees NaN, i.e. a failed trial)."""
    from hydra.core.hydra_config import HydraConfig

    from infocam.runtime.io import atomic_write_text

    run_dir = str(HydraConfig.get().runtime.output_dir)
    try:
        if not refused:  # a directory this cell may not use belongs to another run: write nothing there
            atomic_write_text(Path(run_dir) / "error.txt", message + "\n")
    except InfocamError:
        pass  # an unwritable cell directory is reported in the summary all the same
    FAILED_CELLS.append((run_dir, message))
    print(f"infocam: error: {run_dir}: {message}", file=sys.stderr)
    from infocam.runtime.failed_cells import report_to_launcher

    report_to_launcher(run_dir, message)  # under submitit the launching process is another one
    return math.nan if cfg.get("optimized_metric") else None


def _exit_if_cells_failed() -> None:
    if not FAILED_CELLS:
        return
    lines = [f"infocam: error: {len(FAILED_CELLS)} multirun cell(s) failed (each wrote error.txt):"]
    lines += [f"  {run_dir}: {message}" for run_dir, message in FAILED_CELLS]
    print("\n".join(lines), file=sys.stderr)
    sys.exit(1)


def _reject_multirun_ddp(cfg: DictConfig) -> None:
    """Multirun children with strategy=ddp each start a new sweep (Lightning #11300), except
    under the submitit launchers, which give every job processes of its own."""
    from hydra.core.hydra_config import HydraConfig

    from infocam.runtime.launchers import runs_jobs_in_own_processes

    if not HydraConfig.initialized():
        return
    mode = str(HydraConfig.get().mode)
    strategy = str(cfg.get("trainer", {}).get("strategy", ""))
    if mode.endswith("MULTIRUN") and strategy == "ddp" and not runs_jobs_in_own_processes():
        raise ConfigError(
            "trainer.strategy=ddp cannot run inside a multirun on the basic launcher (each rank would start "
            "a new sweep); use hydra/launcher=local or slurm, trainer=ddp_cpu/ddp_spawn, or single runs"
        )


def _close_wandb() -> None:
    """Close a wandb run between multirun jobs so the next job starts a new one."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _objective(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The value an Optuna sweep optimises (``optimized_metric``), if one is set."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise ConfigError(f"optimized_metric {name!r} was not logged; logged: {', '.join(sorted(metrics))}")
    return metrics[name]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@guarded
def _train(cfg: DictConfig) -> float | None:
    from infocam.run import train

    return _objective(train(cfg), cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@guarded
def _eval(cfg: DictConfig) -> None:
    from infocam.run import evaluate

    evaluate(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="report")
@guarded
def _report(cfg: DictConfig) -> None:
    from infocam.reporting import build_report
    from infocam.runtime.rundir import write_hydra_record

    write_hydra_record(cfg, HydraConfig.get().runtime.output_dir)
    build_report(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval_maps")
@guarded
def _eval_maps(cfg: DictConfig) -> None:
    from infocam.runtime.rundir import write_hydra_record
    from infocam.localization.wsoleval.saved_maps import evaluate_maps

    write_hydra_record(cfg, HydraConfig.get().runtime.output_dir)
    evaluate_maps(cfg)


def _check_output_overrides(argv: list[str]) -> None:
    """Refuse an unusable ``hydra.run.dir``/``hydra.sweep.dir`` before Hydra tries to create it.

    Hydra makes the run directory before our code runs and reports a failure there with a
    traceback; this turns the common cases (a path through a file, a read-only place) into one line.
    """
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        if key not in ("hydra.run.dir", "hydra.sweep.dir") or not value or "${" in value:
            continue
        path = Path(value).absolute()
        ancestor = path
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
            print(f"infocam: error: {key}={value} is not writable ({ancestor} is not a writable directory)", file=sys.stderr)
            sys.exit(1)


def _check_default_log_dir(argv: list[str]) -> None:
    """Without ``hydra.run.dir``/``hydra.sweep.dir``, runs go under ``paths.log_dir``: refuse an
    unwritable one in one line (Hydra's log-file handler would fail there with a traceback)."""
    values = {}
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        values[key] = value
    if "hydra.run.dir" in values or "hydra.sweep.dir" in values:
        return
    root = values.get("paths.root_dir") or os.environ.get("INFOCAM_ROOT") or "."
    log_dir = values.get("paths.log_dir") or os.environ.get("INFOCAM_LOGS") or str(Path(root) / "logs")
    if "${" in log_dir:
        return
    ancestor = Path(log_dir).absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        print(
            f"infocam: error: cannot create run directories under {log_dir} ({ancestor} is not a writable directory); "
            "set paths.log_dir=DIR (or INFOCAM_LOGS), or hydra.run.dir=DIR",
            file=sys.stderr,
        )
        sys.exit(1)


def _check_before_hydra(argv: list[str]) -> None:
    """Launcher counts and the user's --config-dir files, before Hydra starts (issue 21)."""
    from infocam.runtime.user_yaml import check_config_dirs
    from infocam.runtime.launcher_args import check_launcher_counts

    try:
        check_launcher_counts(argv)
        check_config_dirs(argv)
    except InfocamError as err:
        print(f"infocam: error: {err}", file=sys.stderr)
        sys.exit(1)


def train_main() -> None:
    _check_before_hydra(sys.argv[1:])
    _check_output_overrides(sys.argv[1:])
    _check_default_log_dir(sys.argv[1:])
    quiet_launcher(sys.argv[1:])
    _train()
    _exit_if_cells_failed()


def eval_main() -> None:
    _check_before_hydra(sys.argv[1:])
    _check_output_overrides(sys.argv[1:])
    _check_default_log_dir(sys.argv[1:])
    quiet_launcher(sys.argv[1:])
    _eval()
    _exit_if_cells_failed()


def report_main() -> None:
    _check_before_hydra(sys.argv[1:])
    _check_output_overrides(sys.argv[1:])
    _check_default_log_dir(sys.argv[1:])
    _report()


def eval_maps_main() -> None:
    _check_before_hydra(sys.argv[1:])
    _check_output_overrides(sys.argv[1:])
    _eval_maps()
