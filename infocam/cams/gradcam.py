"""Grad-CAM (Selvaraju et al. 2017) for models without a GAP + linear head.

Why in-house rather than the ``grad-cam`` package: its ``GradCAM.__call__`` returns numpy
arrays that it has already min-max scaled and resized to the input with OpenCV, one image at
a time on the CPU. The localisation path here needs the raw feature-resolution maps of the
whole batch, on the model's device, for two targets (GT and predicted) from one forward
pass; reshaping the package's output back would cost more than these few lines. (Not
timed: the package is not installed in this environment.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infocam.cams.base import CamMethod, CamResult, region_sum, resolve_targets
from infocam.registry import CAMS


class GradCam(CamMethod):
    """ReLU(sum_k alpha_k g_k) with alpha_k the spatial mean of d logit_y / d g_k.

    Features come from ``forward_features`` and logits from ``forward_head`` (any head). One
    forward pass, one ``autograd.grad`` per target (batched over images: each image's logit
    depends only on its own features, so the gradient of the summed logits is per image).
    """

    name = "gradcam"

    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        # Lightning evaluates under inference mode; gradients need it off (and a normal tensor).
        with torch.inference_mode(False), torch.enable_grad():
            images = images.clone()
            features = model.forward_features(images)
            if not features.requires_grad:
                features.requires_grad_(True)
            logits = model.forward_head(features)
            resolved = [t.clone() for t in resolve_targets(targets, logits.detach())]
            maps = []
            for i, target in enumerate(resolved):
                score = logits.gather(1, target[:, None]).sum()
                (grad,) = torch.autograd.grad(score, features, retain_graph=i + 1 < len(resolved))
                alpha = grad.mean(dim=(2, 3))
                cam = torch.relu(torch.einsum("bk,bkhw->bhw", alpha, features.detach()))
                maps.append(region_sum(cam.float(), self.region_size, self.alignment))
        return CamResult(logits=logits.detach(), maps=maps)


@CAMS.register("gradcam")
def gradcam(region_size: int = 1, alignment: str = "same") -> GradCam:
    return GradCam(region_size=region_size, alignment=alignment)
