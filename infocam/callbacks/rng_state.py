"""Every random generator's state in the checkpoint, so a resumed run continues bit for bit.

Lightning restores weights, optimiser, loops and callbacks, but not the global generators that
MINE's label shuffle, dropout or in-process augmentation draw from: a resumed run would draw
different numbers from the ones the uninterrupted run drew after the same checkpoint.
DataLoader workers are covered by :func:`infocam.data.loading.make_loader`, whose worker seeds
are a function of (seed, epoch, rank) alone.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import lightning as L
import numpy as np
import torch

log = logging.getLogger(__name__)


def collect_rng_states() -> dict[str, Any]:
    """torch CPU/CUDA, numpy and Python ``random`` states as tensors and plain tuples
    (so the checkpoint still loads with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # this process's device only: touching every visible GPU would open a context on each
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = states.get("cuda")
    if cuda is not None:
        if torch.cuda.is_available():
            torch.cuda.set_rng_state(cuda)
        else:
            log.warning("the checkpoint holds a CUDA generator state but no GPU is in use; CUDA draws are not restored")


class RandomStateCheckpoint(L.Callback):
    """Saves the generator states with every checkpoint; restores them when training resumes.

    The states are applied in ``on_train_start``, after the resumed run's sanity-check
    validation (which draws numbers the uninterrupted run drew long before the checkpoint).
    Under DDP the checkpoint holds rank 0's states; every rank is seeded alike and draws alike.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return collect_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = dict(state_dict) if state_dict else None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            restore_rng_states(self._pending)
            self._pending = None
