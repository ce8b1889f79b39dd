"""timm backbones: random, ``model.weights=imagenet`` (timm's own pretrained path) or a local file.

``model.weights=imagenet`` is ``timm.create_model(..., pretrained=True)``: timm downloads its
default ImageNet tag through the Hugging Face hub into the hub's cache (``HF_HOME``) and obeys
``HF_HUB_OFFLINE=1``; offline (that, ``INFOCAM_OFFLINE=1`` or no network) with nothing cached
is one line naming the cache folder and the file. ``model.weights=PATH`` names a state dict saved with ``torch.save`` (read with
``weights_only=True``) or a ``.safetensors`` file (``infocam.models.weights``), e.g. timm's
ImageNet weights downloaded once by hand. The classifier is re-sized to ``num_classes``;
weights of a classifier with another number of classes are skipped, every other tensor must
match the architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from infocam.errors import ConfigError
from infocam.models.weights import COUNTER_SUFFIX, DOWNLOAD_TIMEOUT, IMAGENET, load_state_dict_file, mismatch_message
from infocam.runtime.network import offline_requested, socket_timeout
from infocam.registry import MODELS

__all__ = ["create_timm", "load_backbone_weights", "load_state_dict_file"]


def load_backbone_weights(model: nn.Module, path: str | Path) -> None:
    """Load ``path`` into ``model``, skipping only a classifier of another size."""
    state = load_state_dict_file(path)
    classifier = model.pretrained_cfg.get("classifier", "fc") if hasattr(model, "pretrained_cfg") else "fc"
    classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    own = model.state_dict()
    skipped = [
        k for k in state
        if k.startswith(tuple(f"{c}." for c in classifiers)) and k in own and own[k].shape != state[k].shape
    ]
    for key in skipped:
        del state[key]
    missing = [k for k in own.keys() - state.keys() if k not in skipped and not k.endswith(COUNTER_SUFFIX)]
    wrong_shape = [k for k in state.keys() & own.keys() if tuple(state[k].shape) != tuple(own[k].shape)]
    message = mismatch_message(path, missing, state.keys() - own.keys(), wrong_shape)
    if message:
        raise ConfigError(message)
    model.load_state_dict(state, strict=False)


def timm_weights_file(arch: str) -> tuple[str, str, str | None]:
    """(Hugging Face repo, file name, cached path or None) of ``arch``'s default pretrained tag."""
    import timm
    from huggingface_hub import constants, try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None or not cfg.hf_hub_id:
        raise ConfigError(f"model.weights=imagenet: timm has no Hugging Face pretrained tag for {arch!r}; give model.weights=PATH")
    repo = cfg.hf_hub_id.split("@")[0]
    names = [cfg.hf_hub_filename] if cfg.hf_hub_filename else ["model.safetensors", "pytorch_model.bin"]
    for name in names:
        cached = try_to_load_from_cache(repo, name, cache_dir=constants.HF_HUB_CACHE)
        if isinstance(cached, str):
            return repo, name, cached
    return repo, names[0], None


def _offline_line(arch: str, reason: str) -> str:
    from huggingface_hub import constants

    repo, name, _ = timm_weights_file(arch)
    return (f"model.weights=imagenet: timm's pretrained {arch} ({repo}, {name}) is not in the Hugging Face cache "
            f"{constants.HF_HUB_CACHE} and cannot be downloaded ({reason}); run once where there is internet "
            "(the cache folder can then be copied), or give model.weights=PATH")


def create_timm(arch: str, num_classes: int, weights: str | None = None, in_chans: int = 3, **kwargs: Any) -> nn.Module:
    import timm  # here, not at module level: importing timm (and the wandb it pulls in) costs about 1.3 s per CLI start

    pretrained = str(weights) == IMAGENET
    if pretrained and offline_requested():
        try:
            cached = timm_weights_file(arch)[2]
        except RuntimeError as err:  # an unknown architecture
            raise ConfigError(f"model.arch: {err}") from None
        if cached is None:
            raise ConfigError(_offline_line(arch, "offline: INFOCAM_OFFLINE/HF_HUB_OFFLINE is set"))
    try:
        with socket_timeout(DOWNLOAD_TIMEOUT):
            model = timm.create_model(arch, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans, **kwargs)
    except OSError as err:  # huggingface_hub's not-cached-and-offline and connection errors are OSErrors
        if not pretrained:
            raise
        raise ConfigError(_offline_line(arch, str(err).splitlines()[0] if str(err) else type(err).__name__)) from None
    except RuntimeError as err:  # timm raises RuntimeError for unknown names
        raise ConfigError(f"model.arch: {err}") from None
    if weights and not pretrained:
        load_backbone_weights(model, weights)
    return model


@MODELS.register("timm")
def timm_model(arch: str, num_classes: int, weights: str | None = None, in_chans: int = 3, **kwargs: Any) -> nn.Module:
    """Any timm architecture by name (``model.arch=resnet18``)."""
    return create_timm(arch, num_classes, weights, in_chans, **kwargs)


@MODELS.register("inception_v3")
def inception_v3(num_classes: int, weights: str | None = None, drop_rate: float = 0.0) -> nn.Module:
    """Inception-V3 (Szegedy et al. 2016), the paper's CUB classifier; expects 299x299 input."""
    return create_timm("inception_v3", num_classes, weights, drop_rate=drop_rate)


@MODELS.register("resnet50")
def resnet50(num_classes: int, weights: str | None = None, drop_rate: float = 0.0) -> nn.Module:
    return create_timm("resnet50", num_classes, weights, drop_rate=drop_rate)
