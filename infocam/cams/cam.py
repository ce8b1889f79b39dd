"""CAM (Zhou et al. 2016, Eq. 12): the classifier-weighted sum of the last feature maps."""

from __future__ import annotations

from torch import Tensor

from infocam.cams.hooks import LayerSpec
from infocam.cams.weights import WeightCamMethod
from infocam.registry import CAMS


@CAMS.register("cam")
class PlainCamMethod(WeightCamMethod):
    """CAM (Eq. 12): the target class's weights times the last feature map. ``region_size > 1``
    adds infoCAM's region sum without the subtraction (the paper's ablation)."""

    name = "cam"
    public_name = "CAM"

    def __init__(self, region_size: int = 1, alignment: str = "same", *,
                 target_layer: LayerSpec = None, classifier: LayerSpec = None) -> None:
        super().__init__(region_size, alignment, target_layer=target_layer, classifier=classifier)

    def class_weights(self, weight: Tensor, logits: Tensor | None, target: Tensor) -> Tensor:
        return weight[target]

    def describe(self) -> dict:
        return {**super().describe(), "subtract": "none"}
