"""What a person looks at in a wandb run, per task, logged by one callback (the tasks stay wandb-free).

- every run: the resolved config;
- MI estimation: the test estimate against the Monte-Carlo truth (table, bar chart, error);
- classification: a wandb confusion matrix and per-class accuracy (table, bar chart), from the
  ``confusion_matrix.csv`` the task writes into the run directory;
- WSOL: ``test/overlays``, one captioned overlay panel per kept test image; ``test/cam_table``, a
  ``wandb.Table`` of the same images with the CAM overlay, the predicted box (from the
  ground-truth class map) and the ground-truth boxes as ``wandb.Image`` boxes; and
  ``test/box_accuracy_curve``, box accuracy against the CAM threshold per IoU threshold
  (MaxBoxAccV2's curve, summed over ranks).

This is the only path by which WSOL images reach wandb: the images come from the task's public
``test_overlays()`` and the curve from its ``metrics["test"]["maxboxacc"]`` (both kept until the
next test epoch starts). Single figures (confusion matrix, info-mask grid) go to every image
logger through ``RegistryTask.publish_figure``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig

from infocam.runtime.wandb_logger import resolved_config, wandb_loggers


def wandb_callbacks(loggers: Iterable[Any], cfg: DictConfig | None = None) -> list:
    """The dashboard callback when any logger is a ``WandbLogger``, else nothing."""
    if not wandb_loggers(loggers):
        return []
    return [WandbViews(resolved_config(cfg) if cfg is not None else None)]


def _wandb_experiments(trainer: L.Trainer) -> list:
    from lightning.pytorch.loggers import WandbLogger

    return [logger.experiment for logger in trainer.loggers if isinstance(logger, WandbLogger)]


class WandbViews(L.Callback):
    """Logs the resolved config and the per-task views above to every wandb logger of the trainer."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config
        self._wsol: dict[str, Any] | None = None

    # -- every run ------------------------------------------------------------------------
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log_config(trainer)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log_config(trainer)  # infocam-eval tests without fitting

    def _log_config(self, trainer: L.Trainer) -> None:
        """After Lightning logged the task's hyperparameters (again at each stage, flattening nested
        ones to strings), so the resolved config has the last word."""
        if self.config is None or not trainer.is_global_zero:
            return
        for run in _wandb_experiments(trainer):
            run.config.update(self.config, allow_val_change=True)

    # -- WSOL: the curve's states are summed over ranks at the end of the test epoch ---------
    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._wsol = None

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from infocam.tasks.wsol import WSOLModule  # here: a run that logs no WSOL task never imports it

        if not isinstance(pl_module, WSOLModule):
            return
        curve = pl_module.metrics["test"]["maxboxacc"]
        with curve.sync_context():  # every rank: summing the states is a collective
            hits, count = curve.hits.detach().cpu().clone(), int(curve.count)
        if not trainer.is_global_zero:
            return
        self._wsol = {
            "thresholds": list(curve.thresholds),
            "iou_thresholds": list(curve.iou_thresholds),
            "accuracy": (hits.double() / max(count, 1)).numpy(),
            "batch": pl_module.test_overlays(),
            "cam": dict(pl_module.cam_spec),
        }

    # -- after testing: one set of views per task -------------------------------------------
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        runs = _wandb_experiments(trainer)
        if not runs:
            return
        import wandb

        payload: dict[str, Any] = {}
        payload.update(mi_views(wandb, trainer.callback_metrics))
        payload.update(classification_views(wandb, Path(trainer.default_root_dir) / "confusion_matrix.csv", trainer))
        if self._wsol is not None:
            payload.update(wsol_views(wandb, self._wsol, class_names(trainer, pl_module)))
            self._wsol = None
        for run in runs:
            if payload:
                run.log(payload)


def class_names(trainer: L.Trainer, pl_module: L.LightningModule) -> dict[int, str]:
    """Class id -> name (the DataModule's ``class_names`` when it has them, else ``class k``)."""
    names = list(getattr(getattr(trainer, "datamodule", None), "class_names", None) or [])
    num = int(getattr(pl_module, "hparams", {}).get("num_classes", len(names)) or len(names))
    return {k: (str(names[k]) if k < len(names) else f"class {k}") for k in range(max(num, len(names)))}


def mi_views(wandb, metrics: dict[str, Any]) -> dict[str, Any]:
    """The test MI estimate next to the Monte-Carlo truth, when the DataModule knows the truth."""
    if "test/mi_true" not in metrics or "test/mi_estimate" not in metrics:
        return {}
    value = {k: float(metrics[k]) for k in ("test/mi_estimate", "test/mi_estimate_se", "test/mi_true", "test/mi_true_se") if k in metrics}
    table = wandb.Table(
        columns=["quantity", "nats", "standard error"],
        data=[
            ["estimate", value["test/mi_estimate"], value.get("test/mi_estimate_se", float("nan"))],
            ["Monte-Carlo truth", value["test/mi_true"], value.get("test/mi_true_se", float("nan"))],
        ],
    )
    return {
        "test/mi_vs_truth": wandb.plot.bar(table, "quantity", "nats", title="I(X;Y): estimate vs Monte-Carlo truth"),
        "test/mi_error": value["test/mi_estimate"] - value["test/mi_true"],
    }


def classification_views(wandb, csv_path: Path, trainer: L.Trainer) -> dict[str, Any]:
    """Confusion matrix and per-class accuracy (recall) from the task's ``confusion_matrix.csv``."""
    if not csv_path.is_file():
        return {}
    matrix = np.loadtxt(csv_path, delimiter=",", dtype=np.int64, ndmin=2)
    names = [f"class {k}" for k in range(len(matrix))]
    given = list(getattr(getattr(trainer, "datamodule", None), "class_names", None) or [])
    if len(given) == len(matrix):
        names = [str(n) for n in given]
    # wandb's confusion matrix takes label lists: expand the counts back into (true, predicted) pairs
    true, predicted = np.nonzero(matrix)
    counts = matrix[true, predicted]
    y_true = np.repeat(true, counts).tolist()
    y_pred = np.repeat(predicted, counts).tolist()
    support = matrix.sum(axis=1)
    recall = np.divide(np.diag(matrix), support, out=np.full(len(matrix), np.nan), where=support > 0)
    table = wandb.Table(
        columns=["class", "accuracy", "test images"],
        data=[[names[k], float(recall[k]), int(support[k])] for k in range(len(matrix))],
    )
    return {
        "test/confusion_matrix_plot": wandb.plot.confusion_matrix(y_true=y_true, preds=y_pred, class_names=names),
        "test/per_class_accuracy": wandb.plot.bar(table, "class", "accuracy", title="test accuracy per class"),
    }


def wsol_views(wandb, captured: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """``test/cam_table`` (images with CAM overlay and boxes) and ``test/box_accuracy_curve``."""
    out: dict[str, Any] = {}
    thresholds, ious, accuracy = captured["thresholds"], captured["iou_thresholds"], captured["accuracy"]
    out["test/box_accuracy_curve"] = wandb.plot.line_series(
        xs=list(thresholds),
        ys=[[float(a) for a in row] for row in accuracy],
        keys=[f"IoU >= {d:g}" for d in ious],
        title="box accuracy vs CAM threshold (all components)",
        xname="CAM threshold",
    )
    batch = captured["batch"]
    if batch is None:
        return out
    from infocam.plotting import batch_panels, display_images  # the overlay PNG's own drawing and scaling

    out["test/overlays"] = [
        wandb.Image(panel, caption=f"y={int(y)} pred={int(p)} IoU={float(i):.2f}")
        for panel, y, p, i in zip(batch_panels(batch), batch["labels"], batch["predicted"], batch["ious"])
    ]
    cam = captured["cam"]
    cam_label = ", ".join(f"{k}={v}" for k, v in cam.items()) or "cam"

    images = display_images(batch["images"])
    heat = _normalise(batch["maps"])
    import matplotlib

    colour = matplotlib.colormaps["jet"]
    table = wandb.Table(columns=["index", "cam", "image", "overlay", "label", "predicted", "iou", "hit"])
    for i in range(len(images)):
        boxes = _boxes(batch, i, names)
        overlay = 0.55 * images[i] + 0.45 * colour(heat[i])[..., :3]
        label, predicted, iou = int(batch["labels"][i]), int(batch["predicted"][i]), float(batch["ious"][i])
        table.add_data(
            i,
            cam_label,
            wandb.Image(_uint8(images[i]), boxes=boxes, classes=_classes(names)),
            wandb.Image(_uint8(overlay), boxes=boxes, classes=_classes(names)),
            names.get(label, str(label)),
            names.get(predicted, str(predicted)),
            iou,
            iou >= 0.5,
        )
    out["test/cam_table"] = table
    return out


def _classes(names: dict[int, str]):
    import wandb

    return wandb.Classes([{"id": k, "name": v} for k, v in names.items()])


def _boxes(batch: dict[str, torch.Tensor], i: int, names: dict[int, str]) -> dict[str, Any]:
    """wandb box groups: the predicted box (GT-class map) and every ground-truth box, in pixels."""
    label = int(batch["labels"][i])

    def box(xyxy, caption: str) -> dict[str, Any]:
        x0, y0, x1, y1 = (float(v) for v in xyxy)
        return {
            "position": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1},
            "domain": "pixel",
            "class_id": label,
            "box_caption": caption,
        }

    predicted = batch["boxes"][i]
    pred_boxes = [box(predicted.tolist(), f"CAM box IoU {float(batch['ious'][i]):.2f}")] if float(
        (predicted[2] - predicted[0]) * (predicted[3] - predicted[1])
    ) > 0 else []
    gt = [box(batch["gt_boxes"][i][k].tolist(), "ground truth") for k in range(int(batch["gt_counts"][i]))]
    return {
        "predictions": {"box_data": pred_boxes, "class_labels": dict(names)},
        "ground_truth": {"box_data": gt, "class_labels": dict(names)},
    }


def _normalise(maps: torch.Tensor) -> np.ndarray:
    from infocam.localization import normalize_maps

    return normalize_maps(maps.float()).numpy()


def _uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
