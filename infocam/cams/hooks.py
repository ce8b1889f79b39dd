"""Hook discovery for any ``nn.Module``: which layer gives the last feature map, which
``nn.Linear`` is the head, and a tap that captures both from the model's own forward.

Why by hand: pytorch-grad-cam and torchcam ask the user to name the target layer (torchcam
guesses by name only); the methods here find it structurally from one forward pass, so
``InfoCAM(model)`` works on torchvision classifiers with no layer named.
"""

from __future__ import annotations

import weakref
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from infocam.errors import ConfigError

#: the pointer every weight-based method gives for a head it cannot use
USE_GRADCAM = "Grad-CAM takes any head (infocam.GradCAM): use cam=gradcam"

LayerSpec = nn.Module | str | None


def single_layer(spec: "LayerSpec | Sequence[nn.Module | str]", what: str = "target_layer") -> LayerSpec:
    """``spec`` itself, or the one element of a one-element list/tuple (pytorch-grad-cam's
    ``target_layers=[model.layer4]`` habit); these methods read one layer."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != 1:
            raise ConfigError(f"{what} takes one layer (a module or its dotted name), got a list of {len(spec)}")
        spec = spec[0]
    if spec is not None and not isinstance(spec, (nn.Module, str)):
        raise ConfigError(f"{what} must be a submodule or its dotted name, got {type(spec).__name__}")
    return spec

#: modules that pool, reshape or drop features on their way to the head: never the feature map
_PASS_THROUGH = (
    nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Dropout, nn.Dropout2d, nn.Identity,
)
_POOLING = (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.MaxPool2d)
#: what a head may do to the captured map before pooling it (DenseNet: a ReLU inside forward)
_HEAD_INPUTS: dict[str, Callable[[Tensor], Tensor]] = {"features": lambda f: f, "relu(features)": torch.relu}


def has_feature_interface(model: nn.Module) -> bool:
    return all(callable(getattr(model, name, None)) for name in ("forward_features", "forward_head"))


def resolve_module(model: nn.Module, spec: nn.Module | str, what: str) -> nn.Module:
    """``spec`` as a submodule of ``model``: the module itself or its dotted name (``layer4``)."""
    if isinstance(spec, nn.Module):
        if not any(spec is m for m in model.modules()):
            raise ConfigError(f"{what} is a {type(spec).__name__} that is not a submodule of {type(model).__name__}")
        return spec
    try:
        return model.get_submodule(str(spec))
    except AttributeError:
        raise ConfigError(f"{what}={spec!r} is not a submodule of {type(model).__name__}") from None


def _tolerance(reference: Tensor) -> float:
    return 1e-5 * (1.0 + float(reference.abs().max())) if reference.numel() else 1e-5


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float(), rtol=1e-4, atol=_tolerance(b)))


def discover_layers(model: nn.Module, images: Tensor) -> tuple[nn.Module | None, nn.Linear | None]:
    """The last module giving a 4-D map before the last ``nn.Linear`` runs, and that linear layer
    (when its output is the model's output), from one forward pass on ``images[:1]``.

    Containers complete after their children, so the outermost module ending at the map wins
    (``layer4`` rather than its last ReLU); pooling, flatten and dropout layers are skipped, and so
    is any module applied to a map a pooling layer took down to 1 x 1 (ConvNeXt's norm on the
    pooled map, the gates of squeeze-and-excitation blocks), so the map is the one the head pools.
    """
    state: dict[str, object] = {"map": None, "map_before_linear": None, "linear": None, "linear_out": None}
    pooled: list[Tensor] = []  # maps pooled to 1 x 1 by a pooling layer, and what is computed from them

    def pre_hook(module, inputs):
        if isinstance(module, nn.Linear):
            state["map_before_linear"] = state["map"]

    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            state["linear"], state["linear_out"] = module, output
        elif isinstance(output, Tensor) and output.ndim == 4:
            source = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
            if source is not None and any(source is p for p in pooled):
                pooled.append(output)  # computed from a pooled map: part of a head or an SE gate
            elif (isinstance(module, _POOLING) and output.shape[-2:] == (1, 1) and source is not None
                    and source.ndim == 4 and source.shape[-2:] != (1, 1)):
                pooled.append(output)
            elif not isinstance(module, _PASS_THROUGH):
                state["map"] = module

    handles = []
    for module in model.modules():
        if module is not model:
            handles += [module.register_forward_pre_hook(pre_hook), module.register_forward_hook(hook)]
    try:
        with torch.no_grad():
            logits = model(images[:1])
    finally:
        for handle in handles:
            handle.remove()
    linear = state["linear"]
    if linear is not None and not (isinstance(logits, Tensor) and state["linear_out"] is logits):
        linear = None  # something runs after the last linear layer: not a plain linear head
    target = state["map_before_linear"] if linear is not None else state["map"]
    return target, linear  # type: ignore[return-value]


class FeatureTap:
    """Features of ``target_layer`` and the input of ``classifier`` from the model's own forward.

    ``target_layer``/``classifier``: a submodule or its dotted name; ``None`` finds it with
    :func:`discover_layers` on the first batch. The captured map is a copy of the layer's
    output, so in-place operations after it (DenseNet's ``F.relu(..., inplace=True)``) do not
    change it; :meth:`head_problem` then finds which view of it the head pools.
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module | str | None = None,
                 classifier: nn.Module | str | None = None) -> None:
        # weak: taps are cached per model in a WeakKeyDictionary, which a strong reference would pin
        self._model = weakref.ref(model)
        self.target_layer = None if target_layer is None else resolve_module(model, target_layer, "target_layer")
        self.classifier = None if classifier is None else resolve_module(model, classifier, "classifier")
        if self.classifier is not None and not isinstance(self.classifier, nn.Linear):
            raise ConfigError(f"classifier must be an nn.Linear, got {type(self.classifier).__name__}")
        self._searched = False
        self.head_input: str | None = None  # key of _HEAD_INPUTS once the head has been checked

    @property
    def model(self) -> nn.Module:
        model = self._model()
        if model is None:
            raise ConfigError("the model of this CAM tap no longer exists")
        return model

    def discover(self, images: Tensor, need_classifier: bool, method: str) -> None:
        if not self._searched and (self.target_layer is None or (need_classifier and self.classifier is None)):
            target, linear = discover_layers(self.model, images)
            self.target_layer = self.target_layer or target
            self.classifier = self.classifier or linear
            self._searched = True
        name = type(self.model).__name__
        if self.target_layer is None:
            raise ConfigError(f"cam={method}: found no layer of {name} giving a [B, K, h, w] map; pass target_layer=")
        if need_classifier and self.classifier is None:
            raise ConfigError(
                f"cam={method} needs a global-average-pooling + linear classifier head; {name}: its output is not "
                f"an nn.Linear's (pass classifier= if it has one); {USE_GRADCAM}"
            )

    def run(self, images: Tensor, leaf: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(features [B, K, h, w], logits [B, M], classifier input or None)`` from ``model(images)``.

        ``leaf``: the layer's output is replaced by a detached leaf that requires grad (its
        clone flows on), so ``autograd.grad(logits, features)`` works even with frozen weights.
        The forward up to the layer then runs without autograd (only the gradient with respect
        to the layer's output is wanted): no graph and no saved activations for the backbone.
        Without ``leaf`` the forward keeps the caller's autograd mode.
        """
        captured: dict[str, Tensor] = {}

        def hook(module, inputs, output):
            if not isinstance(output, Tensor) or output.ndim != 4:
                shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
                raise ConfigError(f"target_layer {type(module).__name__} gives {shape}, not a [B, K, h, w] map")
            if leaf:
                torch.set_grad_enabled(True)  # from here on (restored when the forward ends)
                captured["features"] = output.detach().requires_grad_(True)
                return captured["features"].clone()
            captured["features"] = output.clone()
            return None

        def pre_hook(module, inputs):
            captured["head_input"] = inputs[0]

        handles = [self.target_layer.register_forward_hook(hook)]
        if self.classifier is not None:
            handles.append(self.classifier.register_forward_pre_hook(pre_hook))
        try:
            # the caller's mode otherwise: the weight-based methods run under no_grad, and a
            # forward that recorded a graph here cost them 3.5x the memory and up to 2x the time
            with torch.set_grad_enabled(torch.is_grad_enabled() and not leaf):
                logits = self.model(images)
        finally:
            for handle in handles:
                handle.remove()
        if "features" not in captured:
            raise ConfigError(f"target_layer {type(self.target_layer).__name__} did not run in the model's forward")
        if not isinstance(logits, Tensor) or logits.ndim != 2:
            raise ConfigError(f"{type(self.model).__name__} must return [B, M] logits, got {type(logits).__name__}")
        return captured["features"], logits, captured.get("head_input")

    def head_problem(self, features: Tensor, head_input: Tensor | None, logits: Tensor) -> str | None:
        """Why the classifier does not see the spatial mean of (a view of) ``features``, or None.

        Checked on every batch the maps are computed from: the classifier's input must equal the
        mean over positions of the map (or of its ReLU), and its output must be the logits.
        """
        if head_input is None:
            return f"{type(self.classifier).__name__} {self._name(self.classifier)} did not run in the forward"
        if head_input.ndim != 2:
            return f"the classifier's input is {tuple(head_input.shape)}, not pooled [B, K] features"
        if not _close(self.classifier(head_input), logits):
            return "its output is changed after the classifier (the logits are not the linear layer's output)"
        for key in ([self.head_input] if self.head_input else list(_HEAD_INPUTS)):
            if _close(head_input, _HEAD_INPUTS[key](features).mean(dim=(2, 3))):
                self.head_input = key
                return None
        return (f"the classifier's input is not the spatial mean of {self._name(self.target_layer)}'s "
                f"{tuple(features.shape[1:])} map (not global average pooling + one linear layer)")

    def head_features(self, features: Tensor) -> Tensor:
        """The map as the head pools it (after :meth:`head_problem` accepted it)."""
        return _HEAD_INPUTS[self.head_input or "features"](features)

    def _name(self, module: nn.Module | None) -> str:
        return next((n for n, m in self.model.named_modules() if m is module), type(module).__name__) or "model"


#: one tap per (model, target_layer, classifier) the registered methods were used with
_TAPS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def feature_tap(model: nn.Module, target_layer: nn.Module | str | None, classifier: nn.Module | str | None) -> FeatureTap:
    key = (id(target_layer) if isinstance(target_layer, nn.Module) else target_layer,
           id(classifier) if isinstance(classifier, nn.Module) else classifier)
    taps = _TAPS.setdefault(model, {})
    if key not in taps:
        taps[key] = FeatureTap(model, target_layer, classifier)
    return taps[key]
