"""What every CAM method shares: one forward pass that captures features and logits, the
linear classifier's weights, and the region sum of Eq. 14/15.

A model plugs in through the timm interface: ``forward_features(x) -> [B, K, h, w]``,
``forward_head(features, pre_logits=False) -> [B, M]`` and ``get_classifier() -> nn.Linear``.
The weight-based methods need the head to be global average pooling then that linear layer;
:func:`gap_linear_problem` checks it on the model itself (no flag to declare), so any timm
model with such a head works and anything else is told to use Grad-CAM.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam.errors import ConfigError

ALIGNMENTS = ("same", "full")


@dataclass
class CamResult:
    """One forward pass: logits ``[B, M]`` and the maps ``[B, h', w']`` for each requested target."""

    logits: Tensor
    maps: list[Tensor]


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
            f"{type(model).__name__}: {problem}; use cam=gradcam"
        )
    _VERIFIED_HEADS[model] = head = model.get_classifier()
    return head


class CamMethod(ABC):
    """A registered CAM method: maps for a whole batch, on the model's device."""

    name = "cam_method"

    def __init__(self, region_size: int = 1, alignment: str = "same") -> None:
        self.region_size, self.alignment = check_region(region_size, alignment)

    @abstractmethod
    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        """Logits and one ``[B, h', w']`` map batch per entry of ``targets`` (``None`` = predicted class)."""

    def __call__(self, model: nn.Module, images: Tensor, target: Tensor | None = None) -> Tensor:
        return self.compute(model, images, [target]).maps[0]

    def check_model(self, model: nn.Module) -> None:
        """Raise a ConfigError now if ``model`` cannot give this method's maps."""
        require_feature_interface(model, self.name)

    def describe(self) -> dict:
        return {"cam": self.name, "region_size": self.region_size, "alignment": self.alignment}


def resolve_targets(targets: list[Tensor | None], logits: Tensor) -> list[Tensor]:
    predicted = logits.argmax(dim=1)
    return [predicted if t is None else t.to(logits.device).long() for t in targets]


class ActivationCam(CamMethod):
    """Maps from the last features and the linear classifier weights (Eq. 12, 14, 15).

    ``subtract``: ``none`` gives CAM, ``mean`` subtracts the mean map of the other M - 1
    classes (infoCAM, Eq. 14), ``least_likely`` subtracts the map of the class with the
    lowest logit for that image (infoCAM+, Eq. 15). The region sum comes after the
    subtraction (it is linear, so the order does not matter).
    """

    SUBTRACT = ("none", "mean", "least_likely")

    def __init__(self, subtract: str = "none", region_size: int = 1, alignment: str = "same") -> None:
        super().__init__(region_size, alignment)
        if subtract not in self.SUBTRACT:
            raise ConfigError(f"subtract must be one of {', '.join(self.SUBTRACT)}, got {subtract!r}")
        self.subtract = subtract

    def check_model(self, model: nn.Module) -> None:
        linear_classifier(model, self.name)

    @torch.no_grad()
    def compute(self, model: nn.Module, images: Tensor, targets: list[Tensor | None]) -> CamResult:
        weight = linear_classifier(model, self.name).weight  # [M, K]
        features = model.forward_features(images)  # [B, K, h, w]
        logits = model.forward_head(features)
        maps = [self.maps_from(features, weight, logits, t) for t in resolve_targets(targets, logits)]
        return CamResult(logits=logits, maps=maps)

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
