"""``cam=pytorch_grad_cam``: any method of the ``grad-cam`` package (pytorch-grad-cam) as a
registered CAM, so ``infocam-eval`` and ``sweep=`` score the field's methods with our box
metrics on the same checkpoint.

The package computes the maps (its own code, called as its README shows: the method class on
``[target_layer]``, then ``cam(input_tensor, targets=[ClassifierOutputTarget(c), ...])``); this
module only chooses the layer, resolves the targets and hands the maps on as tensors. Its maps
are already min-max scaled per image and resized to the input, which the box code accepts as
it is (it normalises and resizes again, idempotently). ``target_layer=None`` picks the layer
structurally (:func:`infocam.cams.hooks.discover_layers`): the last feature map before the
pooled head, e.g. ``layer4`` of a ResNet, ``features`` of the VGG/GAP-CNN backbones.

``method_kwargs`` are checked against the method's constructor when the method is built (at
start, not at the first test batch); ``batch_size``, which ScoreCAM reads as an attribute and
does not take in its constructor, is set on the object. The package's tqdm progress bars
(ScoreCAM, AblationCAM: one line per image) are switched off while it runs.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from functools import lru_cache, partial
from types import ModuleType, SimpleNamespace
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from infocam.cams.base import CamMethod, CamResult, region_sum, resolve_targets
from infocam.cams.hooks import LayerSpec, discover_layers, resolve_module
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


def method_options(cls: type) -> tuple[set[str], set[str]]:
    """(constructor options, attributes the method reads without taking them) of a package class."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return {"*"}, set()
    options = set(parameters) - {"self", "model", "target_layers"}
    try:  # ScoreCAM: `if hasattr(self, "batch_size")` in its weights, no constructor argument
        reads_batch_size = "self.batch_size" in inspect.getsource(cls)
    except (OSError, TypeError):
        reads_batch_size = False
    return options, ({"batch_size"} - options if reads_batch_size else set())


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """The package's modules that call ``tqdm.tqdm(...)`` see a disabled tqdm while it runs."""
    import tqdm

    quiet = SimpleNamespace(tqdm=partial(tqdm.tqdm, disable=True))
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith("pytorch_grad_cam.") and getattr(m, "tqdm", None) is tqdm]
    for module in patched:
        module.tqdm = quiet
    try:
        yield
    finally:
        for module in patched:
            module.tqdm = tqdm


@CAMS.register("pytorch_grad_cam")
class PytorchGradCamMethod(CamMethod):
    """One of pytorch-grad-cam's methods, by class name (``method=GradCAMPlusPlus``)."""

    name = "pytorch_grad_cam"

    def __init__(self, method: str = "GradCAM", target_layer: LayerSpec = None, region_size: int = 1,
                 alignment: str = "same", method_kwargs: dict | None = None) -> None:
        super().__init__(region_size, alignment, target_layer=target_layer)
        methods = available_methods()
        if method not in methods:
            raise ConfigError(f"cam.method={method!r} is not a pytorch-grad-cam method; it exports {', '.join(methods)}")
        self.method = method
        if method_kwargs is not None and not isinstance(method_kwargs, dict):
            raise ConfigError(f"cam.method_kwargs must be a mapping of {method}'s options, got {method_kwargs!r}")
        self.method_kwargs = dict(method_kwargs or {})
        options, attributes = method_options(getattr(_package(), method))
        unknown = sorted(set(self.method_kwargs) - options - attributes) if "*" not in options else []
        if unknown:
            takes = ", ".join(sorted(options | attributes)) or "no options"
            raise ConfigError(f"cam.method_kwargs: {method} does not take {', '.join(unknown)}; it takes: {takes}")
        self.attributes = {k: self.method_kwargs.pop(k) for k in attributes & set(self.method_kwargs)}

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
            layer = self.layer(model, images)
            seen: list[Any] = []
            handle = layer.register_forward_hook(lambda module, inputs, output: seen.append(output))
            try:
                with torch.no_grad():
                    logits = model(images)
            finally:
                handle.remove()
            self.check_layer_output(layer, model, seen)
            maps = []
            for target in resolve_targets(targets, logits):
                cam = cls(model=model, target_layers=[layer], **self.method_kwargs)
                for key, value in self.attributes.items():
                    setattr(cam, key, value)
                try:
                    with quiet_progress():
                        out = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in target.tolist()])
                finally:
                    _release(cam)
                maps.append(region_sum(torch.as_tensor(out, device=images.device).float(), self.region_size, self.alignment))
        return CamResult(logits=logits.detach(), maps=maps)

    def check_layer_output(self, layer: nn.Module, model: nn.Module, seen: list[Any]) -> None:
        """One line where the package would fail deep inside: a layer that did not run, or gives
        no [B, K, h, w] map (a transformer's tokens need the package's ``reshape_transform``)."""
        name = next((n for n, m in model.named_modules() if m is layer), type(layer).__name__)
        if not seen:
            raise ConfigError(f"cam.target_layer={name} did not run in {type(model).__name__}'s forward")
        output = seen[-1]
        if "reshape_transform" not in self.method_kwargs and not (isinstance(output, Tensor) and output.ndim == 4):
            shape = list(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ConfigError(
                f"cam.target_layer={name} gives {shape}, not a [B, K, h, w] feature map "
                f"(cam=pytorch_grad_cam needs a convolutional layer, e.g. the last block before the pooled head)"
            )

    def describe(self) -> dict:
        out = {**super().describe(), "method": self.method}
        if isinstance(self.target_layer, str):
            out["target_layer"] = self.target_layer
        return out
