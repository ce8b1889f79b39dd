"""Stop training on the first NaN/inf loss, naming the step."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from infocam.errors import NonFiniteLossError


class FiniteLossGuard(L.Callback):
    """Raise :class:`NonFiniteLossError` as soon as a training loss is not finite.

    Lightning's EarlyStopping(check_finite=True) only looks at the monitored validation value
    once per epoch; a NaN in step 3 would otherwise burn the rest of the epoch.
    """

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss).all():
            raise NonFiniteLossError(
                f"training loss became {loss.item()} at global step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}, batch {batch_idx}); lower the learning rate or "
                "check the inputs"
            )
