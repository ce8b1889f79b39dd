"""The weight-based methods' shared machinery (CAM, infoCAM, infoCAM+): one forward pass that
captures the feature map the head pools, the linear head's weights and the logits; each method
only says how it weighs the K feature channels for a target (:meth:`WeightCamMethod.class_weights`).

The head must be global average pooling then one ``nn.Linear``; :func:`gap_linear_problem`
(timm interface) and :meth:`infocam.cams.hooks.FeatureTap.head_problem` (hooks) check it on the
model itself (no flag to declare), and anything else is told to use Grad-CAM.
"""

from __future__ import annotations

import weakref
from abc import abstractmethod

import torch
from torch import Tensor, nn

from infocam.cams.base import CamMethod, CamResult, region_sum, resolve_targets
from infocam.cams.hooks import USE_GRADCAM
from infocam.errors import ConfigError

#: the paper's region size R for infoCAM / infoCAM+ (VGG on CUB; 4 for ResNet, 3 for Tiny-ImageNet)
PAPER_REGION_SIZE = 5


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


class WeightCamMethod(CamMethod):
    """Maps from the last features and the linear classifier's weights (Eq. 12, 14, 15)."""

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

    @abstractmethod
    def class_weights(self, weight: Tensor, logits: Tensor | None, target: Tensor) -> Tensor:
        """The method's formula: per-image weights ``[B, K]`` for ``target[B]``, from the head's
        ``weight[M, K]`` (float32) and the batch's ``logits[B, M]``; the map is their dot product
        with the features, then the region sum."""

    def maps_from(self, features: Tensor, weight: Tensor, logits: Tensor | None, target: Tensor) -> Tensor:
        """Maps for ``target[B]`` from captured ``features[B, K, h, w]``, ``weight[M, K]``, ``logits[B, M]``."""
        w = self.class_weights(weight.float(), logits, target)  # [B, K]
        maps = torch.einsum("bk,bkhw->bhw", w, features.float())
        return region_sum(maps, self.region_size, self.alignment)
