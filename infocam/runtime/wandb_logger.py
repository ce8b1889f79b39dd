"""Weights & Biases runs that a person can find and compare: grouped, named, tagged, complete.

- :func:`wandb_logger` builds Lightning's ``WandbLogger`` (``conf/logger/wandb.yaml``) with a
  group per experiment (and per multirun sweep), a name made of the run's overrides, and tags
  naming task, model, loss and CAM, so a sweep's cells sit side by side in one group.
- :func:`wandb_loggers` picks the ``WandbLogger`` s of a run (the dashboard callback,
  :func:`infocam.callbacks.wandb_views.wandb_callbacks`, is added when there is one).
- :func:`publish_metrics` copies the run's final ``metrics.json`` into the wandb summary, so the
  dashboard shows exactly the numbers the reports are built from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from omegaconf import DictConfig, OmegaConf

#: override keys that choose plumbing rather than the science of a run: left out of run names
_NAME_EXCLUDES = ("experiment", "sweep", "hparams_search", "logger", "callbacks", "debug", "paths", "hydra",
                  "trainer.enable_progress_bar", "plugins")


def _hydra_config() -> Any | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def run_group(task_name: str) -> str:
    """``<task_name>`` for a single run; ``<task_name>-<sweep dir name>`` for every job of a multirun."""
    hydra_cfg = _hydra_config()
    if hydra_cfg is not None and str(hydra_cfg.mode).endswith("MULTIRUN"):
        return f"{task_name}-{Path(str(hydra_cfg.sweep.dir)).name}"
    return task_name


def run_name(task_name: str, overrides: Iterable[str] | None = None) -> str:
    """The run's own overrides (``data.dim=2,loss=pc_softmax``), else the task name."""
    if overrides is None:
        hydra_cfg = _hydra_config()
        overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    kept = []
    for item in overrides:
        key = item.lstrip("+~").split("=", 1)[0]
        if key.split("/")[0].split(".")[0] in _NAME_EXCLUDES or key in _NAME_EXCLUDES:
            continue
        kept.append(item.lstrip("+~"))
    return ",".join(kept) or task_name


def run_tags(tags: Iterable[str] | None, labels: Mapping[str, Any] | None) -> list[str]:
    """The experiment's tags plus ``task:<t>``, ``model:<m>``, ``loss:<l>``, ``cam:<c>`` (the set ones).

    ``labels['task']`` may be the task's ``_target_`` (``infocam.tasks.wsol.WSOLModule``): its
    module name (``wsol``) is the tag.
    """
    out = [str(t) for t in (tags or [])]
    for key, value in (labels or {}).items():
        if value is None or value == "":
            continue
        value = str(value)
        if key == "task" and value.startswith("infocam.tasks."):
            value = value.split(".")[2]
        out.append(f"{key}:{value}")
    return [t[:64] for t in dict.fromkeys(out)]  # wandb caps a tag at 64 characters


def wandb_logger(
    task_name: str = "train",
    group: str | None = None,
    name: str | None = None,
    tags: Iterable[str] | None = None,
    labels: Mapping[str, Any] | None = None,
    **kwargs: Any,
):
    """Lightning's ``WandbLogger`` with group, name and tags filled in where the config leaves null."""
    from lightning.pytorch.loggers import WandbLogger

    labels = OmegaConf.to_container(labels, resolve=True) if OmegaConf.is_config(labels) else labels
    tags = OmegaConf.to_container(tags, resolve=True) if OmegaConf.is_config(tags) else tags
    return WandbLogger(
        group=group or run_group(task_name),
        name=name or run_name(task_name),
        tags=run_tags(tags, labels),
        **kwargs,
    )


def wandb_loggers(loggers: Iterable[Any]) -> list:
    from lightning.pytorch.loggers import WandbLogger

    return [logger for logger in loggers if isinstance(logger, WandbLogger)]


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The config as the run used it (interpolations resolved), as plain containers."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)


def publish_metrics(loggers: Iterable[Any], metrics_path: Path) -> None:
    """Put every value of the run's final ``metrics.json`` into each wandb run's summary."""
    targets = wandb_loggers(loggers)
    if not targets or not Path(metrics_path).is_file():
        return
    metrics = json.loads(Path(metrics_path).read_text())
    for logger in targets:
        logger.experiment.summary.update(metrics)
        logger.experiment.summary["metrics_json"] = str(metrics_path)
