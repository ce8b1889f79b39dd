"""Weakly-supervised localisation: train a classifier, then score CAM boxes against ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from infocam.cams.diagnostics import CamInfocamAgreement, class_weight_sum_ratio
from infocam.errors import DataError
from infocam.localization import best_iou, cams_to_boxes, upsample_maps
from infocam.localization.settings import localization_settings
from infocam.localization.paper_metrics import BoxAccuracy, MaxBoxAccV2, PxAP
from infocam.localization.per_image_file import PerImageResults
from infocam.registry import CAMS
from infocam.tasks.base import RegistryTask, plain
from infocam.tasks.batch import unpack_batch
from infocam.localization.wsoleval.evaluator import WsolevalScoring, batch_ids, wsoleval_metrics


class WSOLModule(RegistryTask):
    """Trains like a classifier (registered model and loss); the test step draws maps with the
    configured CAM method for the ground-truth and the predicted class of every image in one
    forward pass, turns them into boxes at image resolution, and logs ``test/gt_known_loc``,
    ``test/top1_loc``, ``test/top1_cls``, ``test/maxboxacc_v2`` (and per-IoU parts), and
    ``test/pxap`` when the batches carry masks.
    """

    report_kind = "wsol"

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int,
        cam: Mapping[str, Any] | None = None,
        localization: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        lr_mult_new_layers: float = 1.0,
    ) -> None:
        super().__init__(model, loss, optimizer, num_classes, scheduler, lr_mult_new_layers=lr_mult_new_layers)
        self.hparams.update({"cam": plain(cam), "localization": plain(localization)})
        self.metrics = torch.nn.ModuleDict(
            {
                stage: torch.nn.ModuleDict(
                    {"acc": MulticlassAccuracy(num_classes, average="micro"), "loss": MeanMetric()}
                )
                for stage in ("val",)
            }
        )
        self.configure_evaluation(cam, localization)

    # -- evaluation settings (replaceable after load_from_checkpoint) -----------------------
    def configure_evaluation(
        self, cam: Mapping[str, Any] | None = None, localization: Mapping[str, Any] | None = None, **settings: Any
    ) -> None:
        """Choose the CAM method and box settings; ``infocam-eval`` calls this with ``cfg.cam``
        (other tasks' settings, e.g. ``infomask``, are ignored)."""
        if cam is not None:
            self.cam_spec = dict(plain(cam))
        elif not hasattr(self, "cam_spec"):
            self.cam_spec = dict(plain(self.hparams.get("cam")) or {"name": "cam"})
        loc = localization_settings(plain(self.hparams.get("localization")), plain(localization))
        self.localization = loc
        self.cam_method = CAMS.from_spec(self.cam_spec)
        self.cam_method.check_model(self.net)
        # test metrics depend on these settings; they live in self.metrics["test"] so the base
        # class's per-epoch reset covers them like every other stage metric
        self.metrics["test"] = torch.nn.ModuleDict(
            {
                "box_accuracy": BoxAccuracy(loc["iou_threshold"]),
                "maxboxacc": MaxBoxAccV2(
                    loc["curve_thresholds"], loc["iou_thresholds"], loc["connectivity"], loc["backend"],
                    keep_per_image=True,  # for per_image.npz (infocam.localization.per_image_file)
                ),
                "pxap": PxAP(loc["curve_thresholds"]),
                **(wsoleval_metrics(loc) if loc["protocol"] == "wsolevaluation" else {}),
                # Table 5's Top-5 Cls (only where there are more than 5 classes)
                **({"top5": MulticlassAccuracy(self.hparams.num_classes, top_k=5, average="micro")}
                   if self.hparams.num_classes > 5 else {}),
                # how much Eq. 14's subtraction changes the map (infocam.cams.diagnostics)
                **({"cam_infocam": CamInfocamAgreement(self.cam_method.region_size, self.cam_method.alignment)}
                   if CamInfocamAgreement.applies_to(self.net) else {}),
            }
        )
        self._wsoleval: WsolevalScoring | None = None
        self._overlays: list[dict[str, torch.Tensor]] = []
        self._per_image = PerImageResults()

    # -- training -------------------------------------------------------------------------
    def check_batch(self, batch) -> None:
        unpack_batch(batch).require_boxes()
        super().check_batch(batch)

    def training_step(self, batch, batch_idx):
        batch = unpack_batch(batch)
        loss = self.loss_fn(self(batch.images), batch.labels)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def _eval_step(self, stage: str, batch) -> None:
        """Validation: classification metrics only (boxes are scored at test time)."""
        batch = unpack_batch(batch)
        x, y = batch.images, batch.labels
        logits = self(x)
        metrics = self.metrics[stage]
        metrics["loss"].update(self.loss_fn(logits, y), weight=y.numel())
        metrics["acc"].update(logits, y)

    def _eval_epoch_end(self, stage: str) -> None:
        metrics = self.metrics[stage]
        self.log(f"{stage}/acc", metrics["acc"].compute(), prog_bar=True)
        self.log(f"{stage}/loss", metrics["loss"].compute())

    # -- localisation ---------------------------------------------------------------------
    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._overlays = []
        self._per_image = PerImageResults()
        if self.localization["protocol"] == "wsolevaluation":
            save = Path(self.trainer.default_root_dir) if self.localization["save_scoremaps"] else None
            self._wsoleval = WsolevalScoring(self.metrics["test"], save, self.trainer.world_size)

    def test_step(self, batch, batch_idx):
        raw_batch, batch = batch, unpack_batch(batch)
        images, labels = batch.images, batch.labels
        gt_boxes, gt_counts = batch.require_boxes()
        if images.ndim != 4:
            raise DataError(f"WSOL evaluation needs image batches [B, C, H, W], got {tuple(images.shape)}")
        loc = self.localization
        size = tuple(images.shape[-2:])
        result = self.cam_method.compute(self.net, images, [labels, None])
        predicted = result.logits.argmax(dim=1)
        gt_maps, pred_maps = (upsample_maps(m, size) for m in result.maps)
        both = torch.cat([gt_maps, pred_maps])
        boxes = cams_to_boxes(
            both, float(loc["threshold"]), connectivity=int(loc["connectivity"]), backend=loc["backend"]
        )
        gt_box, pred_box = boxes.split(images.shape[0])
        gt_iou = best_iou(gt_box, gt_boxes, gt_counts)
        pred_iou = best_iou(pred_box, gt_boxes, gt_counts)
        self.metrics["test"]["box_accuracy"].update(gt_iou, pred_iou, predicted == labels)
        hit = float(loc["iou_threshold"])
        self._per_image.update(batch_ids(raw_batch, batch_idx, self.global_rank, images.shape[0]),
                               gt_iou >= hit, (pred_iou >= hit) & (predicted == labels))
        self.metrics["test"]["maxboxacc"].update(gt_maps, gt_boxes, gt_counts)
        if batch.masks is not None:
            self.metrics["test"]["pxap"].update(gt_maps, batch.masks)
        if "top5" in self.metrics["test"]:
            self.metrics["test"]["top5"].update(result.logits, labels)
        if "cam_infocam" in self.metrics["test"]:
            self.metrics["test"]["cam_infocam"].update(self.net, images, labels, result.features)
        self._keep_overlays(images, gt_maps, gt_box, gt_boxes, gt_counts, labels, predicted, gt_iou)
        if self._wsoleval is not None:  # their protocol starts from the raw (feature-resolution) maps
            ids = batch_ids(raw_batch, batch_idx, self.global_rank, images.shape[0])
            self._wsoleval.update(result.maps[0], images, labels, gt_boxes, gt_counts, batch.masks, ids)

    def _keep_overlays(self, images, maps, boxes, gt_boxes, gt_counts, labels, predicted, ious) -> None:
        room = int(self.localization["num_overlays"]) - sum(len(o["images"]) for o in self._overlays)
        if room <= 0 or self.global_rank != 0:
            return
        keep = slice(0, room)
        self._overlays.append(
            {
                "images": images[keep].detach().cpu(),
                "maps": maps[keep].detach().cpu(),
                "boxes": boxes[keep].detach().cpu(),
                "gt_boxes": gt_boxes[keep].detach().cpu(),
                "gt_counts": gt_counts[keep].detach().cpu(),
                "labels": labels[keep].detach().cpu(),
                "predicted": predicted[keep].detach().cpu(),
                "ious": ious[keep].detach().cpu(),
            }
        )

    def on_test_epoch_end(self) -> None:
        metrics = self.metrics["test"]
        acc = metrics["box_accuracy"].compute()
        for key in ("gt_known_loc", "top1_loc", "top1_cls"):
            self.log(f"test/{key}", acc[key].float())
        self.log("test/num_images", acc["count"].float())
        if "top5" in metrics:
            self.log("test/top5_cls", metrics["top5"].compute())
        maxboxacc = metrics["maxboxacc"].compute()
        for key, value in maxboxacc.items():
            self.log(f"test/{key}", value.float())
        self._write_per_image(maxboxacc)
        pxap = metrics["pxap"].compute()  # on every rank: syncing the states is a collective
        if not torch.isnan(pxap):  # some rank saw masks
            self.log("test/pxap", pxap.float())
        if "cam_infocam" in metrics:
            corr = metrics["cam_infocam"].compute()
            if not torch.isnan(corr):
                self.log("test/cam_infocam_map_corr", corr.float())
            self.log("test/class_weight_sum_ratio", class_weight_sum_ratio(self.net.get_classifier().weight).float())
        if self._wsoleval is not None:
            for key, value in WsolevalScoring.log_values(metrics).items():
                self.log(key, value)  # float64: their percentages to the last digit
            self._wsoleval.finish()
        self._write_overlays()

    def test_overlays(self) -> dict[str, torch.Tensor] | None:
        """The first ``localization.num_overlays`` test images of this epoch (rank 0) with their
        ground-truth-class map, its box, the ground-truth boxes, labels, predictions and IoUs;
        kept until the next test epoch starts, for ``WandbViews``."""
        if not self._overlays:
            return None
        return {k: torch.cat([o[k] for o in self._overlays]) for k in self._overlays[0]}

    def _write_per_image(self, maxboxacc: dict[str, torch.Tensor]) -> None:
        box = self.metrics["test"]["maxboxacc"]
        chosen = [float(maxboxacc[f"maxboxacc_v2_iou{round(d * 100)}_threshold"]) for d in box.iou_thresholds]
        self._per_image.write(Path(self.trainer.default_root_dir), box.image_hits, box.thresholds, box.iou_thresholds,
                              chosen, float(self.localization["threshold"]), float(self.localization["iou_threshold"]),
                              self.global_rank, self.trainer.world_size)

    def _write_overlays(self) -> None:
        batch = self.test_overlays()
        if batch is None:
            return
        from infocam.plotting import batch_overlay_png

        title = ", ".join(f"{k}={v}" for k, v in self.cam_method.describe().items())
        # the file only: the per-image W&B views (test/overlays, test/cam_table) come from WandbViews
        self.publish_figure("overlays/wsol_overlays.png", batch_overlay_png(batch, title))  # kept on rank 0 only
