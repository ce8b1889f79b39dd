"""What every CAM method shares: one forward pass that captures features and logits, the
linear classifier's weights, and the region sum of Eq. 14/15.

A model plugs in either through the timm interface: ``forward_features(x) -> [B, K, h, w]``,
``forward_head(features, pre_logits=False) -> [B, M]`` and ``get_classifier() -> nn.Linear``;
or, for any other ``nn.Module`` (torchvision classifiers), through hooks (:class:`FeatureTap`):
a forward hook on the last feature map (``target_layer``) and a forward pre-hook on the linear
head (``classifier``), both found structurally from one forward pass unless given.
The weight-based methods need the head to be global average pooling then that linear layer;
:func:`gap_linear_problem` (timm interface) and :meth:`FeatureTap.head_problem` (hooks) check
it on the model itself (no flag to declare), and anything else is told to use Grad-CAM.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam.errors import ConfigError

ALIGNMENTS = ("same", "full")
#: the pointer every weight-based method gives for a head it cannot use
USE_GRADCAM = "Grad-CAM takes any head (infocam.GradCAM): use cam=gradcam"


@dataclass
class CamResult:
    """One forward pass: logits ``[B, M]`` and the maps ``[B, h', w']`` for each requested target."""

    logits: Tensor
    maps: list[Tensor]
    #: the feature map the weight-based methods read (``None`` for gradient methods), so
    #: diagnostics of the same batch need no second backbone pass
    features: Tensor | None = None


def check_region(region_size: int, alignment: str) -> tuple[int, str]:
    if isinstance(region_size, bool) or not isinstance(region_size, int) or region_size < 1:
        raise ConfigError(f"cam.region_size must be an integer >= 1 (1 = no region sum), got {region_size!r}")
    if alignment not in ALIGNMENTS:
        raise ConfigError(f"cam.alignment must be one of {', '.join(ALIGNMENTS)}, got {alignment!r}")
    return region_size, alignment


def region_sum(maps: Tensor, region_size: int, alignment: str = "same") -> Tensor:
    """Sum of ``maps[B, h, w]`` over an R x R window (zero padding outside the map).

    ``same``: the window is centred on each location (for even R it reaches one cell further
    right/down than left/up) and the map keeps its size. ``full``: every window that overlaps
    the map, i.e. R - 1 cells of padding on every side, so an h x w map becomes
    (h + R - 1) x (w + R - 1) -- what the authors' code did; stretched over the image, it
    shifts boxes toward the centre.
    """
    if region_size == 1:
        return maps
    r = region_size
    # bound R by the map (R=100000 once asked for terabytes): from 2 * side - 1 on, every window
    # of "same" holds the whole map, so the sum is exactly that of the bound; "full" grows the map by R - 1
    largest = 2 * max(maps.shape[-2:]) - 1
    if r > largest and alignment == "same":
        r = largest
    elif r > largest:
        raise ConfigError(
            f"cam.region_size={r} with cam.alignment=full is larger than this {maps.shape[-2]}x{maps.shape[-1]} "
            f"map allows (at most {largest}: beyond that every window covers the whole map)"
        )
    if alignment == "same":
        before, after = (r - 1) // 2, r // 2
        padded = F.pad(maps[:, None], (before, after, before, after))
    else:
        padded = F.pad(maps[:, None], (r - 1, r - 1, r - 1, r - 1))
    kernel = torch.ones(1, 1, r, r, dtype=maps.dtype, device=maps.device)
    return F.conv2d(padded, kernel)[:, 0]


def require_feature_interface(model: nn.Module, method: str) -> None:
    missing = [name for name in ("forward_features", "forward_head") if not callable(getattr(model, name, None))]
    if missing:
        raise ConfigError(
            f"cam={method} needs a model with forward_features/forward_head (timm interface); "
            f"{type(model).__name__} lacks {', '.join(missing)}"
        )


#: models whose head passed :func:`gap_linear_problem` (probed once per model object)
_VERIFIED_HEADS: "weakref.WeakKeyDictionary[nn.Module, nn.Linear]" = weakref.WeakKeyDictionary()


def gap_linear_problem(model: nn.Module) -> str | None:
    """Why ``model``'s head is not global average pooling + one ``nn.Linear``, or None if it is.

    Checked structurally through timm's interface, on a random probe ``[2, K, 3, 3]`` in eval
    mode (dropout off) without autocast: ``forward_head(f, pre_logits=True)`` must be the
    spatial mean of ``f`` (when the model takes ``pre_logits``) and ``forward_head(f)`` must be
    ``get_classifier()`` applied to that mean. Extra layers in the head (a norm, an MLP, max or
    attention pooling, a flatten over positions) change one or the other.
    """
    getter = getattr(model, "get_classifier", None)
    head = getter() if callable(getter) else None
    if not isinstance(head, nn.Linear):
        return f"get_classifier() gives {type(head).__name__}, not nn.Linear"
    weight = head.weight
    probe = torch.rand(2, head.in_features, 3, 3, generator=torch.Generator().manual_seed(0))
    probe = probe.to(device=weight.device, dtype=weight.dtype)
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad(), torch.autocast(weight.device.type, enabled=False):
            logits = model.forward_head(probe)
            try:
                pooled = model.forward_head(probe, pre_logits=True)
            except TypeError:  # a head without timm's pre_logits switch: the logits check decides
                pooled = None
            expected = head(probe.mean(dim=(2, 3)))
    except Exception as err:  # noqa: BLE001  (any failure means the head is not GAP + linear)
        return f"forward_head fails on [2, {head.in_features}, 3, 3] features ({type(err).__name__})"
    finally:
        for module, training in modes.items():
            module.training = training
    mean = probe.mean(dim=(2, 3))
    if pooled is not None and (pooled.shape != mean.shape or not torch.allclose(pooled, mean, rtol=1e-4, atol=1e-5)):
        return "forward_head(pre_logits=True) is not the spatial mean of the features"
    if logits.shape != expected.shape or not torch.allclose(logits, expected, rtol=1e-4, atol=1e-5):
        return "forward_head(features) is not get_classifier() applied to their spatial mean"
    return None


def linear_classifier(model: nn.Module, method: str) -> nn.Linear:
    """The GAP + linear head's ``nn.Linear``, or a one-line ConfigError pointing at Grad-CAM."""
    require_feature_interface(model, method)
    head = _VERIFIED_HEADS.get(model)
    if head is not None and head is model.get_classifier():
        return head
    problem = gap_linear_problem(model)
    if problem:
        raise ConfigError(
            f"cam={method} needs a global-average-pooling + linear classifier head; "
            f"{type(model).__name__}: {problem}; {USE_GRADCAM}"
        )
    _VERIFIED_HEADS[model] = head = model.get_classifier()
    return head


class CamMethod(ABC):
    """A registered CAM method: maps for a whole batch, on the model's device."""

    name = "cam_method"

    def __init__(self, region_size: int = 1, alignment: str = "same", *,
                 target_layer: nn.Module | str | None = None, classifier: nn.Module | str | None = None) -> None:
        self.region_size, self.alignment = check_region(region_size, alignment)
        #: hook these (a submodule or its dotted name) instead of the timm interface; None: found
        self.target_layer, self.classifier = target_layer, classifier

    def uses_hooks(self, model: nn.Module) -> bool:
        """Hooks (:class:`FeatureTap`) unless the model has the timm interface and no layer was named."""
        return self.target_layer is not None or self.classifier is not None or not has_feature_interface(model)

    def tap(self, model: nn.Module) -> FeatureTap:
        return feature_tap(model, self.target_layer, self.classifier)

    @abstractmethod
    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        """Logits and one ``[B, h', w']`` map batch per entry of ``targets`` (``None`` = predicted class)."""

    def __call__(self, model: nn.Module, images: Tensor, target: Tensor | None = None) -> Tensor:
        return self.compute(model, images, [target]).maps[0]

    def check_model(self, model: nn.Module) -> None:
        """Raise a ConfigError now if ``model`` cannot give this method's maps (what needs a
        forward pass, finding the layers and checking the head, is checked on the first batch)."""
        if not self.uses_hooks(model):
            return
        if next(iter(model.children()), None) is None and self.target_layer is None:
            raise ConfigError(
                f"cam={self.name} needs forward_features/forward_head (timm interface) or a submodule to hook; "
                f"{type(model).__name__} has neither (pass target_layer=)"
            )
        self.tap(model)  # resolves named layers now

    def describe(self) -> dict:
        return {"cam": self.name, "region_size": self.region_size, "alignment": self.alignment}


def resolve_targets(targets: list[Tensor | None], logits: Tensor) -> list[Tensor]:
    predicted = logits.argmax(dim=1)
    resolved = [predicted if t is None else t.to(logits.device).long() for t in targets]
    num_classes = logits.shape[1]
    for target in resolved:
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
            raise ConfigError(f"target classes must be in [0, {num_classes}), got {target.unique().tolist()}")
    return resolved


class ActivationCam(CamMethod):
    """Maps from the last features and the linear classifier weights (Eq. 12, 14, 15).

    ``subtract``: ``none`` gives CAM, ``mean`` subtracts the mean map of the other M - 1
    classes (infoCAM, Eq. 14), ``least_likely`` subtracts the map of the class with the
    lowest logit for that image (infoCAM+, Eq. 15). The region sum comes after the
    subtraction (it is linear, so the order does not matter).
    """

    SUBTRACT = ("none", "mean", "least_likely")

    def __init__(self, subtract: str = "none", region_size: int = 1, alignment: str = "same", *,
                 target_layer: nn.Module | str | None = None, classifier: nn.Module | str | None = None) -> None:
        super().__init__(region_size, alignment, target_layer=target_layer, classifier=classifier)
        if subtract not in self.SUBTRACT:
            raise ConfigError(f"subtract must be one of {', '.join(self.SUBTRACT)}, got {subtract!r}")
        self.subtract = subtract

    def check_model(self, model: nn.Module) -> None:
        if self.uses_hooks(model):
            super().check_model(model)
        else:
            linear_classifier(model, self.name)

    @torch.no_grad()
    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        features, weight, logits = self.features_weight_logits(model, images)
        maps = [self.maps_from(features, weight, logits, t) for t in resolve_targets(targets, logits)]
        return CamResult(logits=logits, maps=maps, features=features)

    def features_weight_logits(self, model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The map the head pools ``[B, K, h, w]``, the linear weights ``[M, K]`` and the logits."""
        if not self.uses_hooks(model):
            weight = linear_classifier(model, self.name).weight
            features = model.forward_features(images)
            return features, weight, model.forward_head(features)
        tap = self.tap(model)
        tap.discover(images, need_classifier=True, method=self.name)
        features, logits, head_input = tap.run(images)
        problem = tap.head_problem(features, head_input, logits)
        if problem:
            raise ConfigError(
                f"cam={self.name} needs a global-average-pooling + linear classifier head; "
                f"{type(model).__name__}: {problem}; {USE_GRADCAM}"
            )
        return tap.head_features(features), tap.classifier.weight, logits

    def maps_from(self, features: Tensor, weight: Tensor, logits: Tensor, target: Tensor) -> Tensor:
        """Maps for ``target[B]`` from captured ``features[B, K, h, w]``, ``weight[M, K]``, ``logits[B, M]``."""
        features = features.float()
        weight = weight.float()
        w = weight[target]  # [B, K]
        if self.subtract == "mean":
            num_classes = weight.shape[0]
            if num_classes < 2:
                raise ConfigError("infoCAM needs at least two classes")
            w = w - (weight.sum(0, keepdim=True) - w) / (num_classes - 1)
        elif self.subtract == "least_likely":
            w = w - weight[logits.argmin(dim=1)]
        maps = torch.einsum("bk,bkhw->bhw", w, features)
        return region_sum(maps, self.region_size, self.alignment)

    def describe(self) -> dict:
        return {**super().describe(), "subtract": self.subtract}


# -- any nn.Module: hooks on the last feature map and the linear head -------------------------

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
        """
        captured: dict[str, Tensor] = {}

        def hook(module, inputs, output):
            if not isinstance(output, Tensor) or output.ndim != 4:
                shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
                raise ConfigError(f"target_layer {type(module).__name__} gives {shape}, not a [B, K, h, w] map")
            if leaf:
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
