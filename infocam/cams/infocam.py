"""infoCAM (Eq. 14): target-class map minus the mean map of the other classes, region-summed."""

from __future__ import annotations

from torch import Tensor

from infocam.cams.hooks import LayerSpec
from infocam.cams.weights import PAPER_REGION_SIZE, WeightCamMethod
from infocam.errors import ConfigError
from infocam.registry import CAMS


@CAMS.register("infocam")
class InfoCamMethod(WeightCamMethod):
    """infoCAM (Eq. 14): the target map minus the mean map of the other classes, summed over
    ``region_size`` x ``region_size`` windows (``subtract=False``: the region sum alone; with
    ``region_size=1`` too it is plain CAM)."""

    name = "infocam"
    public_name = "InfoCAM"

    def __init__(self, region_size: int = PAPER_REGION_SIZE, subtract: bool = True, alignment: str = "same", *,
                 target_layer: LayerSpec = None, classifier: LayerSpec = None) -> None:
        if not isinstance(subtract, bool):
            raise ConfigError(f"cam.subtract must be true or false, got {subtract!r}")
        super().__init__(region_size, alignment, target_layer=target_layer, classifier=classifier)
        self.subtract = subtract

    def class_weights(self, weight: Tensor, logits: Tensor | None, target: Tensor) -> Tensor:
        w = weight[target]  # [B, K]
        if not self.subtract:
            return w
        num_classes = weight.shape[0]
        if num_classes < 2:
            raise ConfigError("infoCAM needs at least two classes")
        return w - (weight.sum(0, keepdim=True) - w) / (num_classes - 1)

    def describe(self) -> dict:
        return {**super().describe(), "subtract": "mean" if self.subtract else "none"}
