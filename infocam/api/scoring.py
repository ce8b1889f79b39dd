"""``evaluate_scoremaps``: wsolevaluation's MaxBoxAcc, MaxBoxAccV2 and PxAP on maps in memory.

The same metric objects as ``infocam-eval-maps`` (:mod:`infocam.localization.wsoleval.metrics`) and the
same checks and box scaling (:mod:`infocam.localization.wsoleval.protocol`), without writing ``.npy`` files.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from infocam.errors import DataError

ArrayLike = np.ndarray | Tensor


def _array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _per_image(values: Any, name: str) -> list[np.ndarray]:
    """``[N, ...]`` stacked or a sequence of ``N`` arrays -> a list of ``N`` arrays."""
    if isinstance(values, (np.ndarray, Tensor)):
        return list(_array(values))
    if isinstance(values, (list, tuple)):
        return [_array(v) for v in values]
    raise DataError(f"{name} must be an array/tensor [N, ...] or a list of per-image arrays, got {type(values).__name__}")


def _boxes(boxes: np.ndarray, index: int) -> np.ndarray:
    boxes = np.asarray(boxes)
    if boxes.ndim == 1 and boxes.shape == (4,):
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise DataError(f"gt_boxes[{index}] must be [K >= 1, 4] boxes (x0, y0, x1, y1), got shape {boxes.shape}")
    if not np.isfinite(boxes.astype(np.float64)).all():
        raise DataError(f"gt_boxes[{index}] has NaN/inf coordinates")
    boxes = np.trunc(boxes.astype(np.float64)).astype(np.int64)
    if (boxes < 0).any() or (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise DataError(f"gt_boxes[{index}]: boxes need 0 <= x0 <= x1 and 0 <= y0 <= y1, got {boxes.tolist()}")
    return boxes


def _mask(mask: np.ndarray, shape: tuple[int, ...], index: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise DataError(f"masks[{index}] is {mask.shape}, its score map {shape}: masks are scored at the map's size")
    if mask.dtype == bool:
        return mask.astype(np.uint8)
    values = np.unique(mask)
    if not np.isin(values, (0, 1, 255)).all():
        raise DataError(f"masks[{index}] must hold 0 (background), 1 (object) and 255 (ignore), got {values[:8].tolist()}")
    return mask.astype(np.uint8)


def evaluate_scoremaps(
    scoremaps: ArrayLike | Sequence[ArrayLike],
    gt_boxes: ArrayLike | Sequence[ArrayLike] | None = None,
    *,
    masks: ArrayLike | Sequence[ArrayLike] | None = None,
    image_sizes: Sequence[tuple[int, int]] | tuple[int, int] | None = None,
    prepare: bool = False,
    cam_curve_interval: float = 0.01,
    iou_thresholds: Sequence[float] = (30, 50, 70),
    multi_contour: bool = True,
) -> dict[str, float]:
    """wsolevaluation's metrics (percent) of ``N`` score maps, as ``infocam-eval-maps`` gives them.

    Args:
        scoremaps: ``[N, H, W]`` float array/tensor, or ``N`` 2-D maps; values in [0, 1] (their
            score maps) unless ``prepare``, which turns raw CAMs into them first as the WSOL
            test step does (float64 bicubic resize to 224 x 224, then min-max normalisation).
        gt_boxes: per image, ``[K, 4]`` integer boxes ``(x0, y0, x1, y1)`` with inclusive ends
            (their convention), in pixels of the map, or of the original image when
            ``image_sizes`` gives its ``(w, h)`` (one pair, or one per image): they are then
            scaled to the map with ``int(x * W_map / w)``, their ground-truth scaling.
        masks: per image, a ``[H, W]`` mask at the map's size: bool, or uint8 with 1 = object,
            0 = background, 255 = ignore. Gives PxAP.
    Returns:
        ``maxboxacc_v2`` (with ``maxboxacc_v2_iou{d}`` and their thresholds) and ``maxboxacc``
        when boxes are given, ``pxap`` when masks are, and ``num_images``.
    """
    from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP
    from infocam.localization.wsoleval.protocol import RESIZE_LENGTH, check_scoremap, prepare_scoremaps, resize_box

    if gt_boxes is None and masks is None:
        raise DataError("evaluate_scoremaps needs gt_boxes (MaxBoxAcc/MaxBoxAccV2) or masks (PxAP)")
    maps = _per_image(scoremaps, "scoremaps")
    if not maps:
        raise DataError("scoremaps is empty")
    if prepare:
        raw_sizes = [(m.shape[1], m.shape[0]) if m.ndim == 2 else None for m in maps]
        for i, m in enumerate(maps):
            if m.ndim != 2 or not np.isfinite(m.astype(np.float64)).all():
                raise DataError(f"scoremaps[{i}] must be a finite 2-D map, got shape {m.shape}")
        maps = [prepare_scoremaps(torch.from_numpy(np.asarray(m, dtype=np.float64))[None], (RESIZE_LENGTH,) * 2)[0].numpy()
                for m in maps]
        if image_sizes is None:  # boxes are in raw-map pixels: scale them as from an image of that size
            image_sizes = raw_sizes
    for i, m in enumerate(maps):
        check_scoremap(m, f"scoremaps[{i}]")
    n = len(maps)
    metrics: dict[str, float] = {"num_images": n, "cam_curve_interval": float(cam_curve_interval)}
    if gt_boxes is not None:
        boxes = _per_image(gt_boxes, "gt_boxes")
        if len(boxes) != n:
            raise DataError(f"{n} score maps but {len(boxes)} gt_boxes entries")
        if image_sizes is not None and len(image_sizes) == 2 and all(isinstance(v, (int, np.integer)) for v in image_sizes):
            image_sizes = [tuple(image_sizes)] * n  # one (w, h) for every image
        if image_sizes is not None and len(image_sizes) != n:
            raise DataError(f"{n} score maps but {len(image_sizes)} image_sizes")
        accuracy = WsolBoxAccuracy(cam_curve_interval, iou_thresholds, multi_contour)
        groups: dict[tuple, list[int]] = {}
        for i, m in enumerate(maps):  # one kernel call per map size and dtype
            groups.setdefault((m.shape, m.dtype.str), []).append(i)
        for (shape, _), members in groups.items():
            gts = []
            for i in members:
                gt = _boxes(boxes[i], i)
                if image_sizes is not None:
                    w, h = image_sizes[i]
                    if w <= 0 or h <= 0:
                        raise DataError(f"image_sizes[{i}] must be positive (w, h), got {(w, h)}")
                    gt = np.asarray([resize_box(b, (w, h), (shape[1], shape[0])) for b in gt.tolist()], dtype=np.int64)
                gts.append(gt)
            stacked = np.zeros((len(members), max(len(g) for g in gts), 4), dtype=np.int64)
            for row, g in enumerate(gts):
                stacked[row, : len(g)] = g
            counts = np.asarray([len(g) for g in gts], dtype=np.int64)
            accuracy.update(np.stack([maps[i] for i in members]), stacked, counts)
        metrics.update({k: float(v) for k, v in accuracy.compute().items()})
    if masks is not None:
        mask_list = _per_image(masks, "masks")
        if len(mask_list) != n:
            raise DataError(f"{n} score maps but {len(mask_list)} masks")
        pxap = WsolPxAP(cam_curve_interval)
        for i, (m, mask) in enumerate(zip(maps, mask_list)):
            pxap.update(m[None], _mask(mask, m.shape, i)[None])
        metrics["pxap"] = float(pxap.compute())
    return metrics
