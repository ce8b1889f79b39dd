"""``infocam-eval``'s settings reconciled with the checkpoint it scores.

- The task class and its hyper-parameters come from the checkpoint (``infocam_task``, read with
  ``weights_only=True``), without the ImageNet weights file its model was built from.
- Evaluation settings (``cam``, ``localization``, ``infomask``) only mean something to the task
  that reads them: a ``cam=gradcam`` on an MI checkpoint, or ``+infomask.patch_size=14`` on a WSOL
  one, would otherwise be ignored while ``config.yaml`` recorded it as used. A task declares the
  settings it reads by naming them in its ``configure_evaluation`` signature.
- The data settings that make a test split what the training run held out are taken from the
  checkpoint unless the command line sets them; the class count must match; one test batch is
  checked before the test loop starts.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from infocam.errors import ConfigError, InfocamError
from infocam.entry.messages import summary_line
from infocam.runtime.checkpoints import load_checkpoint, recorded_task_class

log = logging.getLogger(__name__)


def prepare_evaluation(cfg: DictConfig, ckpt_path: Path) -> tuple[L.LightningModule, L.LightningDataModule]:
    """The checkpoint's task, configured for this eval, and the DataModule it scores (``cfg``
    updated so that config.yaml records what was evaluated)."""
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
    return task, datamodule


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
            f"({summary_line(err)}); evaluate it with the data= it was trained on"
        ) from None


#: data settings that make a test split what the training run held out: an eval that does not
#: set them on its command line takes them from the checkpoint (resolution, classes, val/test
#: halves, and the balance, which reduces the test split with balance_splits=all or authors)
DATA_IDENTITY = ("image_size", "num_classes", "seed", "val_fraction", "eval_transform", "balance", "balance_splits")
#: the recipe's machine settings, inherited the same way (``num_workers: 1`` of a recipe for a
#: 2-core machine, where data/cub.yaml's default of 4 makes the DataLoader warn on every eval)
RECIPE_SETTINGS = ("num_workers",)


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
        for key in (*DATA_IDENTITY, *RECIPE_SETTINGS):
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


#: eval.yaml's evaluation-setting groups
EVAL_SETTINGS = ("cam", "localization", "infomask")


def settings_read_by(task: Any) -> set[str]:
    """The evaluation settings ``task.configure_evaluation`` takes by name."""
    parameters = inspect.signature(task.configure_evaluation).parameters.values()
    return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name in EVAL_SETTINGS}


def given_on_command_line(cfg: DictConfig, group: str, command_line: set[str] | None) -> bool:
    """Whether the user set ``group`` (on the command line, or to a non-default value)."""
    if command_line is not None and any(key == group or key.startswith(f"{group}.") for key in command_line):
        return True
    value = cfg.get(group)
    if group == "localization":
        from infocam.localization.settings import default_localization

        return value is not None and OmegaConf.to_container(value, resolve=True) != default_localization()
    return bool(value)


def check_eval_settings(cfg: DictConfig, task: Any, ckpt_path: Path, command_line: set[str] | None) -> None:
    """Refuse an evaluation setting the checkpoint's task does not read; drop the unread
    groups' defaults from ``cfg`` so that config.yaml records only what was used."""
    used = settings_read_by(task)
    unused = [group for group in EVAL_SETTINGS if group not in used and group in cfg]
    given = [group for group in unused if given_on_command_line(cfg, group, command_line)]
    if given:
        reads = ", ".join(sorted(used)) or "no evaluation settings"
        raise ConfigError(
            f"{ckpt_path}: a {type(task).__name__} checkpoint does not use {' or '.join(given)} settings "
            f"(it reads {reads}); drop {', '.join(f'{g}=...' for g in given)}"
        )
    with open_dict(cfg):
        for group in unused:
            del cfg[group]


def check_class_count(task: Any, data_cfg: DictConfig, ckpt_path: Path) -> None:
    """``data.num_classes`` must be the checkpoint's class count: labels of 3 classes scored by a
    4-class head pass every batch check, yet the numbers mean nothing."""
    data_classes = data_cfg.get("num_classes")
    task_classes = (getattr(task, "hparams", None) or {}).get("num_classes")
    if data_classes is None or task_classes is None:
        return
    if int(data_classes) != int(task_classes):
        raise ConfigError(
            f"{ckpt_path}: the checkpoint has {int(task_classes)} classes, data.num_classes={data_classes}; "
            f"leave data.num_classes out (it is taken from the checkpoint) or set it to {int(task_classes)}"
        )


def load_task(task_class: type, ckpt_path: Path, **kwargs: Any) -> Any:
    """``task_class.load_from_checkpoint``, with a checkpoint of another model version (its
    state dict does not fit the model its hyper-parameters build) as one line."""
    try:
        return task_class.load_from_checkpoint(ckpt_path, **kwargs)
    except RuntimeError as err:
        text = str(err)
        if "Error(s) in loading state_dict" not in text:
            raise
        details = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        first = details[0] if details else text.splitlines()[0]
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        raise ConfigError(
            f"{ckpt_path}: its weights do not fit the model its settings build (another version of the "
            f"model?): {first[:200]}{more}"
        ) from None
