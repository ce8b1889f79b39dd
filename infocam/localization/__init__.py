"""Localisation: score maps to boxes and IoU for whole batches (:mod:`.boxes`), with a compiled
CPU kernel (:mod:`._run_components`) behind the ``numba`` backend."""

from infocam.localization import boxes as _boxes
from infocam.localization.boxes import *  # noqa: F401,F403  (the public API lives in boxes)

__all__ = list(_boxes.__all__)
