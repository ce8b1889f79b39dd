"""Checkpoints written to a temporary file and renamed: a kill mid-save never corrupts last.ckpt;
read back without running code (resume goes through :func:`infocam.runtime.checkpoints.load_checkpoint`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from infocam.errors import OutputError
from infocam.runtime.checkpoints import load_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(checkpoint, tmp)
            os.replace(tmp, target)
        except (OSError, RuntimeError) as err:  # torch.save reports an unwritable file as a RuntimeError
            text = str(err).strip()
            reason = getattr(err, "strerror", None) or (text.splitlines()[0] if text else type(err).__name__)
            raise OutputError(f"cannot write checkpoint {target} ({reason}): is the run directory still writable?") from None
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # an immutable directory keeps no temporary file either

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        """Always ``weights_only=True``: a resumed file is data, never code."""
        return load_checkpoint(path, map_location=map_location if map_location is not None else "cpu")
