"""Image classification with any registered loss (softmax, pc_softmax, logit_adjusted, ...)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from infocam.errors import ConfigError
from infocam.runtime.io import atomic_write_text
from infocam.infomask.sandwich import StochasticSoftmaxBounds
from infocam.tasks.base import RegistryTask
from infocam.tasks.batch import unpack_batch
from infocam.plotting.figures import figure_png

log = logging.getLogger(__name__)


class ClassificationModule(RegistryTask):
    """Logs, per stage, ``{stage}/acc`` (top-1, micro), ``{stage}/acc_per_class_mean`` (the
    paper's average per-class accuracy: the unweighted mean of per-class recalls), ``{stage}/loss``
    and, when ``num_classes > top_k``, ``{stage}/acc_top{k}``.

    All are torchmetrics states reduced across processes on ``compute``, so DDP values equal
    one-process values (with :func:`infocam.data.loading.make_loader`'s unpadded shards).
    torchmetrics leaves out of the per-class mean any class that is absent from both the labels
    and the predictions of the split. At test time the confusion matrix (rows: true class,
    columns: predicted) is saved as ``confusion_matrix.{csv,png}`` in the run directory and
    sent to TensorBoard/W&B loggers as an image.

    ``mc_samples=K`` also logs the sandwich of paper 2, Eq. 25-27
    (:class:`~infocam.infomask.sandwich.StochasticSoftmaxBounds`): ``{stage}/log_softmax_mean`` and
    ``{stage}/dv_lower_bound`` over K output draws per input. K >= 2 keeps the model's dropout
    layers active during evaluation (all else in eval mode); K = 1 is the deterministic network.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int,
        scheduler: Mapping[str, Any] | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        top_k: int | None = 5,
        confusion_matrix: bool = True,
        lr_mult_new_layers: float = 1.0,
        mc_samples: int | None = None,
    ) -> None:
        super().__init__(model, loss, optimizer, num_classes, scheduler, model_kwargs, lr_mult_new_layers)
        self.top_k = top_k if top_k and num_classes > top_k else None
        if mc_samples is not None and (isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 1):
            raise ConfigError(f"task.mc_samples must be null or an integer >= 1, got {mc_samples!r}")
        self.mc_samples = mc_samples

        def stage_metrics() -> torch.nn.ModuleDict:
            metrics = {
                "acc": MulticlassAccuracy(num_classes, average="micro"),
                "acc_per_class_mean": MulticlassAccuracy(num_classes, average="macro"),
                "loss": MeanMetric(),
            }
            if self.top_k:
                metrics[f"acc_top{self.top_k}"] = MulticlassAccuracy(num_classes, top_k=self.top_k, average="micro")
            if mc_samples:
                metrics["sandwich"] = StochasticSoftmaxBounds()
            return torch.nn.ModuleDict(metrics)

        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.metrics = torch.nn.ModuleDict({"val": stage_metrics(), "test": stage_metrics()})
        #: stage metrics that the loops below neither update from logits nor log as scalars
        #: (their owner does); all of them are reset by RegistryTask.reset_stage_metrics
        self.own_metrics: set[str] = {"confusion"}
        if confusion_matrix:
            self.metrics["test"]["confusion"] = MulticlassConfusionMatrix(num_classes)

    @property
    def test_confusion(self) -> MulticlassConfusionMatrix | None:
        """The test confusion matrix (rows: true class), or ``None`` with ``confusion_matrix=false``."""
        return self.metrics["test"]["confusion"] if "confusion" in self.metrics["test"] else None

    def training_step(self, batch, batch_idx):
        batch = unpack_batch(batch)
        x, y = batch.images, batch.labels
        logits = self(x)
        loss = self.loss_fn(logits, y)
        # update only: the metric's forward would also compute a per-batch accuracy nobody reads
        self.train_acc.update(logits.detach(), y)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def _eval_step(self, stage: str, batch) -> None:
        batch = unpack_batch(batch)
        x, y = batch.images, batch.labels
        logits = self(x)
        metrics = self.metrics[stage]
        metrics["loss"].update(self.loss_fn(logits, y), weight=y.numel())
        for name, metric in metrics.items():
            if name not in ("loss", "sandwich") and name not in self.own_metrics:
                metric.update(logits, y)
        if "sandwich" in metrics:
            draws = logits[None] if self.mc_samples == 1 else stochastic_logits(self.net, x, self.mc_samples)
            metrics["sandwich"].update(draws, y)
        if "confusion" in metrics:
            metrics["confusion"].update(logits, y)

    def _eval_epoch_end(self, stage: str) -> None:
        for name, metric in self.metrics[stage].items():
            if name in self.own_metrics:
                continue
            value = metric.compute()
            for key, scalar in (value.items() if isinstance(value, dict) else [(name, value)]):
                self.log(f"{stage}/{key}", scalar.float(), prog_bar=key.startswith("acc"))

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        if self.test_confusion is None:
            return
        matrix = self.test_confusion.compute().cpu()  # every rank: compute is a collective
        if self.trainer.is_global_zero:
            self._save_confusion(matrix)

    def _save_confusion(self, matrix: Tensor) -> None:
        rows = [",".join(str(int(v)) for v in row) for row in matrix.tolist()]
        atomic_write_text(Path(self.trainer.default_root_dir) / "confusion_matrix.csv", "\n".join(rows) + "\n")
        self.publish_figure("confusion_matrix.png", confusion_png(matrix), "test/confusion_matrix")


def stochastic_logits(net: torch.nn.Module, x: Tensor, draws: int) -> Tensor:
    """``[K, B, M]`` logits of ``K`` forward passes with the dropout layers active (one batched
    pass over K copies of ``x``; every other layer keeps its mode, so batch norm stays in eval)."""
    dropouts = [m for m in net.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not dropouts:
        raise ConfigError(
            f"task.mc_samples={draws} draws random outputs through dropout, but {type(net).__name__} has no dropout layer"
        )
    modes = [m.training for m in dropouts]
    try:
        for m in dropouts:
            m.train()
        logits = net(x.repeat(draws, *([1] * (x.ndim - 1))))
    finally:
        for m, mode in zip(dropouts, modes):
            m.train(mode)
    return logits.reshape(draws, x.shape[0], -1)


def confusion_png(matrix: Tensor) -> bytes:
    """A row-normalised confusion matrix (true class down, predicted across) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = matrix.double()
    rates = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    size = min(3 + 0.35 * len(rates), 12)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(rates.numpy(), cmap="viridis", vmin=0, vmax=1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("test confusion matrix (row-normalised)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return figure_png(fig, dpi=90)
