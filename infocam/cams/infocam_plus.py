"""infoCAM+ (Eq. 15): target-class map minus the map of the image's least-likely class, region-summed.

The least-likely class is the one with the lowest logit for that image (the classifier's
output), as the paper's text says.
"""

from __future__ import annotations

from infocam.cams.base import ActivationCam
from infocam.registry import CAMS


@CAMS.register("infocam_plus")
def infocam_plus(region_size: int = 5, alignment: str = "same") -> ActivationCam:
    method = ActivationCam(subtract="least_likely", region_size=region_size, alignment=alignment)
    method.name = "infocam_plus"
    return method
