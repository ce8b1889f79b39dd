"""CAM (Zhou et al. 2016, Eq. 12): the classifier-weighted sum of the last feature maps."""

from __future__ import annotations

from infocam.cams.base import ActivationCam
from infocam.registry import CAMS


@CAMS.register("cam")
def cam(region_size: int = 1, alignment: str = "same") -> ActivationCam:
    """Plain CAM; ``region_size > 1`` adds infoCAM's region sum without the subtraction (ablation)."""
    method = ActivationCam(subtract="none", region_size=region_size, alignment=alignment)
    method.name = "cam"
    return method
