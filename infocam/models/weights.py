"""Pretrained weights: ``model.weights=PATH`` (a local file) or ``model.weights=imagenet``.

A file is a state dict saved with ``torch.save`` (read with ``weights_only=True``, so no code
runs) or a ``.safetensors`` file; a ``{"state_dict": ...}`` / ``{"model": ...}`` wrapper is
unwrapped. A file that does not fit the model fails with one line naming the keys that differ.

``imagenet`` on the paper's backbones (:data:`TORCHVISION_IMAGENET`) is torchvision's
IMAGENET1K_V1 file, the one the InfoCAM authors and wsolevaluation started from, fetched by
torchvision's weights API (``Weights.get_state_dict`` -> ``torch.hub.load_state_dict_from_url``)
into ``$TORCH_HOME/hub/checkpoints/`` under torchvision's file name (``vgg16-397923af.pth``).
torch.hub checks the hash prefix in that name when it *downloads* (``check_hash=True``); a file
already in the cache is trusted by its name, as torch.hub itself does: that is how a file
copied there by hand (an offline compute node) is used, and a corrupt one still fails to load
with one line. Offline (``INFOCAM_OFFLINE=1``, or no network) with nothing cached is one line
naming the cache folder and the file to place there.
"""

from __future__ import annotations

import http.client
import os
import pickle
import urllib.error
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn

from infocam.errors import ConfigError
from infocam.runtime.checkpoints import NEEDS_CODE
from infocam.runtime.network import offline_requested, socket_timeout

#: ``model.weights=imagenet``
IMAGENET = "imagenet"
#: the torchvision weights each of the paper's backbones starts from (torchvision's enum names)
TORCHVISION_IMAGENET = {"vgg16_gap": "VGG16_Weights.IMAGENET1K_V1", "resnet50_wsol": "ResNet50_Weights.IMAGENET1K_V1"}
#: seconds a connect or read of a weights download may wait
DOWNLOAD_TIMEOUT = 60.0


def _reason(err: BaseException) -> str:
    """The first line of ``err``, or its type when it has no text (an EOFError says nothing)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else f"{type(err).__name__} (truncated or not a torch.save file)"

#: BatchNorm's step counter: absent from older torchvision files, unused by a trained model
COUNTER_SUFFIX = "num_batches_tracked"


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model.weights: weights file {path} does not exist (model.weights=imagenet fetches the ImageNet file instead)")
    if path.stat().st_size == 0:
        raise ConfigError(f"model.weights: {path} is empty (0 bytes); was the download or copy cut short?")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if NEEDS_CODE.search(str(err)):  # torch's text suggests weights_only=False: never here
            raise ConfigError(f"model.weights: {path} is not a plain state dict; refusing to unpickle code") from None
        raise ConfigError(f"model.weights: cannot read {path}: {_reason(err)}") from None
    except Exception as err:  # noqa: BLE001  (any unreadable file is the user's input)
        raise ConfigError(f"model.weights: cannot read {path}: {_reason(err)}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ConfigError(f"model.weights: {path} does not hold a state dict")
    return state


def key_list(keys: Iterable[str], limit: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return "[" + ", ".join(keys[:limit]) + more + "]"


def mismatch_message(path: str | Path, missing: Iterable[str], unexpected: Iterable[str], wrong_shape: Iterable[str]) -> str | None:
    """One line naming what differs, or None when nothing does."""
    missing, unexpected, wrong_shape = sorted(missing), sorted(unexpected), sorted(wrong_shape)
    if not (missing or unexpected or wrong_shape):
        return None
    parts = [f"missing keys {key_list(missing)}", f"unexpected keys {key_list(unexpected)}"]
    if wrong_shape:
        parts.append(f"wrong shapes {key_list(wrong_shape)}")
    return f"model.weights: {path} does not match the architecture: " + "; ".join(parts)


def torch_hub_cache() -> Path:
    """Where torch.hub (and so torchvision's weights API) keeps downloaded files (``TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def torchvision_weights(model_name: str):
    """The torchvision weights enum member for one of :data:`TORCHVISION_IMAGENET`."""
    import torchvision

    return torchvision.models.get_weight(TORCHVISION_IMAGENET[model_name])


def imagenet_file(model_name: str) -> tuple[str, Path]:
    """(URL, cache path) of the torchvision ImageNet file of ``model_name``."""
    url = torchvision_weights(model_name).url
    return url, torch_hub_cache() / os.path.basename(url)


def offline_message(what: str, url: str, cache: Path, reason: str) -> str:
    return (f"model.weights=imagenet: {what} is not cached and cannot be downloaded ({reason}); place {cache.name} "
            f"from {url} in {cache.parent} (TORCH_HOME={os.environ.get('TORCH_HOME', '~/.cache/torch')}), "
            "or give model.weights=PATH")


def imagenet_state(model_name: str, timeout: float = DOWNLOAD_TIMEOUT) -> tuple[dict[str, torch.Tensor], Path]:
    """The state dict of ``model_name``'s torchvision ImageNet file and its cache path.

    Cached: read with ``weights_only=True`` (:func:`load_state_dict_file`). Not cached: torchvision's
    ``get_state_dict(check_hash=True, weights_only=True)`` downloads it (hash-checked) and reads it.
    """
    weights = torchvision_weights(model_name)
    url, cache = imagenet_file(model_name)
    what = f"torchvision's {weights} ({cache.name})"
    if cache.is_file():
        return load_state_dict_file(cache), cache
    if offline_requested():
        raise ConfigError(offline_message(what, url, cache, "offline: INFOCAM_OFFLINE/HF_HUB_OFFLINE is set"))
    try:
        with socket_timeout(timeout):
            state = weights.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise ConfigError(offline_message(what, url, cache, str(reason).splitlines()[0] or type(err).__name__)) from None
    except RuntimeError as err:  # torch.hub: 'invalid hash value (expected ..., got ...)'; nothing is kept
        raise ConfigError(f"model.weights=imagenet: download of {url} failed its check: {_reason(err)}") from None
    return state, cache


def load_pretrained(
    model: nn.Module, source: str | Path | Mapping[str, torch.Tensor], new_layers: tuple[str, ...] = (),
    foreign: tuple[str, ...] = (), name: str | Path | None = None,
) -> None:
    """Copy the tensors of ``source`` (a file, or a state dict called ``name`` in messages) into
    ``model``; every other key must match, name and shape.

    ``new_layers``: key prefixes of the model's own new layers (kept as initialised; a tensor
    the file has there, such as an ImageNet classifier, is dropped). ``foreign``: key prefixes
    of file parts the model deliberately lacks (VGG's fully-connected ImageNet head).
    """
    skip = tuple(new_layers) + tuple(foreign)
    loaded = dict(source) if isinstance(source, Mapping) else load_state_dict_file(source)
    path = name if name is not None else source
    state = {k: v for k, v in loaded.items() if not (skip and k.startswith(skip))}
    own = model.state_dict()
    expected = {k for k in own if not (new_layers and k.startswith(tuple(new_layers)))}
    missing = {k for k in expected - state.keys() if not k.endswith(COUNTER_SUFFIX)}
    unexpected = state.keys() - own.keys()
    wrong_shape = {k for k in state.keys() & own.keys() if tuple(state[k].shape) != tuple(own[k].shape)}
    message = mismatch_message(path, missing, unexpected, wrong_shape)
    if message:
        raise ConfigError(message)
    model.load_state_dict(state, strict=False)
