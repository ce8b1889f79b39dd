"""Map -> box settings: defaults from ``conf/localization/default.yaml`` (their one source),
overridden layer by layer (checkpoint, then command line), and checked once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from omegaconf import OmegaConf

from infocam.configs import group_option
from infocam.errors import ConfigError
from infocam.localization.boxes import BACKENDS


@lru_cache(maxsize=1)
def _defaults() -> tuple[tuple[str, Any], ...]:
    return tuple(group_option("localization").items())


def default_localization() -> dict[str, Any]:
    return dict(_defaults())


def localization_settings(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults updated by each non-empty layer in order; unknown keys and bad values are
    a ConfigError naming the key."""
    settings = default_localization()
    for layer in layers:
        if layer is None:
            continue
        layer = OmegaConf.to_container(layer, resolve=True) if OmegaConf.is_config(layer) else dict(layer)
        unknown = set(layer) - set(settings)
        if unknown:
            raise ConfigError(f"unknown localization keys {sorted(unknown)}; known: {sorted(settings)}")
        settings.update(layer)
    if not 0 <= float(settings["threshold"]) < 1:
        raise ConfigError(f"localization.threshold must be in [0, 1), got {settings['threshold']}")
    if settings["backend"] not in BACKENDS:
        raise ConfigError(f"localization.backend must be one of {BACKENDS}, got {settings['backend']!r}")
    return settings
