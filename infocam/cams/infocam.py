"""infoCAM (Eq. 14): target-class map minus the mean map of the other classes, region-summed."""

from __future__ import annotations

from infocam.cams.base import ActivationCam
from infocam.errors import ConfigError
from infocam.registry import CAMS


@CAMS.register("infocam")
def infocam(region_size: int = 5, subtract: bool = True, alignment: str = "same") -> ActivationCam:
    """``subtract=False`` keeps only the region sum; with ``region_size=1`` too it is plain CAM."""
    if not isinstance(subtract, bool):
        raise ConfigError(f"cam.subtract must be true or false, got {subtract!r}")
    method = ActivationCam(subtract="mean" if subtract else "none", region_size=region_size, alignment=alignment)
    method.name = "infocam"
    return method
