"""Where the Hydra configs live, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def config_dir() -> Path:
    """``infocam/conf`` in an installed wheel (packaging maps the top-level ``conf/`` there),
    else ``conf/`` beside the package in a source checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "conf"
    return installed if (installed / "train.yaml").is_file() else package.parent / "conf"


def group_option(group: str, option: str = "default") -> dict[str, Any]:
    """One config group option as a plain dict, e.g. the shipped ``localization/default.yaml``:
    code that needs a group's defaults reads them here, so the YAML file is their one source."""
    return OmegaConf.to_container(OmegaConf.load(config_dir() / group / f"{option}.yaml"), resolve=True)
