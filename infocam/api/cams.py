"""CAM methods as objects bound to a model: ``InfoCAM(model)(images)`` -> maps ``[B, H, W]``.

Thin wrappers over the registered methods (:mod:`infocam.cams`), so the maps are the ones
``infocam-eval`` scores: timm models go through their ``forward_features``/``forward_head``;
any other ``nn.Module`` (torchvision classifiers included) through a forward hook on its last
feature map and a pre-hook on its linear head, found structurally
(:class:`infocam.cams.base.FeatureTap`), or named with ``target_layer=`` / ``classifier=``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from infocam.cams.base import ActivationCam, CamMethod, CamResult
from infocam.errors import ConfigError

Size = str | tuple[int, int] | Sequence[int]
Targets = int | Sequence[int] | Tensor | None


def _device(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _targets(targets: Targets, batch: int, device: torch.device) -> Tensor | None:
    """``None`` (predicted class), one class for every image, or one per image -> ``[B]`` long."""
    if targets is None:
        return None
    if isinstance(targets, bool):
        raise ConfigError(f"targets must be class indices, got {targets!r}")
    if isinstance(targets, int):
        return torch.full((batch,), targets, dtype=torch.long, device=device)
    tensor = torch.as_tensor(targets, device=device)
    if tensor.is_floating_point() or tensor.dtype == torch.bool:
        raise ConfigError(f"targets must be integer class indices, got dtype {tensor.dtype}")
    if tensor.ndim == 0:
        tensor = tensor.expand(batch)
    if tensor.shape != (batch,):
        raise ConfigError(f"targets must be an int or [B={batch}] class indices, got shape {tuple(tensor.shape)}")
    return tensor.long()


def _resize(maps: Tensor, size: Size, images: Tensor) -> Tensor:
    from infocam.localization import upsample_maps

    if isinstance(size, str):
        if size == "features":
            return maps
        if size == "input":
            return upsample_maps(maps, images.shape[-2:])
        raise ConfigError(f"size must be 'input', 'features' or (H, W), got {size!r}")
    size = tuple(int(v) for v in size)
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"size must be 'input', 'features' or (H, W) with H, W >= 1, got {size!r}")
    return upsample_maps(maps, size)


class _BoundCam:
    """A registered CAM method bound to one model; calling it gives maps for a batch."""

    def __init__(self, model: nn.Module, method: CamMethod) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a torch nn.Module, got {type(model).__name__}")
        self.model = model
        self.method = method
        method.check_model(model)

    def compute(self, images: Tensor, targets: Targets = None) -> CamResult:
        """Logits and raw feature-grid maps (the registered method's own output), in eval mode."""
        if not isinstance(images, Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ConfigError(f"images must be a [B, C, H, W] tensor, got {shape}")
        device = _device(self.model)
        images = images.to(device)
        target = _targets(targets, images.shape[0], device)
        modes = {module: module.training for module in self.model.modules()}
        self.model.eval()  # dropout off, batch-norm statistics untouched
        try:
            return self.method.compute(self.model, images, [target])
        finally:
            for module, training in modes.items():
                module.training = training

    def __call__(self, images: Tensor, targets: Targets = None, size: Size = "input") -> Tensor:
        """Maps ``[B, H, W]`` on the model's device for ``targets`` (``None``: the predicted class),
        bilinearly resized to the input (``size="input"``), kept on the feature grid
        (``"features"``) or resized to ``(H, W)``."""
        maps = self.compute(images, targets).maps[0]
        return _resize(maps.detach(), size, images)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.method.describe().items() if k != "cam")
        return f"{type(self).__name__}({type(self.model).__name__}, {settings})"


class CAM(_BoundCam):
    """CAM (Eq. 12): the target class's weights times the last feature map (``region_size=1``)."""

    def __init__(self, model: nn.Module, target_layer: nn.Module | str | None = None, *,
                 classifier: nn.Module | str | None = None, region_size: int = 1, alignment: str = "same") -> None:
        method = ActivationCam("none", region_size, alignment, target_layer=target_layer, classifier=classifier)
        method.name = "cam"
        super().__init__(model, method)


class InfoCAM(_BoundCam):
    """infoCAM (Eq. 14): the target map minus the mean map of the other classes, summed over
    ``region_size`` x ``region_size`` windows (``subtract=False``: the region sum alone)."""

    def __init__(self, model: nn.Module, target_layer: nn.Module | str | None = None, *,
                 classifier: nn.Module | str | None = None, region_size: int = 5, alignment: str = "same",
                 subtract: bool = True) -> None:
        if not isinstance(subtract, bool):
            raise ConfigError(f"subtract must be true or false, got {subtract!r}")
        method = ActivationCam("mean" if subtract else "none", region_size, alignment,
                               target_layer=target_layer, classifier=classifier)
        method.name = "infocam"
        super().__init__(model, method)


class InfoCAMPlus(_BoundCam):
    """infoCAM+ (Eq. 15): the target map minus the map of the image's least-likely class, region-summed."""

    def __init__(self, model: nn.Module, target_layer: nn.Module | str | None = None, *,
                 classifier: nn.Module | str | None = None, region_size: int = 5, alignment: str = "same") -> None:
        method = ActivationCam("least_likely", region_size, alignment, target_layer=target_layer, classifier=classifier)
        method.name = "infocam_plus"
        super().__init__(model, method)


class GradCAM(_BoundCam):
    """Grad-CAM: ReLU of the feature map weighted by its spatially averaged gradients; any head."""

    def __init__(self, model: nn.Module, target_layer: nn.Module | str | None = None, *,
                 region_size: int = 1, alignment: str = "same") -> None:
        from infocam.cams.gradcam import GradCam

        super().__init__(model, GradCam(region_size, alignment, target_layer=target_layer))
