"""Mutual-information estimation: train a classifier (or MINE) and read I(X;Y) off it."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor
from torchmetrics import MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

from infocam.errors import ConfigError
from infocam.metrics import VariationalMIBound
from infocam.mi_estimators import MI_ESTIMATORS, warn_if_above_ceiling
from infocam.registry import LOSSES
from infocam.tasks.base import RegistryTask


class LabelCounts(Metric):
    """Per-class counts of the labels seen (summed across ranks): H(Y) of a split, for the ceiling check."""

    full_state_update = False

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.add_state("counts", default=torch.zeros(self.num_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, target: Tensor) -> None:
        self.counts += torch.bincount(target.detach().long().flatten(), minlength=self.num_classes).to(self.counts)

    def compute(self) -> Tensor:
        return self.counts


class MIEstimationModule(RegistryTask):
    """Logs ``{stage}/mi_estimate`` (and its standard error), ``{stage}/acc`` and the loss.

    Which bound is read off follows the loss: Theorem 1 (log M - CE) for ``softmax``, the
    PC-softmax bound with training priors for ``pc_softmax``/``logit_adjusted``, the
    Donsker-Varadhan bound for ``mine``, NWJ for ``nwj``/``js``, clipped DV for ``smile``,
    in-batch InfoNCE for ``infonce_batch``. ``loss=knn`` names an entry of
    :data:`~infocam.mi_estimators.MI_ESTIMATORS`, which trains nothing (``needs_training``):
    the run skips the fit loop, the test split's inputs go to the kNN estimator, and the k it
    used is logged as ``test/knn_k``. At test time the DataModule's Monte-Carlo ground truth,
    when it has one, is logged beside it as ``test/mi_true``; a test estimate above H(Y) of the
    test labels warns (:class:`~infocam.mi_estimators.MIAboveCeilingWarning`).
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
        #: False for estimators with nothing to fit (knn): ``infocam.run`` then skips ``fit``
        self.needs_training = getattr(self.loss_fn, "needs_training", True)
        self.metrics = torch.nn.ModuleDict(
            {
                stage: torch.nn.ModuleDict(
                    {
                        "mi": self.loss_fn.metric() if not self.needs_training
                        else VariationalMIBound(self.loss_fn.mi_bound, **self.loss_fn.mi_bound_options()),
                        "acc": MulticlassAccuracy(num_classes, average="micro"),
                        "loss": MeanMetric(),
                        "labels": LabelCounts(num_classes),
                    }
                )
                for stage in ("val", "test")
            }
        )

    def build_loss(self, spec: Mapping[str, Any], num_classes: int) -> Any:
        """A trained bound from ``LOSSES``, or a training-free estimator from ``MI_ESTIMATORS``."""
        name = spec.get("name") if isinstance(spec, Mapping) or hasattr(spec, "get") else None
        if isinstance(name, str) and name not in LOSSES and name in MI_ESTIMATORS:
            return MI_ESTIMATORS.from_spec(spec, num_classes=num_classes)
        return super().build_loss(spec, num_classes)

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
        metrics["labels"].update(y)
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
        counts = metrics["labels"].compute()
        self.log(f"{stage}/mi_estimate", mi["estimate"].float(), prog_bar=True)
        self.log(f"{stage}/mi_estimate_se", mi["se"].float())
        self.log(f"{stage}/num_samples", mi["count"].float())
        if stage == "test":
            warn_if_above_ceiling(float(mi["estimate"]), counts.cpu().numpy(), str(self.hparams.loss.get("name")))
        if not self.needs_training:  # a kNN estimate has no classifier to score; it records the k it used
            self.log(f"{stage}/knn_k", mi["k"].float())
            return
        self.log(f"{stage}/acc", metrics["acc"].compute(), prog_bar=True)
        self.log(f"{stage}/loss", metrics["loss"].compute())

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "true_mutual_information"):
            mi_true, mi_true_se = datamodule.true_mutual_information()
            self.log("test/mi_true", mi_true)
            self.log("test/mi_true_se", mi_true_se)
