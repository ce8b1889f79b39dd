"""What every task shares: building the registered model and loss, and the optimiser."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Mapping

import lightning as L
import torch
from torch import nn
from torchmetrics import Metric
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from infocam.errors import ConfigError
from infocam.registry import LOSSES, MODELS
from infocam.runtime.io import atomic_write_bytes


def plain(value: Any) -> Any:
    """DictConfig/ListConfig to plain containers, so hparams pickle and print cleanly."""
    if isinstance(value, (DictConfig,)) or OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


class RegistryTask(L.LightningModule):
    """Builds ``model`` and ``loss`` from their registries by name; subclasses add metrics.

    Arguments are primitives (names, numbers, dicts), so ``save_hyperparameters`` captures the
    whole recipe and ``Task.load_from_checkpoint(path)`` rebuilds it alone.
    ``lr_mult_new_layers`` scales the learning rate of the model's ``new_layers()`` (layers not
    initialised from ImageNet weights; see :meth:`parameter_groups`).
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int,
        scheduler: Mapping[str, Any] | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        lr_mult_new_layers: float = 1.0,
    ) -> None:
        super().__init__()
        # collects the arguments of every __init__ in the subclass chain (e.g. input_dim),
        # so load_from_checkpoint(path) alone rebuilds the task
        # (model_kwargs is dropped when the subclass derives it from its own arguments)
        accepts_model_kwargs = "model_kwargs" in inspect.signature(type(self).__init__).parameters
        self.save_hyperparameters(ignore=[] if accepts_model_kwargs else ["model_kwargs"])
        for key, value in list(self.hparams.items()):  # DictConfig would not load with weights_only
            self.hparams[key] = plain(value)
        self.net = MODELS.from_spec(model, num_classes=num_classes, **dict(model_kwargs or {}))
        self.loss_fn = self.build_loss(loss, num_classes)
        self.lr_mult_new_layers = float(lr_mult_new_layers)
        if self.lr_mult_new_layers <= 0:
            raise ConfigError(f"task.lr_mult_new_layers must be > 0, got {lr_mult_new_layers!r}")
        if self.lr_mult_new_layers != 1.0 and not callable(getattr(self.net, "new_layers", None)):
            raise ConfigError(
                f"task.lr_mult_new_layers={lr_mult_new_layers} needs a model with new_layers() "
                f"(e.g. vgg16_gap, resnet50_wsol); model={self.hparams.model.get('name')} has none"
            )

    def build_loss(self, spec: Mapping[str, Any], num_classes: int) -> Any:
        """The ``loss`` entry a spec names (a task with other kinds of entry overrides this)."""
        return LOSSES.from_spec(spec, num_classes=num_classes)

    #: reporting.dispatch.REPORTS key that ``infocam-eval`` builds after testing (None: no report)
    report_kind: str | None = None

    def forward(self, x):
        return self.net(x)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Record the task class, so ``infocam-eval ckpt_path=...`` rebuilds any task without ``task=``."""
        checkpoint["infocam_task"] = f"{type(self).__module__}.{type(self).__qualname__}"

    def check_batch(self, batch: Any) -> None:
        """Raise if ``batch`` is not what this task reads (``infocam-eval`` calls it on one test
        batch before evaluating): read it, run the model on two samples, check the labels fit."""
        from infocam.tasks.batch import unpack_batch

        fields = unpack_batch(batch)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                logits = self(fields.images[:2])
        finally:
            self.train(was_training)
        num_classes = int(self.hparams.num_classes)
        if logits.shape[-1] != num_classes:
            raise ConfigError(f"the model gives {logits.shape[-1]} scores per sample, the task expects {num_classes}")
        if fields.labels.numel() and int(fields.labels.max()) >= num_classes:
            raise ConfigError(f"labels go up to {int(fields.labels.max())} but the checkpoint has {num_classes} classes")

    def configure_evaluation(self, **settings: Any) -> None:
        """Evaluation settings that ``infocam-eval`` swaps in after loading (e.g. WSOL's ``cam``);
        tasks without any ignore them."""

    def setup(self, stage: str) -> None:
        """Class priors come from the training labels the DataModule actually serves."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if stage == "fit" and datamodule is not None and hasattr(datamodule, "train_class_counts"):
            self.loss_fn.set_class_counts(datamodule.train_class_counts)

    # -- evaluation: subclasses implement _eval_step / _eval_epoch_end for a stage -------------
    def _eval_step(self, stage: str, batch) -> None:
        raise NotImplementedError

    def _eval_epoch_end(self, stage: str) -> None:
        raise NotImplementedError

    def validation_step(self, batch, batch_idx):
        self._eval_step("val", batch)

    def test_step(self, batch, batch_idx):
        self._eval_step("test", batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def on_validation_epoch_start(self) -> None:
        self.reset_stage_metrics("val")

    def on_test_epoch_start(self) -> None:
        self.reset_stage_metrics("test")

    def reset_stage_metrics(self, stage: str) -> None:
        """Give this process fresh metric states for ``stage`` (``self.metrics[stage]``): the one
        place task metrics are reset, at the start of every validation and test epoch, so a
        stage's states stay readable after its epoch (callbacks, tests) until the next one.

        ddp_spawn pickles the module into every process through shared memory, so without
        this all ranks would add into the *same* state tensors and the DDP sum would count
        every sample twice. ``Metric.reset`` replaces the states with private copies.
        """
        metrics = getattr(self, "metrics", None)
        if isinstance(metrics, nn.ModuleDict) and stage in metrics:
            for module in metrics[stage].modules():
                if isinstance(module, Metric):
                    module.reset()

    def publish_figure(self, relative_path: str, png: bytes, key: str | None = None) -> Path | None:
        """Write ``png`` atomically under the run directory (global rank 0 only) and, with a
        ``key``, send it as one image to every logger that takes images (TensorBoard, W&B).

        The one place a task turns a figure into a file and a logged image; W&B views built
        from several images at once (WSOL's overlay table) belong to ``WandbViews`` instead.
        """
        if not self.trainer.is_global_zero:
            return None
        out = Path(self.trainer.default_root_dir) / relative_path
        atomic_write_bytes(out, png)
        if key is None:
            return out
        import io

        import numpy as np
        from PIL import Image

        image = Image.open(io.BytesIO(png)).convert("RGB")
        for logger in self.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):  # TensorBoard
                experiment.add_image(key, np.asarray(image), self.global_step, dataformats="HWC")
            elif hasattr(logger, "log_image"):  # W&B
                logger.log_image(key=key, images=[image])
        return out

    def test_overlays(self) -> dict[str, torch.Tensor] | None:
        """The test images this task kept for pictures, batched (``None``: it keeps none).
        ``WandbViews`` reads it after the test epoch; tasks that draw per-image views override it."""
        return None

    def parameter_groups(self, lr: float | None) -> list[dict[str, Any]] | Any:
        """All parameters, or -- with ``lr_mult_new_layers != 1`` -- two groups: the pretrained
        body at ``lr`` and the model's ``new_layers()`` (heads not initialised from ImageNet)
        at ``lr x lr_mult_new_layers``, the WSOL authors' fine-tuning recipe (10x)."""
        if self.lr_mult_new_layers == 1.0:
            return self.parameters()
        if lr is None:
            raise ConfigError("task.lr_mult_new_layers needs task.optimizer.lr to scale")
        new_ids = {id(p) for module in self.net.new_layers() for p in module.parameters()}
        new = [p for p in self.parameters() if id(p) in new_ids]
        body = [p for p in self.parameters() if id(p) not in new_ids]
        return [{"params": body}, {"params": new, "lr": float(lr) * self.lr_mult_new_layers}]

    def configure_optimizers(self):
        optimizer_cfg = plain(self.hparams.optimizer)
        params = self.parameter_groups(dict(optimizer_cfg).get("lr"))
        # a partial, so parameter groups reach the optimiser as they are (not through OmegaConf)
        optimizer = instantiate(optimizer_cfg, _partial_=True, _convert_="all")(params)
        if not self.hparams.scheduler:
            return optimizer
        scheduler_cfg = dict(plain(self.hparams.scheduler))
        interval = scheduler_cfg.pop("interval", "epoch")
        monitor = scheduler_cfg.pop("monitor", None)
        scheduler = instantiate(scheduler_cfg, optimizer=optimizer, _convert_="all")
        config = {"scheduler": scheduler, "interval": interval}
        if monitor:
            config["monitor"] = monitor
        return {"optimizer": optimizer, "lr_scheduler": config}
