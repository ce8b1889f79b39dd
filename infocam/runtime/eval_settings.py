"""``infocam-eval``'s checks of its own settings against the checkpoint it scores.

Evaluation settings (``cam``, ``localization``, ``infomask``) only mean something to the task
that reads them: a ``cam=gradcam`` on an MI checkpoint, or ``+infomask.patch_size=14`` on a WSOL
one, would otherwise be ignored while ``config.yaml`` recorded it as used. A task declares the
settings it reads by naming them in its ``configure_evaluation`` signature.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from infocam.errors import ConfigError

#: eval.yaml's evaluation-setting groups
EVAL_SETTINGS = ("cam", "localization", "infomask")


def settings_read_by(task: Any) -> set[str]:
    """The evaluation settings ``task.configure_evaluation`` takes by name."""
    parameters = inspect.signature(task.configure_evaluation).parameters.values()
    return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name in EVAL_SETTINGS}


def _given(cfg: DictConfig, group: str, command_line: set[str] | None) -> bool:
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
    given = [group for group in unused if _given(cfg, group, command_line)]
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
