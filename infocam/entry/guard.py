"""The wrapper around each Hydra job of the console scripts.

User errors (:class:`infocam.errors.InfocamError`) print as one line and exit with status 1.
In a multirun a failed cell does not stop the sweep: its error goes to ``error.txt`` in its run
directory, and the command exits 1 at the end with a list of the failed cells
(:mod:`infocam.entry.failed_cells`). SIGTERM and Ctrl-C stop the whole command with one line
(:mod:`infocam.entry.signals`). A refused run removes the empty directories Hydra made for it.
A finished single run of ``infocam-train``/``infocam-eval`` ends with one line naming its outputs;
a multirun cell with its one line (:func:`infocam.runtime.console.cell_line`), under the sweep
directory that Hydra's "Launching N jobs" line follows.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from infocam.errors import ConfigError, InfocamError, RunTerminated
from infocam.entry.failed_cells import record_failed_cell
from infocam.entry.messages import PREFIX, one_line, user_error
from infocam.entry.preflight import remove_empty_dirs
from infocam.entry.signals import install_sigint, interrupted, restore_sigint
from infocam.runtime.booleans import check_booleans
from infocam.runtime.console import cell_line, configure_console, is_multirun
from infocam.runtime.io import read_metrics
from infocam.runtime.failed_cells import report_finished_to_launcher

log = logging.getLogger(__name__)

#: what a run directory holds that is not an output a user looks for
_NOT_OUTPUTS = ("config.yaml", "error.txt")  # and hidden files: .hydra/, the run-directory lock


def guarded(command: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[DictConfig], Any]]:
    """Decorate the job of ``infocam-<command>`` (module docstring)."""

    def decorate(job: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
        def wrapper(cfg: DictConfig) -> Any:
            previous = install_sigint()
            try:
                return _run(job, cfg, command)
            finally:
                restore_sigint(previous)
                close_wandb()

        return wrapper

    return decorate


def _run(job: Callable[[DictConfig], Any], cfg: DictConfig, command: str) -> Any:
    output_dir = str(HydraConfig.get().runtime.output_dir)
    try:
        reject_multirun_ddp(cfg)
    except InfocamError as err:  # the whole sweep is misconfigured: stop at once, not per cell
        _exit_with(err, output_dir)
    started = time.perf_counter()
    try:
        check_booleans(cfg)
        configure_console(cfg)
        try:
            result = job(cfg)
        except KeyboardInterrupt:  # Ctrl-C outside Lightning's loops (building, writing)
            raise interrupted(Path(output_dir), command) from None
        if is_multirun():
            line = cell_line(_metrics(output_dir), cfg, time.perf_counter() - started)
            print(line, flush=True)
            report_finished_to_launcher(line)  # under submitit this stdout is a log file
        elif command in ("train", "eval"):
            print(outputs_line(output_dir), flush=True)
        return result
    except Exception as err:  # noqa: BLE001  (sorted below: user error, multirun cell, bug)
        error = user_error(err)
        if os.environ.get("INFOCAM_FULL_ERROR"):
            raise
        if isinstance(error, RunTerminated):  # the whole command was asked to stop
            _exit_with(error, output_dir, error.exit_status)
        if is_multirun():
            message = one_line(error) if error is not None else f"{type(err).__name__}: {err}".splitlines()[0]
            if error is None:
                log.exception("multirun cell failed")  # the traceback goes to the cell's log file
            from infocam.runtime.rundir import RunDirRefused

            refused = isinstance(error, RunDirRefused)
            value = record_failed_cell(cfg, output_dir, message, refused=refused)
            remove_empty_dirs(output_dir)
            return value
        if error is None:
            raise
        _exit_with(error, output_dir)


def _exit_with(err: InfocamError, output_dir: str, status: int = 1) -> None:
    if os.environ.get("INFOCAM_FULL_ERROR"):
        raise err
    print(f"{PREFIX}{one_line(err)}", file=sys.stderr)
    remove_empty_dirs(output_dir)
    sys.exit(status)


def _metrics(output_dir: str) -> dict[str, Any]:
    path = Path(output_dir) / "metrics.json"
    try:
        return read_metrics(path) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def outputs_line(run_dir: str) -> str:
    """``infocam: outputs in DIR: metrics.json, checkpoints/, reports/`` for a finished run."""
    directory = Path(run_dir)
    names = sorted(f"{p.name}/" if p.is_dir() else p.name for p in directory.iterdir()
                   if p.name not in _NOT_OUTPUTS and not p.name.startswith(".") and not p.name.endswith((".log", ".tmp")))
    names.sort(key=lambda name: name != "metrics.json")  # the result first
    return f"infocam: outputs in {directory}: {', '.join(names) or '(none)'}"


def reject_multirun_ddp(cfg: DictConfig) -> None:
    """Multirun children with strategy=ddp each start a new sweep (Lightning #11300), except
    under the submitit launchers, which give every job processes of its own."""
    from infocam.runtime.launchers import runs_jobs_in_own_processes

    strategy = str(cfg.get("trainer", {}).get("strategy", ""))
    if is_multirun() and strategy == "ddp" and not runs_jobs_in_own_processes():
        raise ConfigError(
            "trainer.strategy=ddp cannot run inside a multirun on the basic launcher (each rank would start "
            "a new sweep); use hydra/launcher=local or slurm, trainer=ddp_cpu/ddp_spawn, or single runs"
        )


def close_wandb() -> None:
    """Close a wandb run between multirun jobs so the next job starts a new one."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def objective(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The value an Optuna sweep optimises (``optimized_metric``), if one is set."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise ConfigError(f"optimized_metric {name!r} was not logged; logged: {', '.join(sorted(metrics))}")
    return metrics[name]
