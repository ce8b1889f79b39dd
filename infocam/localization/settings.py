"""Map -> box settings: defaults from ``conf/localization/default.yaml`` (their one source),
overridden layer by layer (checkpoint, then command line), and checked once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from omegaconf import OmegaConf

from infocam.runtime.configs import group_option
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
    from infocam.wsoleval.protocol import PROTOCOLS

    if settings["protocol"] not in PROTOCOLS:
        raise ConfigError(f"localization.protocol must be one of {PROTOCOLS}, got {settings['protocol']!r}")
    if settings["protocol"] == "wsolevaluation":
        spec = settings["curve_thresholds"]
        if isinstance(spec, bool) or not isinstance(spec, int) or spec < 2:
            raise ConfigError(
                "localization.protocol=wsolevaluation takes curve_thresholds as a count N (thresholds "
                f"np.arange(0, 1, 1/N), e.g. 100 or 1000), got {spec!r}"
            )
    elif settings["save_scoremaps"]:
        raise ConfigError("localization.save_scoremaps=true needs localization.protocol=wsolevaluation")
    return settings
