"""Where the Hydra configs live, in a source checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from omegaconf import OmegaConf

from infocam.errors import ConfigError


def config_dir() -> Path:
    """``infocam/conf`` in an installed wheel (packaging maps the top-level ``conf/`` there),
    else ``conf/`` beside the package in a source checkout."""
    package = Path(__file__).resolve().parents[1]  # infocam/, this file being infocam/runtime/shipped_conf.py
    installed = package / "conf"
    return installed if (installed / "train.yaml").is_file() else package.parent / "conf"


def group_option(group: str, option: str = "default") -> dict[str, Any]:
    """One config group option as a plain dict, e.g. the shipped ``localization/default.yaml``:
    code that needs a group's defaults reads them here, so the YAML file is their one source."""
    return OmegaConf.to_container(OmegaConf.load(config_dir() / group / f"{option}.yaml"), resolve=True)


def layered_settings(group: str, defaults: dict[str, Any], layers: tuple[Mapping[str, Any] | None, ...]) -> dict[str, Any]:
    """``defaults`` updated by each non-empty layer in order (checkpoint, then command line), for
    settings groups whose keys are fixed by their YAML file (``localization``, ``infomask``): an
    unknown key is one ConfigError naming the known ones."""
    settings = dict(defaults)
    for layer in layers:
        if layer is None:
            continue
        layer = OmegaConf.to_container(layer, resolve=True) if OmegaConf.is_config(layer) else dict(layer)
        unknown = set(layer) - set(settings)
        if unknown:
            raise ConfigError(f"unknown {group} settings {sorted(unknown)}; known: {', '.join(settings)}")
        settings.update(layer)
    return settings


def run_suffix() -> str:
    """What makes a default run directory unique beside its one-second timestamp: the process
    id (under torchrun, the id of its agent, which every local rank shares)."""
    return str(os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else os.getpid())


# `${run_suffix:}` in conf/hydra/default.yaml; registered when the CLI imports this module
OmegaConf.register_new_resolver("run_suffix", run_suffix, replace=True)
