"""Pretrained weights from a local file only (``model.weights=PATH``; never downloaded).

A file is a state dict saved with ``torch.save`` (read with ``weights_only=True``, so no code
runs) or a ``.safetensors`` file; a ``{"state_dict": ...}`` / ``{"model": ...}`` wrapper is
unwrapped. A file that does not fit the model fails with one line naming the keys that differ.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from infocam.errors import ConfigError
from infocam.runtime.checkpoints import NEEDS_CODE


def _reason(err: BaseException) -> str:
    """The first line of ``err``, or its type when it has no text (an EOFError says nothing)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else f"{type(err).__name__} (truncated or not a torch.save file)"

#: BatchNorm's step counter: absent from older torchvision files, unused by a trained model
COUNTER_SUFFIX = "num_batches_tracked"


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model.weights: weights file {path} does not exist (weights are never downloaded at run time)")
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


def load_pretrained(
    model: nn.Module, path: str | Path, new_layers: tuple[str, ...] = (), foreign: tuple[str, ...] = ()
) -> None:
    """Copy the tensors of ``path`` into ``model``; every other key must match, name and shape.

    ``new_layers``: key prefixes of the model's own new layers (kept as initialised; a tensor
    the file has there, such as an ImageNet classifier, is dropped). ``foreign``: key prefixes
    of file parts the model deliberately lacks (VGG's fully-connected ImageNet head).
    """
    skip = tuple(new_layers) + tuple(foreign)
    state = {k: v for k, v in load_state_dict_file(path).items() if not (skip and k.startswith(skip))}
    own = model.state_dict()
    expected = {k for k in own if not (new_layers and k.startswith(tuple(new_layers)))}
    missing = {k for k in expected - state.keys() if not k.endswith(COUNTER_SUFFIX)}
    unexpected = state.keys() - own.keys()
    wrong_shape = {k for k in state.keys() & own.keys() if tuple(state[k].shape) != tuple(own[k].shape)}
    message = mismatch_message(path, missing, unexpected, wrong_shape)
    if message:
        raise ConfigError(message)
    model.load_state_dict(state, strict=False)
