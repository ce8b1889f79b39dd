"""Per-image localisation results of one WSOL test, saved beside metrics.json.

Two CAM methods scored on the same checkpoint see the same images, so their difference is best
judged image by image (a paired bootstrap, :mod:`infocam.reporting.wsol_paired`). The counts in
metrics.json cannot give that; this file does, compactly:

- ``ids`` [N]: image ids (the batch's ``image_id``, else rank/batch/index), the pairing key;
- ``gt_known_hit`` / ``top1_loc_hit`` [N] bool: the hit at the fixed box threshold and IoU;
- ``box_hits`` [N, D, ceil(T/8)] uint8: ``np.packbits`` along T of the all-components hit of
  every map threshold t at every IoU threshold d (what MaxBoxAccV2 counts), so a resample can
  choose its own best threshold;
- ``best_threshold_hits`` [N, D] bool: those hits at the thresholds this run chose;
- ``curve_thresholds`` [T], ``iou_thresholds`` [D], ``box_threshold``, ``iou_threshold``.

Under DDP each rank writes its own images to ``per_image.rank<r>.npz``; :func:`load_per_image`
joins them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from infocam.errors import DataError
from infocam.runtime.io import atomic_write_bytes

PER_IMAGE_STEM = "per_image"


class PerImageResults:
    """Collects one rank's per-image hits during a test epoch and writes them at its end."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.gt_known: list[Tensor] = []
        self.top1_loc: list[Tensor] = []

    def update(self, ids: list[str], gt_known_hit: Tensor, top1_loc_hit: Tensor) -> None:
        self.ids += ids
        self.gt_known.append(gt_known_hit.detach().bool().cpu())
        self.top1_loc.append(top1_loc_hit.detach().bool().cpu())

    def write(self, run_dir: Path, box_hits: list[Tensor], thresholds: list[float], iou_thresholds: list[float],
              chosen: list[float], box_threshold: float, iou_threshold: float, rank: int = 0,
              world_size: int = 1) -> Path | None:
        """``box_hits``: MaxBoxAccV2's kept ``[B, D, T]`` batches; ``chosen``: its threshold per IoU."""
        if not self.ids:
            return None
        grid = torch.cat(box_hits).numpy()  # [N, D, T]
        if grid.shape[0] != len(self.ids):
            raise DataError(f"per-image results: {grid.shape[0]} box rows for {len(self.ids)} images")
        columns = [thresholds.index(t) for t in chosen]
        best = np.stack([grid[:, d, t] for d, t in enumerate(columns)], axis=1)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            ids=np.asarray(self.ids),
            gt_known_hit=torch.cat(self.gt_known).numpy(),
            top1_loc_hit=torch.cat(self.top1_loc).numpy(),
            box_hits=np.packbits(grid, axis=2),
            best_threshold_hits=best,
            curve_thresholds=np.asarray(thresholds, dtype=np.float64),
            iou_thresholds=np.asarray(iou_thresholds, dtype=np.float64),
            box_threshold=np.float64(box_threshold),
            iou_threshold=np.float64(iou_threshold),
        )
        name = f"{PER_IMAGE_STEM}.npz" if world_size == 1 else f"{PER_IMAGE_STEM}.rank{rank}.npz"
        return atomic_write_bytes(Path(run_dir) / name, buffer.getvalue())


def load_per_image(run_dir: str | Path) -> dict[str, np.ndarray] | None:
    """The run's per-image results (ranks joined, ``box_hits`` unpacked to [N, D, T] bool), or
    None when the run saved none."""
    files = sorted(Path(run_dir).glob(f"{PER_IMAGE_STEM}*.npz"))
    if not files:
        return None
    parts = []
    for path in files:
        try:
            with np.load(path, allow_pickle=False) as data:
                parts.append({k: data[k] for k in data.files})
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: not a readable per-image results file ({err})") from None
    first = parts[0]
    out = {k: first[k] for k in ("curve_thresholds", "iou_thresholds", "box_threshold", "iou_threshold")}
    for key in ("ids", "gt_known_hit", "top1_loc_hit", "best_threshold_hits", "box_hits"):
        out[key] = np.concatenate([p[key] for p in parts])
    out["box_hits"] = np.unpackbits(out["box_hits"], axis=2, count=len(first["curve_thresholds"])).astype(bool)
    return out


__all__ = ["PER_IMAGE_STEM", "PerImageResults", "load_per_image"]
