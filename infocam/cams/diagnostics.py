"""How much infoCAM's subtraction term (Eq. 14) can change a CAM, measured on the model itself.

With ``S = sum_c w_c`` (the linear head's weights summed over the M classes), infoCAM's weight
for class y is ``w_y - (S - w_y) / (M - 1) = (M w_y - S) / (M - 1)``: a rescaled CAM weight plus
one direction shared by every class. Softmax cross-entropy has zero gradient along S (the
probabilities sum to one, so ``sum_c dCE/dz_c = 0``), so plain SGD leaves S at its initial value;
Adam's per-coordinate scaling, weight decay and the initialisation are what can make it matter.
Two numbers say how much it did:

- ``class_weight_sum_ratio``: ``||S|| / mean_c ||w_c||`` (0 when the class weights cancel).
- ``cam_infocam_map_corr``: the mean per-image Pearson correlation of the CAM and the infoCAM
  map of the ground-truth class at the same region size R (1 = the subtraction changes nothing
  but the scale, which the min-max normalisation of the box step removes).

infoCAM+ (Eq. 15) subtracts one image-specific class, not S, so none of this applies to it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from infocam.cams.cam import PlainCamMethod
from infocam.cams.infocam import InfoCamMethod
from infocam.cams.weights import gap_linear_problem, linear_classifier


def class_weight_sum_ratio(weight: Tensor) -> Tensor:
    """``||sum_c w_c|| / mean_c ||w_c||`` for the head's ``weight[M, K]``."""
    weight = weight.detach().double()
    return weight.sum(0).norm() / weight.norm(dim=1).mean().clamp_min(torch.finfo(torch.float64).tiny)


def per_image_pearson(a: Tensor, b: Tensor) -> Tensor:
    """Pearson correlation of each image's two maps ``[B, h, w]`` -> ``[B]`` (NaN where a map is flat).

    torchmetrics' ``pearson_corrcoef`` takes [N, d] columns but warns and clamps on flat maps;
    here a flat map (a correlation that does not exist) is NaN, and the caller leaves it out.
    """
    a = a.detach().double().flatten(1)
    b = b.detach().double().flatten(1)
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    denom = a.norm(dim=1) * b.norm(dim=1)
    corr = (a * b).sum(dim=1) / denom
    return torch.where(denom > 0, corr, torch.full_like(corr, float("nan")))


class CamInfocamAgreement(Metric):
    """Mean per-image Pearson correlation of the CAM and infoCAM maps of the ground-truth class.

    Both maps come from the batch's feature map at the configured R and alignment: the one the
    configured weight-based CAM method already computed (``CamResult.features``), or, after a
    gradient method, one ``forward_features`` pass. Images where either map is
    flat are left out of the mean; the states are sums, so DDP gives the one-process value.
    """

    full_state_update = False

    def __init__(self, region_size: int = 1, alignment: str = "same", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cam = PlainCamMethod(region_size, alignment)
        self.infocam = InfoCamMethod(region_size, subtract=True, alignment=alignment)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    @staticmethod
    def applies_to(model: nn.Module) -> bool:
        """Only models with a GAP + linear head have CAM / infoCAM weights to compare."""
        return gap_linear_problem(model) is None

    @torch.no_grad()
    def update(self, model: nn.Module, images: Tensor, labels: Tensor, features: Tensor | None = None) -> None:
        weight = linear_classifier(model, "infocam").weight
        if features is None:
            features = model.forward_features(images)
        cam = self.cam.maps_from(features, weight, None, labels)
        info = self.infocam.maps_from(features, weight, None, labels)
        corr = per_image_pearson(cam, info)
        valid = ~torch.isnan(corr)
        self.total += corr[valid].sum()
        self.count += valid.sum()

    def compute(self) -> Tensor:
        if int(self.count) == 0:
            return torch.tensor(float("nan"), dtype=torch.float64, device=self.total.device)
        return self.total / self.count


__all__ = ["CamInfocamAgreement", "class_weight_sum_ratio", "per_image_pearson"]
