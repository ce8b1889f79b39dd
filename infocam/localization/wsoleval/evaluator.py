"""Test-time scoring of a WSOL model under ``localization.protocol=wsolevaluation``.

Each raw ground-truth-class CAM is turned into their score map (float64 bicubic resize to
224x224, then min-max normalisation); the test image plays the part of their original
image, so its boxes (truncated to integers, their ``x0,y0,x1,y1`` convention) are scaled
with ``int(x * 224 / W)``, and masks are resized with nearest neighbours. With
``save_scoremaps`` the maps go to ``<run>/scoremaps/<id>.npy`` and the metadata of the
same images to ``<run>/scoremaps_metadata/``, so ``infocam-eval-maps`` scores them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from infocam.errors import ConfigError
from infocam.runtime.io import atomic_write_bytes, atomic_write_text
from infocam.localization.wsoleval.protocol import RESIZE_LENGTH, prepare_scoremaps, resize_nearest, scale_boxes
from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP, as_fractions


def wsoleval_metrics(loc: Mapping[str, Any]) -> dict[str, torch.nn.Module]:
    """The protocol's metrics for ``localization`` settings (``curve_thresholds`` = N -> interval 1/N)."""
    interval = 1.0 / int(loc["curve_thresholds"])
    return {
        "wsoleval_boxes": WsolBoxAccuracy(interval, loc["iou_thresholds"], multi_contour=True),
        "wsoleval_pxap": WsolPxAP(interval),
    }


def batch_ids(raw_batch: Any, batch_idx: int, rank: int, size: int) -> list[str]:
    """Image ids for saved maps: the batch's ``image_id`` when it has one, else rank/batch/index."""
    if isinstance(raw_batch, Mapping) and "image_id" in raw_batch:
        ids = raw_batch["image_id"]
        return [str(int(i)) if isinstance(i, Tensor) else str(i) for i in ids]
    return [f"r{rank}_b{batch_idx:05d}_{i:03d}" for i in range(size)]


class WsolevalScoring:
    """Updates the protocol's metrics from one test batch; optionally keeps the maps on disk."""

    def __init__(self, metrics: Mapping[str, torch.nn.Module], save_dir: Path | None = None, world_size: int = 1) -> None:
        if save_dir is not None and world_size > 1:
            raise ConfigError("localization.save_scoremaps=true writes one metadata set: run it in one process, not DDP")
        self.metrics = metrics
        self.save_dir = save_dir
        self.lines: dict[str, list[str]] = {"image_ids": [], "class_labels": [], "image_sizes": [], "localization": []}

    def update(self, raw_maps: Tensor, images: Tensor, labels: Tensor, gt_boxes: Tensor, gt_counts: Tensor,
               masks: Tensor | None, ids: list[str]) -> None:
        height, width = images.shape[-2:]
        scoremaps = prepare_scoremaps(raw_maps, (RESIZE_LENGTH, RESIZE_LENGTH)).cpu().numpy()
        boxes = np.trunc(gt_boxes.detach().cpu().double().numpy()).astype(np.int64)
        counts = gt_counts.detach().cpu().numpy().astype(np.int64)
        self.metrics["wsoleval_boxes"].update(scoremaps, scale_boxes(boxes, (width, height)), counts)
        if masks is not None:
            mask = np.stack([resize_nearest(m) for m in (masks.detach().cpu().numpy() > 0)]).astype(np.uint8)
            self.metrics["wsoleval_pxap"].update(scoremaps, mask)
        if self.save_dir is not None:
            self._save(scoremaps, labels, boxes, counts, (width, height), ids)

    def _save(self, scoremaps, labels, boxes, counts, size, ids) -> None:
        import io

        for scoremap, label, box, count, image_id in zip(scoremaps, labels.tolist(), boxes, counts, ids):
            buffer = io.BytesIO()
            np.save(buffer, scoremap)
            atomic_write_bytes(self.save_dir / "scoremaps" / f"{image_id}.npy", buffer.getvalue())
            self.lines["image_ids"].append(image_id)
            self.lines["class_labels"].append(f"{image_id},{int(label)}")
            self.lines["image_sizes"].append(f"{image_id},{size[0]},{size[1]}")
            for x0, y0, x1, y1 in box[:count].tolist():
                self.lines["localization"].append(f"{image_id},{x0},{y0},{x1},{y1}")

    def finish(self) -> None:
        """Write the metadata of the saved maps (nothing when maps are not saved)."""
        if self.save_dir is None or not self.lines["image_ids"]:
            return
        for name, lines in self.lines.items():
            atomic_write_text(self.save_dir / "scoremaps_metadata" / f"{name}.txt", "".join(f"{line}\n" for line in lines))

    @staticmethod
    def log_values(metrics: Mapping[str, torch.nn.Module]) -> dict[str, Tensor]:
        """``test/wsoleval/*`` values (fractions, as every logged accuracy): MaxBoxAccV2 and its
        parts, MaxBoxAcc, PxAP with masks."""
        out = {f"test/wsoleval/{k}": v for k, v in metrics["wsoleval_boxes"].compute().items()}
        pxap = metrics["wsoleval_pxap"]
        if pxap.update_count > 0:  # the batches carried masks
            out["test/wsoleval/pxap"] = pxap.compute()
        return as_fractions(out)
