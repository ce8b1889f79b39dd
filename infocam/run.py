"""One training/evaluation run from a composed config: seed, build, fit, test, metrics.json."""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import time
from pathlib import Path
from typing import Any, Iterator

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from infocam.callbacks import AtomicCheckpointIO, RandomStateCheckpoint
from infocam.runtime.checkpoints import load_checkpoint
from infocam.runtime.eval_settings import check_class_count, check_eval_settings, load_task
from infocam.errors import ConfigError, InfocamError, NonFiniteLossError, RunTerminated
from infocam.runtime.io import atomic_write_text, ensure_writable_dir, write_metrics
from infocam.runtime.console import is_quiet_cell
from infocam.runtime.launchers import cluster_plugins
from infocam.callbacks.wandb_views import wandb_callbacks
from infocam.runtime.wandb_logger import publish_metrics
from infocam.runtime.rundir import RunDirLock, is_launching_process, lock_run_dir, write_hydra_record

log = logging.getLogger(__name__)


def import_plugins(modules: list[str] | None) -> None:
    """Import user modules named in ``plugins`` so their ``@REGISTRY.register`` entries exist."""
    for module in modules or []:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ConfigError(f"plugins: cannot import {module!r}: {err}") from None


def build_callbacks(cfg: DictConfig | None) -> list[L.Callback]:
    return [instantiate(c) for c in (cfg or {}).values() if c is not None and "_target_" in c]


def build_loggers(cfg: DictConfig | None) -> list:
    return [instantiate(c) for c in (cfg or {}).values() if c is not None and "_target_" in c]


#: Trainer arguments that must be whole numbers / numbers (Lightning asserts with no message)
_TRAINER_INTS = ("max_epochs", "min_epochs", "max_steps", "min_steps", "check_val_every_n_epoch",
                 "log_every_n_steps", "num_nodes", "accumulate_grad_batches", "num_sanity_val_steps")
_TRAINER_NUMBERS = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches",
                    "val_check_interval", "overfit_batches", "gradient_clip_val")


def check_trainer_config(trainer_cfg: DictConfig) -> None:
    """Types of the Trainer's numeric arguments, checked before anything is built (also under
    ``debug=fdr``, where ``fast_dev_run`` would otherwise hide a bad ``max_epochs``)."""
    for key in (*_TRAINER_INTS, *_TRAINER_NUMBERS):
        value = trainer_cfg.get(key)
        if value is None:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        if key in _TRAINER_INTS and not whole:
            raise ConfigError(f"trainer.{key}={value!r} must be a whole number (e.g. trainer.{key}=10)")
        if key in _TRAINER_NUMBERS and not (whole or isinstance(value, float)):
            raise ConfigError(f"trainer.{key}={value!r} must be a number (a count of batches or a fraction)")
    fdr = trainer_cfg.get("fast_dev_run")
    if fdr is not None and not isinstance(fdr, (bool, int)):
        raise ConfigError(f"trainer.fast_dev_run={fdr!r} must be true/false or a number of batches")


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
        raise ConfigError(f"trainer: invalid settings ({type(cause).__name__}: {_summary_line(cause)})") from None


def _summary_line(err: BaseException) -> str:
    """The last line of a message: wrapped errors (Hydra, DataLoader workers) end with the cause."""
    text = str(err).strip()
    return text.splitlines()[-1] if text else type(err).__name__


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
    lock = lock_output_dir(cfg, output_dir, resume=cfg.get("ckpt_path") is not None)
    try:
        return _train(cfg, output_dir, started)
    finally:
        if lock is not None:
            lock.release()


def _train(cfg: DictConfig, output_dir: Path, started: float) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    task: L.LightningModule = instantiate(cfg.task)
    loggers = build_loggers(cfg.get("logger"))
    trainer = build_trainer(cfg, build_callbacks(cfg.get("callbacks")) + wandb_callbacks(loggers, cfg), loggers)

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


@contextlib.contextmanager
def terminated_as_error(output_dir: Path, command: str) -> Iterator[None]:
    """Lightning ends ``fit``/``test`` on SIGTERM with ``SIGTERMException``, a ``SystemExit`` of
    status 0: turn it into :class:`RunTerminated` (one line: what happened, how to resume).

    On SLURM, Lightning's requeue signal (SIGUSR1 with ``SLURMEnvironment(auto_requeue=True)``) has
    saved an ``hpc_ckpt_*.ckpt`` and requeued the job before SLURM's SIGTERM arrives (Lightning
    then only logs "Bypassing SIGTERM" beside the notifier that stops the loop); the requeued job
    restores that checkpoint by itself, so only the exit status changes here (a requeue ignores it).
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        yield
    except SIGTERMException:
        from infocam.cli import _in_multirun

        if command == "eval":
            how = "run the same infocam-eval again"
        elif _in_multirun():
            how = "rerun the same multirun (same hydra.sweep.dir) with ckpt_path=last"
        else:
            how = f"rerun the same command with ckpt_path=last hydra.run.dir={output_dir}"
        raise RunTerminated(f"the run in {output_dir} was terminated (SIGTERM) before it finished, "
                            f"no metrics.json written; to resume, {how}") from None


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test a saved checkpoint of ``cfg.task`` on ``cfg.data``; write metrics.json."""
    started = time.perf_counter()
    import_plugins(cfg.get("plugins"))
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
    checkpoint = load_checkpoint(ckpt_path, mmap=True)  # read once (no code runs) for the records below
    recorded = checkpoint_task_class(checkpoint, ckpt_path)
    task_class = recorded or hydra_target(cfg.task)
    task = load_task(task_class, ckpt_path, map_location="cpu", weights_only=True, **skip_pretrained_weights(checkpoint))
    check_eval_settings(cfg, task, ckpt_path, command_line_keys())  # before config.yaml can record them
    if recorded is not None:  # config.yaml records the task that was evaluated, not eval.yaml's default
        with open_dict(cfg):
            target = f"{recorded.__module__}.{recorded.__qualname__}"
            hparams = OmegaConf.to_container(OmegaConf.create(dict(task.hparams)))
            cfg.task = OmegaConf.create({"_target_": target, **hparams})
            for group in ("model", "loss"):  # eval.yaml's defaults did not build anything
                if group in hparams:
                    cfg[group] = hparams[group]
    task.configure_evaluation(cam=cfg.get("cam"), localization=cfg.get("localization"), infomask=cfg.get("infomask"))
    inherit_data_identity(cfg, checkpoint)
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    check_checkpoint_fits_data(task, datamodule, ckpt_path, cfg.data)
    check_class_count(task, cfg.data, ckpt_path)  # labels of fewer classes pass the batch check
    loggers = build_loggers(cfg.get("logger"))
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


def check_checkpoint_fits_data(task: L.LightningModule, datamodule: L.LightningDataModule, ckpt_path: Path,
                               data_cfg: DictConfig) -> None:
    """Run the task's checks on one test batch before any evaluation starts.

    A checkpoint of another task or input shape (an MI model on WSOL images) would otherwise
    fail deep inside the test loop with a message about tuples or matrix shapes.
    """
    datamodule.setup("test")
    batch = next(iter(datamodule.test_dataloader()))
    data_name = str(data_cfg.get("_target_", "?")).rsplit(".", 1)[-1]
    try:
        task.check_batch(batch)
    except Exception as err:  # noqa: BLE001  (any failure here means the pair does not fit)
        error_type = type(err) if isinstance(err, InfocamError) else ConfigError  # a DataError stays one
        raise error_type(
            f"{ckpt_path}: this {type(task).__name__} checkpoint does not fit the data {data_name} "
            f"({_summary_line(err)}); evaluate it with the data= it was trained on"
        ) from None


#: data settings that make a test split what the training run held out: an eval that does not
#: set them on its command line takes them from the checkpoint (resolution, classes, val/test
#: halves, and the balance, which reduces the test split with balance_splits=all or authors)
DATA_IDENTITY = ("image_size", "num_classes", "seed", "val_fraction", "eval_transform", "balance", "balance_splits")


def command_line_keys() -> set[str] | None:
    """Keys set on this Hydra run's command line (``data.image_size`` of ``data.image_size=64``);
    None outside a Hydra run, where defaults cannot be told from choices."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return {override.split("=", 1)[0].lstrip("+~") for override in HydraConfig.get().overrides.task}


def inherit_data_identity(cfg: DictConfig, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Fill ``cfg.data``'s :data:`DATA_IDENTITY` keys the command line left alone with the
    training DataModule's values recorded in the checkpoint, so ``infocam-eval ckpt_path=...
    data=cub data.root=DIR`` scores the training resolution on the same test half (a different
    ``seed`` or ``val_fraction`` would mix validation images into the test split)."""
    given = command_line_keys()
    if given is None:
        return {}
    recorded = checkpoint.get("datamodule_hyper_parameters") or {}
    inherited = {}
    with open_dict(cfg):
        for key in DATA_IDENTITY:
            if key in recorded and key in cfg.data and f"data.{key}" not in given and cfg.data[key] != recorded[key]:
                cfg.data[key] = recorded[key]
                inherited[key] = recorded[key]
    if inherited:
        log.info("data settings of the training run (from the checkpoint): %s", inherited)
    return inherited


def checkpoint_task_class(checkpoint: dict[str, Any], ckpt_path: Path) -> type | None:
    """The task class a checkpoint recorded (``infocam_task``), if it recorded one.

    ``checkpoint`` was read with ``weights_only=True`` (no code ran), and the record is matched
    against the project's fixed list of task classes before anything is imported
    (:func:`infocam.runtime.checkpoints.recorded_task_class`).
    """
    from infocam.runtime.checkpoints import recorded_task_class

    name = checkpoint.get("infocam_task")
    if not name:
        return None
    return recorded_task_class(name, ckpt_path)


def skip_pretrained_weights(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """``load_from_checkpoint`` overrides that build the model without its ``model.weights``
    file: the checkpoint's state dict replaces those tensors anyway, and the ImageNet file
    (hundreds of MB, perhaps on another machine) need not be read or even exist at eval time."""
    hparams = checkpoint.get("hyper_parameters") or {}
    model = hparams.get("model")
    if isinstance(model, dict) and model.get("weights"):
        return {"model": {**model, "weights": None}}
    return {}


def hydra_target(node: DictConfig) -> type:
    from hydra.utils import get_class

    return get_class(node._target_)
