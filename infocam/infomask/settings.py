"""Info-masking settings: defaults from ``conf/infomask/default.yaml`` (their one source),
changed layer by layer (checkpoint, then command line) and checked once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from infocam.errors import ConfigError
from infocam.runtime.shipped_conf import group_option, layered_settings

#: ``infomask.score``: the paper's logit z_t, or the point-wise MI z_t - log mean_m exp z_m
SCORES = ("logit", "pmi")
#: ``infomask.aggregate``: the 20 % rule on each pixel's mean window score, or on whole windows
AGGREGATES = ("pixel", "patch")


def default_infomask() -> dict[str, Any]:
    """The shipped defaults, read afresh (cheap; a cache would hide an edited file in a session)."""
    return group_option("infomask")


def infomask_settings(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults updated by each non-empty layer in order; an unknown key or a bad value is a
    ConfigError naming it."""
    settings = layered_settings("infomask", default_infomask(), layers)
    if settings["score"] not in SCORES:
        raise ConfigError(f"infomask.score must be one of {', '.join(SCORES)}, got {settings['score']!r}")
    if settings["aggregate"] not in AGGREGATES:
        raise ConfigError(f"infomask.aggregate must be one of {', '.join(AGGREGATES)}, got {settings['aggregate']!r}")
    if not isinstance(settings["gain_over_blank"], bool):
        raise ConfigError(f"infomask.gain_over_blank must be true or false, got {settings['gain_over_blank']!r}")
    fill = settings["fill"]
    if fill is not None and (isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill)):
        # a NaN blank makes every masked image NaN and every ink score 0.0, silently
        raise ConfigError(f"infomask.fill must be a number or null (a finite number; null is each image's minimum), got {fill!r}")
    examples = settings["num_examples"]
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise ConfigError(f"infomask.num_examples must be a count >= 0 (rows of infomask_grid.png), got {examples!r}")
    if not 0.0 <= float(settings["threshold"]) < 1.0:
        raise ConfigError(f"infomask.threshold must be in [0, 1), got {settings['threshold']}")
    return settings
