"""Mutual-information estimation: train a classifier (or MINE) and read I(X;Y) off it."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from infocam.errors import ConfigError
from infocam.metrics import VariationalMIBound
from infocam.metrics.mutual_information import KNNMutualInformation
from infocam.tasks.base import RegistryTask


class MIEstimationModule(RegistryTask):
    """Logs ``{stage}/mi_estimate`` (and its standard error), ``{stage}/acc`` and the loss.

    Which bound is read off follows the loss: Theorem 1 (log M - CE) for ``softmax``, the
    PC-softmax bound with training priors for ``pc_softmax``/``logit_adjusted``, the
    Donsker-Varadhan bound for ``mine``, NWJ for ``nwj``/``js``, clipped DV for ``smile``,
    in-batch InfoNCE for ``infonce_batch``. ``loss=knn`` trains nothing (``needs_training``):
    the run skips the fit loop and the test split's inputs go to the kNN estimator. At test time the DataModule's Monte-Carlo ground
    truth, when it has one, is logged beside it as ``test/mi_true``.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int,
        input_dim: int,
        scheduler: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, loss, optimizer, num_classes, scheduler, model_kwargs={"input_dim": input_dim})
        kind = self.loss_fn.mi_bound
        #: False for estimators with nothing to fit (knn): ``infocam.run`` then skips ``fit``
        self.needs_training = getattr(self.loss_fn, "needs_training", True)
        self.metrics = torch.nn.ModuleDict(
            {
                stage: torch.nn.ModuleDict(
                    {
                        "mi": KNNMutualInformation(self.loss_fn.k) if kind == "knn"
                        else VariationalMIBound(kind, **self.loss_fn.mi_bound_options()),
                        "acc": MulticlassAccuracy(num_classes, average="micro"),
                        "loss": MeanMetric(),
                    }
                )
                for stage in ("val", "test")
            }
        )

    def check_batch(self, batch) -> None:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ConfigError(f"MI estimation reads (x, y) tensor batches; this data gives a {type(batch).__name__}"
                              + (f" with {', '.join(map(str, batch))}" if isinstance(batch, dict) else ""))
        super().check_batch(batch)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def _eval_step(self, stage: str, batch) -> None:
        x, y = batch
        metrics = self.metrics[stage]
        if not self.needs_training:
            metrics["mi"].update(x, y)
            return
        logits = self(x)
        metrics["loss"].update(self.loss_fn(logits, y), weight=y.numel())
        metrics["acc"].update(logits, y)
        metrics["mi"].update(logits, y, self.loss_fn.mi_log_weights())

    def _eval_epoch_end(self, stage: str) -> None:
        metrics = self.metrics[stage]
        mi = metrics["mi"].compute()
        self.log(f"{stage}/mi_estimate", mi["estimate"].float(), prog_bar=True)
        self.log(f"{stage}/mi_estimate_se", mi["se"].float())
        if not self.needs_training:  # a kNN estimate has no classifier to score
            self.log(f"{stage}/num_samples", mi["count"].float())
            return
        self.log(f"{stage}/num_samples", mi["count"].float())
        self.log(f"{stage}/acc", metrics["acc"].compute(), prog_bar=True)
        self.log(f"{stage}/loss", metrics["loss"].compute())

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "true_mutual_information"):
            mi_true, mi_true_se = datamodule.true_mutual_information()
            self.log("test/mi_true", mi_true)
            self.log("test/mi_true_se", mi_true_se)
