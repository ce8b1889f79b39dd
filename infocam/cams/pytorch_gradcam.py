"""``cam=pytorch_grad_cam``: any method of the ``grad-cam`` package (pytorch-grad-cam) as a
registered CAM, so ``infocam-eval`` and ``sweep=`` score the field's methods with our box
metrics on the same checkpoint.

The package computes the maps (its own code, called as its README shows: the method class on
``[target_layer]``, then ``cam(input_tensor, targets=[ClassifierOutputTarget(c), ...])``); this
module only chooses the layer, resolves the targets and hands the maps on as tensors. Its maps
are already min-max scaled per image and resized to the input, which the box code accepts as
it is (it normalises and resizes again, idempotently). ``target_layer=None`` picks the layer
structurally (:func:`infocam.cams.base.discover_layers`): the last feature map before the
pooled head, e.g. ``layer4`` of a ResNet, ``features`` of the VGG/GAP-CNN backbones.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from infocam.cams.base import CamMethod, CamResult, discover_layers, region_sum, resolve_module, resolve_targets
from infocam.errors import ConfigError
from infocam.registry import CAMS

EXTRA_HINT = 'cam=pytorch_grad_cam needs the grad-cam package: pip install "infocam[cams]"'


def _package() -> ModuleType:
    try:
        import pytorch_grad_cam
    except ImportError:
        raise ConfigError(EXTRA_HINT) from None
    return pytorch_grad_cam


@lru_cache(maxsize=1)
def available_methods() -> tuple[str, ...]:
    """Classes the package exports that are built on ``target_layers`` (GradCAM, ScoreCAM, ...)."""
    package = _package()
    names = []
    for name in dir(package):
        obj = getattr(package, name)
        if not inspect.isclass(obj) or "target_layers" not in inspect.signature(obj.__init__).parameters:
            continue
        if "targets" in inspect.signature(getattr(obj, "forward", obj.__call__)).parameters:  # not its hook helper
            names.append(name)
    return tuple(sorted(names))


def _release(cam: Any) -> None:
    """Remove the package's hooks from the model (its context manager, where it has one)."""
    if hasattr(cam, "__exit__"):
        cam.__exit__(None, None, None)
    for base in getattr(cam, "base_cam_per_layer", ()):  # RefineCAM: one method per layer
        _release(base)


class PytorchGradCam(CamMethod):
    """One of pytorch-grad-cam's methods, by class name (``method=GradCAMPlusPlus``)."""

    name = "pytorch_grad_cam"

    def __init__(self, method: str = "GradCAM", target_layer: str | nn.Module | None = None, region_size: int = 1,
                 alignment: str = "same", method_kwargs: dict | None = None) -> None:
        super().__init__(region_size, alignment, target_layer=target_layer)
        methods = available_methods()
        if method not in methods:
            raise ConfigError(f"cam.method={method!r} is not a pytorch-grad-cam method; it exports {', '.join(methods)}")
        self.method = method
        self.method_kwargs = dict(method_kwargs or {})

    def check_model(self, model: nn.Module) -> None:
        if self.target_layer is not None:
            resolve_module(model, self.target_layer, "cam.target_layer")

    def layer(self, model: nn.Module, images: Tensor) -> nn.Module:
        if self.target_layer is not None:
            return resolve_module(model, self.target_layer, "cam.target_layer")
        target, _ = discover_layers(model, images)
        if target is None:
            raise ConfigError(f"cam=pytorch_grad_cam found no feature map in {type(model).__name__}; set cam.target_layer")
        return target

    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        cls = getattr(_package(), self.method)
        # Lightning evaluates under inference mode; the package backpropagates
        with torch.inference_mode(False), torch.enable_grad():
            images = images.clone()
            with torch.no_grad():
                logits = model(images)
            layer = self.layer(model, images)
            maps = []
            for target in resolve_targets(targets, logits):
                cam = cls(model=model, target_layers=[layer], **self.method_kwargs)
                try:
                    out = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in target.tolist()])
                finally:
                    _release(cam)
                maps.append(region_sum(torch.as_tensor(out, device=images.device).float(), self.region_size, self.alignment))
        return CamResult(logits=logits.detach(), maps=maps)

    def describe(self) -> dict:
        out = {**super().describe(), "method": self.method}
        if isinstance(self.target_layer, str):
            out["target_layer"] = self.target_layer
        return out


@CAMS.register("pytorch_grad_cam")
def pytorch_grad_cam(method: str = "GradCAM", target_layer: str | None = None, region_size: int = 1,
                     alignment: str = "same", method_kwargs: dict | None = None) -> PytorchGradCam:
    return PytorchGradCam(method, target_layer, region_size, alignment, method_kwargs)
