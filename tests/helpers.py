"""Test-only Lightning callbacks, importable by CLI subprocesses (repo root on PYTHONPATH)."""

import os
import signal

import lightning as L


class SigkillAtStep(L.Callback):
    """SIGKILL this very process after optimiser step ``step``: a crash with no cleanup."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class NanWeightsAtStart(L.Callback):
    """Fill the model's weights with NaN before training: every loss after is NaN."""

    def on_train_start(self, trainer, pl_module):
        import torch

        with torch.no_grad():
            for parameter in pl_module.parameters():
                parameter.fill_(float("nan"))
