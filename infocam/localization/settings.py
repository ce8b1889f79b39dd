"""Map -> box settings: defaults from ``conf/localization/default.yaml`` (their one source),
overridden layer by layer (checkpoint, then command line), and checked once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping


from infocam.runtime.shipped_conf import group_option, layered_settings
from infocam.errors import ConfigError
from infocam.localization.boxes import BACKENDS

#: ``localization.protocol`` values: the paper's (:mod:`.paper_metrics`) and Choe et al.'s (:mod:`.wsoleval`)
PROTOCOLS = ("infocam", "wsolevaluation")


@lru_cache(maxsize=1)
def _defaults() -> tuple[tuple[str, Any], ...]:
    return tuple(group_option("localization").items())


def default_localization() -> dict[str, Any]:
    return dict(_defaults())


def localization_settings(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults updated by each non-empty layer in order; unknown keys and bad values are
    a ConfigError naming the key."""
    settings = layered_settings("localization", default_localization(), layers)
    check_ranges(settings)
    if settings["backend"] not in BACKENDS:
        raise ConfigError(f"localization.backend must be one of {BACKENDS}, got {settings['backend']!r}")
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


def _fraction(key: str, value: Any, low_open: bool, high_open: bool) -> float:
    """``value`` as a float in [0, 1] with the given open ends, else a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    value = float(value)
    below = value <= 0 if low_open else value < 0
    above = value >= 1 if high_open else value > 1
    if below or above or value != value:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ConfigError(f"{key} must be in {interval} (a fraction, not a percent), got {value!r}")
    return value


def check_ranges(settings: Mapping[str, Any]) -> None:
    """Every threshold in its range, before a single map is scored: an IoU of 2 or 1.5 would
    otherwise score 0 and be reported as a result."""
    _fraction("localization.threshold", settings["threshold"], low_open=False, high_open=True)
    _fraction("localization.iou_threshold", settings["iou_threshold"], low_open=True, high_open=False)
    ious = settings["iou_thresholds"]
    if isinstance(ious, (str, bytes)) or not isinstance(ious, (list, tuple)) or not ious:
        raise ConfigError(f"localization.iou_thresholds must be a non-empty list such as [0.3,0.5,0.7], got {ious!r}")
    for value in ious:
        _fraction("localization.iou_thresholds", value, low_open=True, high_open=False)
    curve = settings["curve_thresholds"]
    if isinstance(curve, (list, tuple)):
        if not curve:
            raise ConfigError("localization.curve_thresholds must be a count N or a non-empty list of thresholds")
        for value in curve:
            _fraction("localization.curve_thresholds", value, low_open=False, high_open=True)
    elif isinstance(curve, bool) or not isinstance(curve, int) or curve < 1:
        raise ConfigError(f"localization.curve_thresholds must be a count N >= 1 or a list of thresholds in [0, 1), got {curve!r}")
    if settings["connectivity"] not in (4, 8) or isinstance(settings["connectivity"], bool):
        raise ConfigError(f"localization.connectivity must be 4 or 8, got {settings['connectivity']!r}")
    overlays = settings["num_overlays"]
    if isinstance(overlays, bool) or not isinstance(overlays, int) or overlays < 0:
        raise ConfigError(f"localization.num_overlays must be a count >= 0, got {overlays!r}")
