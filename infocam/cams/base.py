"""What every CAM method shares: the method interface (:class:`CamMethod`), its result
(:class:`CamResult`), target resolution and the region sum of Eq. 14/15.

A method is one class in its own file under ``infocam/cams/`` (see the package docstring);
how a model's feature map and head are reached lives in :mod:`infocam.cams.hooks` (any
``nn.Module``) and :mod:`infocam.cams.weights` (the weight-based methods' head check).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam.cams.hooks import FeatureTap, LayerSpec, feature_tap, has_feature_interface, single_layer
from infocam.errors import ConfigError

ALIGNMENTS = ("same", "full")


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


class CamMethod(ABC):
    """A registered CAM method: maps for a whole batch, on the model's device.

    A subclass registered with ``@CAMS.register(NAME)`` is the one definition of a method: its
    ``__init__`` signature is the config's option list (``conf/cam/NAME.yaml`` holds the same
    defaults) and, with ``public_name`` set, :mod:`infocam.api.cams` builds the bound class
    ``infocam.<public_name>(model, target_layer=None, **options)`` from it.
    """

    name = "cam_method"
    #: the class ``infocam.api.cams`` builds from this method (``None``: registry only)
    public_name: str | None = None

    def __init__(self, region_size: int = 1, alignment: str = "same", *,
                 target_layer: LayerSpec = None, classifier: LayerSpec = None) -> None:
        self.region_size, self.alignment = check_region(region_size, alignment)
        #: hook these (a submodule or its dotted name) instead of the timm interface; None: found
        self.target_layer = single_layer(target_layer, "target_layer")
        self.classifier = single_layer(classifier, "classifier")

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
