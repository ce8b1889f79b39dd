"""One training/evaluation run from a composed config: seed, build, fit, test, metrics.json.

The eval's reconciliation with its checkpoint is :mod:`infocam.entry.eval_checkpoint`; SIGTERM
and Ctrl-C become one line in :mod:`infocam.entry.signals`. ``checkpoint_task_class`` is
re-exported here for the callers that found it in this module.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from infocam.callbacks import AtomicCheckpointIO, RandomStateCheckpoint
from infocam.entry.eval_checkpoint import checkpoint_task_class, prepare_evaluation
from infocam.entry.messages import summary_line
from infocam.entry.signals import terminated_as_error
from infocam.entry.trainer_settings import check_trainer_config
from infocam.errors import ConfigError, InfocamError, NonFiniteLossError
from infocam.runtime.io import atomic_write_text, ensure_writable_dir, read_metrics, write_metrics
from infocam.runtime.console import is_quiet_cell
from infocam.runtime.launchers import cluster_plugins
from infocam.callbacks.wandb_views import wandb_callbacks
from infocam.runtime.wandb_logger import publish_metrics
from infocam.runtime.rundir import RunDirLock, is_launching_process, lock_run_dir, write_hydra_record

__all__ = ["checkpoint_task_class", "evaluate", "train", "build_trainer"]

log = logging.getLogger(__name__)


def import_plugins(modules: list[str] | None) -> None:
    """Import user modules named in ``plugins`` so their ``@REGISTRY.register`` entries exist."""
    for module in modules or []:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import {module!r}: {err}") from None


def instantiate_group(cfg: DictConfig | None) -> list:
    """Every entry of a ``callbacks``/``logger`` group that names a ``_target_``, built."""
    return [instantiate(c) for c in (cfg or {}).values() if c is not None and "_target_" in c]


def build_trainer(cfg: DictConfig, callbacks: list[L.Callback], loggers: list) -> L.Trainer:
    """The configured Trainer, always with atomic checkpoint files and the random-state record
    (so ``ckpt_path=last`` resumes exactly whichever callbacks group is chosen)."""
    check_trainer_config(cfg.trainer)
    callbacks = [*callbacks, RandomStateCheckpoint()]
    plugins = [AtomicCheckpointIO(), *cluster_plugins(cfg.trainer)]  # + submitit's ranks under hydra/launcher=local
    quiet: dict[str, Any] = {}
    if is_quiet_cell(cfg):  # a multirun cell prints one line (infocam.runtime.console); verbose=true: all
        from lightning.pytorch.callbacks import ProgressBar

        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
        quiet = {"enable_progress_bar": False, "enable_model_summary": False}
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins, **quiet)
    except InfocamError:
        raise
    except Exception as err:  # noqa: BLE001  (Lightning rejects bad arguments with assorted types)
        cause = err.__cause__ or err
        raise ConfigError(f"trainer: invalid settings ({type(cause).__name__}: {summary_line(cause)})") from None


def monitored_checkpoint(trainer: L.Trainer) -> L.Callback | None:
    """The ModelCheckpoint that keeps the best epoch (the one with a ``monitor``)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.monitor:
            return callback
    return None


def lock_output_dir(cfg: DictConfig, output_dir: Path, resume: bool) -> RunDirLock | None:
    """Hold the run directory for this run (rank 0 / the launching process only)."""
    if not is_launching_process():
        return None
    overwrite = bool((cfg.get("run") or {}).get("overwrite", False))
    lock = lock_run_dir(output_dir, resume=resume, overwrite=overwrite)
    write_hydra_record(cfg, output_dir)  # only now: a refused run leaves the owner's record alone
    return lock


def check_finite_metrics(metrics: dict[str, float]) -> None:
    """A run whose final metrics are NaN/inf did not produce a result: say so, write no metrics.json.

    Standard errors (``*_se``) are exempt: some estimators (MINE's bound) have none and log NaN.
    """
    bad = sorted(k for k, v in metrics.items()
                 if isinstance(v, float) and not math.isfinite(v) and not k.endswith("_se"))
    if bad:
        raise NonFiniteLossError(
            f"the run ended with non-finite metrics ({', '.join(bad[:6])}{', ...' if len(bad) > 6 else ''}); "
            "no metrics.json written. Lower the learning rate, check the inputs, or keep the finite-loss "
            "guard (callbacks=default) to stop at the first NaN step"
        )


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if getattr(v, "numel", lambda: 1)() == 1}


def save_run_files(cfg: DictConfig, output_dir: Path, metrics: dict[str, Any]) -> None:
    atomic_write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    write_metrics(output_dir / "metrics.json", metrics)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (``cfg.train``) and test (``cfg.test``) the task; return and save the metrics.

    ``ckpt_path=last`` resumes from ``<output_dir>/checkpoints/last.ckpt`` of the same run
    directory; the test split is scored with the best checkpoint when one was saved.
    """
    started = time.perf_counter()
    import_plugins(cfg.get("plugins"))
    output_dir = ensure_writable_dir(cfg.paths.output_dir)
    resume = cfg.get("ckpt_path") is not None
    finished = finished_run(cfg, output_dir) if resume else None
    if finished is not None:
        return finished
    lock = lock_output_dir(cfg, output_dir, resume=resume)
    try:
        return _train(cfg, output_dir, started)
    finally:
        if lock is not None:
            lock.release()


def finished_run(cfg: DictConfig, output_dir: Path) -> dict[str, float] | None:
    """The metrics of a finished run that ``ckpt_path=last`` asks to resume: the run is left as
    it is (its metrics.json, with the fit's keys and its own ``seconds``, and its records), and
    says so in one line; None when there is nothing finished (or ``run.overwrite=true``)."""
    path = output_dir / "metrics.json"
    if not path.is_file() or bool((cfg.get("run") or {}).get("overwrite", False)):
        return None
    print(f"infocam: {output_dir} holds a finished run: left as it is, metrics.json unchanged "
          "(run.overwrite=true runs it again)", flush=True)
    return read_metrics(path)


def _train(cfg: DictConfig, output_dir: Path, started: float) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    task: L.LightningModule = instantiate(cfg.task)
    loggers = instantiate_group(cfg.get("logger"))
    trainer = build_trainer(cfg, instantiate_group(cfg.get("callbacks")) + wandb_callbacks(loggers, cfg), loggers)

    if is_quiet_cell(cfg):  # the summary Lightning would print, into the cell's log file
        log.info("model summary:\n%s", _model_summary(task))
    metrics: dict[str, float] = {}
    fit = cfg.get("train", True) and getattr(task, "needs_training", True)  # loss=knn: nothing to fit
    if fit:
        with terminated_as_error(output_dir, "train"):
            trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(scalar_metrics(trainer.callback_metrics))
    if cfg.get("test", True):
        ckpt = None
        if fit:
            best = getattr(monitored_checkpoint(trainer), "best_model_path", "")
            ckpt = best or None
            if best:
                log.info("testing the best checkpoint %s", best)
        else:
            ckpt = cfg.get("ckpt_path")
        with terminated_as_error(output_dir, "train"):
            trainer.test(task, datamodule=datamodule, ckpt_path=ckpt, verbose=not is_quiet_cell(cfg))
        metrics.update({k: v for k, v in scalar_metrics(trainer.callback_metrics).items() if k.startswith("test/")})
        if is_quiet_cell(cfg):  # the test table Lightning would print, into the cell's log file
            log.info("test metrics: %s", {k: round(v, 6) for k, v in metrics.items() if k.startswith("test/")})
    metrics["seconds"] = time.perf_counter() - started
    check_finite_metrics(metrics)
    if trainer.is_global_zero:
        save_run_files(cfg, output_dir, metrics)
        publish_metrics(loggers, output_dir / "metrics.json")
    return metrics


def _model_summary(task: L.LightningModule) -> str:
    from lightning.pytorch.utilities.model_summary import ModelSummary

    try:
        return str(ModelSummary(task, max_depth=1))
    except Exception as err:  # noqa: BLE001  (a summary is information, never a reason to fail)
        return f"(no summary: {type(err).__name__})"


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test a saved checkpoint of ``cfg.task`` on ``cfg.data``; write metrics.json."""
    started = time.perf_counter()
    import_plugins(cfg.get("plugins"))
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path is required: infocam-eval ckpt_path=RUN_DIR/checkpoints/last.ckpt (see --help)")
    output_dir = ensure_writable_dir(cfg.paths.output_dir)
    ckpt_path = Path(str(cfg.ckpt_path))
    if not ckpt_path.is_file():
        raise ConfigError(f"ckpt_path {ckpt_path} does not exist")
    lock = lock_output_dir(cfg, output_dir, resume=False)
    try:
        return _evaluate(cfg, output_dir, ckpt_path, started)
    finally:
        if lock is not None:
            lock.release()


def _evaluate(cfg: DictConfig, output_dir: Path, ckpt_path: Path, started: float) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    task, datamodule = prepare_evaluation(cfg, ckpt_path)
    loggers = instantiate_group(cfg.get("logger"))
    trainer = build_trainer(cfg, wandb_callbacks(loggers, cfg), loggers)
    with terminated_as_error(output_dir, "eval"):
        trainer.test(task, datamodule=datamodule, verbose=not is_quiet_cell(cfg))
    metrics = {k: v for k, v in scalar_metrics(trainer.callback_metrics).items() if k.startswith("test/")}
    metrics["seconds"] = time.perf_counter() - started
    if trainer.is_global_zero:
        save_run_files(cfg, output_dir, metrics)
        publish_metrics(loggers, output_dir / "metrics.json")
        if task.report_kind:
            from infocam.reporting.dispatch import REPORTS

            REPORTS[task.report_kind](str(output_dir), str(output_dir / "reports"))
    return metrics
