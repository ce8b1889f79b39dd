"""One training/evaluation run from a composed config: seed, build, fit, test, metrics.json."""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from infocam.callbacks import AtomicCheckpointIO
from infocam.checkpoints import load_checkpoint
from infocam.errors import ConfigError
from infocam.io import atomic_write_text, ensure_writable_dir, write_metrics

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


def build_trainer(cfg: DictConfig, callbacks: list[L.Callback], loggers: list) -> L.Trainer:
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()])


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
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    task: L.LightningModule = instantiate(cfg.task)
    trainer = build_trainer(cfg, build_callbacks(cfg.get("callbacks")), build_loggers(cfg.get("logger")))

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(scalar_metrics(trainer.callback_metrics))
    if cfg.get("test", True):
        ckpt = None
        if cfg.get("train", True):
            best = getattr(trainer.checkpoint_callback, "best_model_path", "")
            ckpt = best or None
            if best:
                log.info("testing the best checkpoint %s", best)
        else:
            ckpt = cfg.get("ckpt_path")
        trainer.test(task, datamodule=datamodule, ckpt_path=ckpt)
        metrics.update({k: v for k, v in scalar_metrics(trainer.callback_metrics).items() if k.startswith("test/")})
    metrics["seconds"] = time.perf_counter() - started
    if trainer.is_global_zero:
        save_run_files(cfg, output_dir, metrics)
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test a saved checkpoint of ``cfg.task`` on ``cfg.data``; write metrics.json."""
    started = time.perf_counter()
    import_plugins(cfg.get("plugins"))
    output_dir = ensure_writable_dir(cfg.paths.output_dir)
    ckpt_path = Path(str(cfg.ckpt_path))
    if not ckpt_path.is_file():
        raise ConfigError(f"ckpt_path {ckpt_path} does not exist")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    recorded = checkpoint_task_class(ckpt_path)
    task_class = recorded or hydra_target(cfg.task)
    task = task_class.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    if recorded is not None:  # config.yaml records the task that was evaluated, not eval.yaml's default
        with open_dict(cfg):
            target = f"{recorded.__module__}.{recorded.__qualname__}"
            hparams = OmegaConf.to_container(OmegaConf.create(dict(task.hparams)))
            cfg.task = OmegaConf.create({"_target_": target, **hparams})
            for group in ("model", "loss"):  # eval.yaml's defaults did not build anything
                if group in hparams:
                    cfg[group] = hparams[group]
    task.configure_evaluation(cam=cfg.get("cam"), localization=cfg.get("localization"))
    inherit_data_identity(cfg, ckpt_path)
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    trainer = build_trainer(cfg, [], build_loggers(cfg.get("logger")))
    trainer.test(task, datamodule=datamodule)
    metrics = {k: v for k, v in scalar_metrics(trainer.callback_metrics).items() if k.startswith("test/")}
    metrics["seconds"] = time.perf_counter() - started
    if trainer.is_global_zero:
        save_run_files(cfg, output_dir, metrics)
        if task.report_kind:
            from infocam.reporting.dispatch import REPORTS

            REPORTS[task.report_kind](str(output_dir), str(output_dir / "reports"))
    return metrics


#: data settings that make a test split what the training run held out: an eval that does not
#: set them on its command line takes them from the checkpoint (resolution, classes, val/test halves)
DATA_IDENTITY = ("image_size", "num_classes", "seed", "val_fraction", "eval_transform")


def command_line_keys() -> set[str] | None:
    """Keys set on this Hydra run's command line (``data.image_size`` of ``data.image_size=64``);
    None outside a Hydra run, where defaults cannot be told from choices."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return {override.split("=", 1)[0].lstrip("+~") for override in HydraConfig.get().overrides.task}


def inherit_data_identity(cfg: DictConfig, ckpt_path: Path) -> dict[str, Any]:
    """Fill ``cfg.data``'s :data:`DATA_IDENTITY` keys the command line left alone with the
    training DataModule's values recorded in the checkpoint, so ``infocam-eval ckpt_path=...
    data=cub data.root=DIR`` scores the training resolution on the same test half (a different
    ``seed`` or ``val_fraction`` would mix validation images into the test split)."""
    given = command_line_keys()
    if given is None:
        return {}
    recorded = load_checkpoint(ckpt_path, mmap=True).get("datamodule_hyper_parameters") or {}
    inherited = {}
    with open_dict(cfg):
        for key in DATA_IDENTITY:
            if key in recorded and key in cfg.data and f"data.{key}" not in given and cfg.data[key] != recorded[key]:
                cfg.data[key] = recorded[key]
                inherited[key] = recorded[key]
    if inherited:
        log.info("data settings of the training run (from the checkpoint): %s", inherited)
    return inherited


def checkpoint_task_class(ckpt_path: Path) -> type | None:
    """The task class a checkpoint recorded (``infocam_task``), if it recorded one.

    The file is read with ``weights_only=True`` (no code runs), and only a subclass of the
    project's task base is accepted, so a crafted ``infocam_task`` cannot name any other class.
    """
    from hydra.utils import get_class

    from infocam.tasks.base import RegistryTask

    name = load_checkpoint(ckpt_path, mmap=True).get("infocam_task")
    if not name:
        return None
    try:
        task_class = get_class(str(name))
    except Exception:  # noqa: BLE001  (any import failure means the record is unusable)
        task_class = None
    if not (isinstance(task_class, type) and issubclass(task_class, RegistryTask)):
        raise ConfigError(f"{ckpt_path}: records task {name!r}, which is not an infocam task")
    return task_class


def hydra_target(node: DictConfig) -> type:
    from hydra.utils import get_class

    return get_class(node._target_)
