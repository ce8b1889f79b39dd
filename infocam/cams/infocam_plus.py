"""infoCAM+ (Eq. 15): target-class map minus the map of the image's least-likely class, region-summed.

The least-likely class is the one with the lowest logit for that image (the classifier's
output), as the paper's text says.
"""

from __future__ import annotations

from torch import Tensor

from infocam.cams.hooks import LayerSpec
from infocam.cams.weights import PAPER_REGION_SIZE, WeightCamMethod
from infocam.registry import CAMS


@CAMS.register("infocam_plus")
class InfoCamPlusMethod(WeightCamMethod):
    """infoCAM+ (Eq. 15): the target map minus the map of the image's least-likely class, region-summed."""

    name = "infocam_plus"
    public_name = "InfoCAMPlus"

    def __init__(self, region_size: int = PAPER_REGION_SIZE, alignment: str = "same", *,
                 target_layer: LayerSpec = None, classifier: LayerSpec = None) -> None:
        super().__init__(region_size, alignment, target_layer=target_layer, classifier=classifier)

    def class_weights(self, weight: Tensor, logits: Tensor | None, target: Tensor) -> Tensor:
        return weight[target] - weight[logits.argmin(dim=1)]

    def describe(self) -> dict:
        return {**super().describe(), "subtract": "least_likely"}
