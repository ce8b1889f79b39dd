"""CAM methods as objects bound to a model: ``InfoCAM(model)(images)`` -> maps ``[B, H, W]``.

The classes are built from the registered methods (:data:`infocam.registry.CAMS`): every
method with a ``public_name`` becomes ``infocam.<public_name>``, with that method's options
and defaults, so the maps are the ones ``infocam-eval`` scores. timm models go through their
``forward_features``/``forward_head``; any other ``nn.Module`` (torchvision classifiers
included) through a forward hook on its last feature map and a pre-hook on its linear head,
found structurally (:class:`infocam.cams.hooks.FeatureTap`), or named with ``target_layer=``
(a module, its dotted name, or a one-element list as pytorch-grad-cam takes) / ``classifier=``.

Images are moved to the model's device and converted to its dtype (integer images are scaled
to [0, 1] first, as torchvision's ``to_dtype(scale=True)`` does; normalise them yourself when
the model expects normalised input). Non-finite pixels are refused in one line.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from infocam.cams.base import CamMethod, CamResult
from infocam.errors import ConfigError
from infocam.registry import CAMS

Size = str | tuple[int, int] | Sequence[int]
Targets = int | Sequence[int] | Tensor | None


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the model computes, and in which floating dtype (its first floating parameter/buffer)."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = next((t.dtype for t in tensors if t.is_floating_point()), torch.float32)
    return device, dtype


def _images(images: Any, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``[B, C, H, W]`` on the model's device and in its dtype, with finite pixels."""
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ConfigError(f"images must be a [B, C, H, W] tensor, got {shape}")
    if images.dtype == torch.bool or images.is_complex():
        raise ConfigError(f"images must be a real-valued tensor, got dtype {images.dtype}")
    if not images.is_floating_point():
        from torchvision.transforms.v2.functional import to_dtype

        return to_dtype(images.to(device), dtype, scale=True)  # uint8 0..255 -> [0, 1]
    images = images.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(images).all()):  # one reduction; counted only when refusing
        bad = int((~torch.isfinite(images)).sum())
        raise ConfigError(f"images hold {bad} NaN/inf value(s) of {images.numel()}; CAM maps need finite pixels")
    return images


def _targets(targets: Targets, batch: int, device: torch.device) -> Tensor | None:
    """``None`` (predicted class), one class for every image, or one per image -> ``[B]`` long."""
    if targets is None:
        return None
    if isinstance(targets, (bool, str, bytes)):
        raise ConfigError(f"targets must be class indices (an int, a sequence or a tensor), got {targets!r}")
    if isinstance(targets, int):
        return torch.full((batch,), targets, dtype=torch.long, device=device)
    try:
        tensor = torch.as_tensor(targets, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"targets must be class indices (an int, a sequence or a tensor), got {targets!r}") from None
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


class BoundCam:
    """A registered CAM method bound to one model; calling it gives maps for a batch.

    Subclasses are built by :func:`bound_class`; ``method_class`` is the registered method.
    """

    method_class: type[CamMethod]

    def __init__(self, model: nn.Module, target_layer: Any = None, **options: Any) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a torch nn.Module, got {type(model).__name__}")
        takes = [name for name in inspect.signature(self.method_class).parameters if name != "target_layer"]
        unknown = sorted(set(options) - set(takes))
        if unknown:
            raise ConfigError(f"{type(self).__name__} does not take {', '.join(unknown)}; it takes: {', '.join(takes)}")
        self.model = model
        self.method = self.method_class(target_layer=target_layer, **options)
        self.method.check_model(model)

    def compute(self, images: Tensor, targets: Targets = None) -> CamResult:
        """Logits and raw feature-grid maps (the registered method's own output), in eval mode."""
        device, dtype = _device_dtype(self.model)
        images = _images(images, device, dtype)
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


def bound_class(name: str) -> type[BoundCam]:
    """``infocam.<public_name>`` for the registered method ``name``: its docstring, and the
    signature ``(model, target_layer=None, *, <the method's other options and defaults>)``."""
    method_class = CAMS.get(name)
    options = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(method_class).parameters.values() if p.name != "target_layer"]
    signature = inspect.Signature([
        inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=nn.Module),
        inspect.Parameter("target_layer", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
        *options,
    ])
    public = method_class.public_name
    return type(public, (BoundCam,), {
        "method_class": method_class, "__doc__": method_class.__doc__, "__module__": __name__,
        "__qualname__": public, "__signature__": signature,
    })


#: every registered method that names a public class, bound to a model
PUBLIC = {CAMS.get(name).public_name: bound_class(name) for name in CAMS.available()
          if getattr(CAMS.get(name), "public_name", None)}
CAM = PUBLIC["CAM"]
InfoCAM = PUBLIC["InfoCAM"]
InfoCAMPlus = PUBLIC["InfoCAMPlus"]
GradCAM = PUBLIC["GradCAM"]

__all__ = ["BoundCam", "CAM", "GradCAM", "InfoCAM", "InfoCAMPlus", "bound_class"]
