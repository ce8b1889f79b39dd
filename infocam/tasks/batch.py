"""One reading of a batch for every task: tuple batches (cached tensors) and dict batches
(file-backed datasets such as CUB) give the same fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from torch import Tensor

from infocam.errors import DataError


@dataclass
class Batch:
    """``images [B, ...]`` and ``labels [B]``; localisation data adds ``boxes [B, K, 4]``,
    ``box_counts [B]`` (valid boxes per image) and optionally ``masks [B, H, W]``."""

    images: Tensor
    labels: Tensor
    boxes: Tensor | None = None
    box_counts: Tensor | None = None
    masks: Tensor | None = None

    def require_boxes(self) -> tuple[Tensor, Tensor]:
        if self.boxes is None or self.box_counts is None:
            raise DataError(
                "WSOL evaluation needs a dataset with boxes: batches must carry images, labels, boxes "
                "[B, K, 4] and box counts [B] (a dict with image/label/boxes or a tuple of at least 4 tensors)"
            )
        return self.boxes, self.box_counts


def unpack_batch(batch: Any) -> Batch:
    """Read a tuple ``(images, labels[, boxes, box_counts[, masks]])`` or a dict with ``image``,
    ``label`` and optionally ``boxes`` (``[B, K, 4]``), ``box_counts`` and ``mask``/``masks``."""
    if isinstance(batch, Mapping):
        boxes = batch.get("boxes")
        counts = batch.get("box_counts")
        if boxes is not None and counts is None:  # every image has all K boxes
            counts = boxes.new_full((boxes.shape[0],), boxes.shape[1]).long()
        masks = batch.get("masks", batch.get("mask"))
        return Batch(batch["image"], batch["label"], boxes, counts, masks)
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise DataError(f"a batch must be a dict or a tuple (images, labels, ...); got {type(batch).__name__}")
    fields = list(batch[:5]) + [None] * (5 - min(len(batch), 5))
    if len(batch) == 3:  # (images, labels, extra) carries no boxes
        fields[2] = None
    return Batch(*fields)
