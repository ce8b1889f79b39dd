"""``evaluate_scoremaps``: wsolevaluation's MaxBoxAcc, MaxBoxAccV2 and PxAP on maps in memory, as fractions.

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
    try:
        boxes = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"gt_boxes[{index}] must hold numbers (x0, y0, x1, y1), got {boxes!r}") from None
    if boxes.ndim == 1 and boxes.shape == (4,):
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise DataError(f"gt_boxes[{index}] must be [K >= 1, 4] boxes (x0, y0, x1, y1), got shape {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise DataError(f"gt_boxes[{index}] has NaN/inf coordinates")
    boxes = np.trunc(boxes).astype(np.int64)
    if (boxes < 0).any() or (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise DataError(f"gt_boxes[{index}]: boxes need 0 <= x0 <= x1 and 0 <= y0 <= y1, got {boxes.tolist()}")
    return boxes


def _check_inside(given: np.ndarray, frame: tuple[float, float], index: int, sized: bool) -> None:
    """A box must lie on its map: ``x1 <= W`` and ``y1 <= H`` in the frame it was given in
    (``frame = (W, H)``: the map, the raw map, or ``image_sizes``; ends are exclusive). Boxes
    in an image's pixels without ``image_sizes`` are the usual cause, so the line says so."""
    width, height = frame
    outside = (given[:, 2] > width) | (given[:, 3] > height)
    if outside.any():
        box = given[int(np.flatnonzero(outside)[0])].tolist()
        if sized:
            raise DataError(f"gt_boxes[{index}] box {box} reaches past its image_sizes[{index}] = {width:g}x{height:g}")
        raise DataError(f"gt_boxes[{index}] box {box} reaches past its {width:g}x{height:g} score map; "
                        "boxes in the original image's pixels need image_sizes=(w, h)")


def _size_pair(value: Any) -> tuple[float, float] | None:
    """``(w, h)`` of real, finite, positive numbers, else None."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray, Tensor)):
        return None
    pair = list(value.tolist() if isinstance(value, (np.ndarray, Tensor)) else value)
    if len(pair) != 2 or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in pair):
        return None
    w, h = float(pair[0]), float(pair[1])
    return (w, h) if np.isfinite([w, h]).all() and w > 0 and h > 0 else None


def _image_sizes(image_sizes: Any, n: int) -> list[tuple[float, float]]:
    """One ``(w, h)`` for every image, or ``n`` of them -> ``n`` pairs; anything else is one line."""
    one = _size_pair(image_sizes)
    if one is not None:
        return [one] * n
    if isinstance(image_sizes, (str, bytes)) or not isinstance(image_sizes, (tuple, list, np.ndarray, Tensor)):
        raise DataError(f"image_sizes must be one (w, h) pair or one per image, got {image_sizes!r}")
    sizes = list(image_sizes)
    pairs = [_size_pair(v) for v in sizes]
    for i, (raw, pair) in enumerate(zip(sizes, pairs)):
        if pair is None:
            raise DataError(f"image_sizes[{i}] must be a (w, h) pair of positive numbers, got {raw!r}")
    if len(pairs) != n:
        raise DataError(f"{n} score maps but {len(pairs)} image_sizes")
    return pairs


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


def _check_maps(maps: list[np.ndarray]) -> None:
    from infocam.localization.wsoleval.protocol import check_scoremap

    for i, m in enumerate(maps):
        try:
            check_scoremap(m, f"scoremaps[{i}]")
        except DataError as err:
            if "must lie in [0, 1]" not in str(err):
                raise
            raise DataError(f"{err}: raw CAMs (as CAM/InfoCAM(model)(images) return them) need prepare=True, "
                            "which resizes and min-max normalises them as the WSOL test step does") from None


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
    """wsolevaluation's metrics of ``N`` score maps, as fractions in [0, 1] like ``metrics.json``.

    Args:
        scoremaps: ``[N, H, W]`` float array/tensor, or ``N`` 2-D maps; values in [0, 1] (their
            score maps) unless ``prepare``, which turns raw CAMs (what ``InfoCAM(model)(images)``
            returns) into them first as the WSOL test step does (float64 bicubic resize to
            224 x 224, then min-max normalisation).
        gt_boxes: per image, ``[K, 4]`` boxes ``(x0, y0, x1, y1)`` in pixels, ``x0, y0`` the
            first column and row of the box and ``x1 = x0 + width``, ``y1 = y0 + height`` one
            past its last: the convention of every infocam box, ``cams_to_boxes``' output
            included, so its boxes go in as they are. Coordinates are truncated to integers.
            They are in pixels of the map (of the raw map with ``prepare``), or of the
            original image when ``image_sizes`` gives its ``(w, h)`` (one pair, or one per
            image); they are then scaled to the map with ``int(x * W_map / w)``, their
            ground-truth scaling. A box reaching past its map is an error. IoU is
            wsolevaluation's pixel count, which treats predicted and ground-truth boxes alike
            (a box scored against itself has IoU 1).
        masks: per image, a ``[H, W]`` mask at the map's size: bool, or uint8 with 1 = object,
            0 = background, 255 = ignore. Gives PxAP.
        image_sizes: the original images' ``(w, h)`` when ``gt_boxes`` are in their pixels.
        prepare: ``True`` or ``False`` (a word such as ``'no'`` is refused); see ``scoremaps``.
        cam_curve_interval: the threshold step of the curves (wsolevaluation's 0.01 by default).
        iou_thresholds: the IoU thresholds in percent that MaxBoxAccV2 averages over.
        multi_contour: ``True`` (MaxBoxAccV2, every contour's box) or ``False`` (the largest
            contour only); a word is refused as for ``prepare``.
    Returns:
        ``maxboxacc_v2`` (with ``maxboxacc_v2_iou{d}`` and their map thresholds) and
        ``maxboxacc`` when boxes are given, ``pxap`` when masks are, and ``num_images``: every
        accuracy a fraction in [0, 1] (``0.75`` is 75 %), as ``infocam-eval-maps``' and
        ``infocam-eval``'s ``metrics.json`` hold them.
    """
    from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP, as_fractions
    from infocam.localization.wsoleval.protocol import RESIZE_LENGTH, prepare_scoremaps, resize_box
    from infocam.runtime.booleans import require_bool

    prepare = require_bool("prepare", prepare)
    multi_contour = require_bool("multi_contour", multi_contour)
    if gt_boxes is None and masks is None:
        raise DataError("evaluate_scoremaps needs gt_boxes (MaxBoxAcc/MaxBoxAccV2) or masks (PxAP)")
    maps = _per_image(scoremaps, "scoremaps")
    if not maps:
        raise DataError("scoremaps is empty")
    n = len(maps)
    sizes = None if image_sizes is None else _image_sizes(image_sizes, n)
    if prepare:
        raw_sizes = [(m.shape[1], m.shape[0]) if m.ndim == 2 else None for m in maps]
        for i, m in enumerate(maps):
            if m.ndim != 2 or m.size == 0 or not np.isfinite(m.astype(np.float64)).all():
                raise DataError(f"scoremaps[{i}] must be a finite, non-empty 2-D map, got shape {m.shape}")
        maps = [prepare_scoremaps(torch.from_numpy(np.asarray(m, dtype=np.float64))[None], (RESIZE_LENGTH,) * 2)[0].numpy()
                for m in maps]
        if sizes is None:  # boxes are in raw-map pixels: scale them as from an image of that size
            sizes = [(float(w), float(h)) for w, h in raw_sizes]
    _check_maps(maps)
    metrics: dict[str, float] = {"num_images": n, "cam_curve_interval": float(cam_curve_interval)}
    if gt_boxes is not None:
        boxes = _per_image(gt_boxes, "gt_boxes")
        if len(boxes) != n:
            raise DataError(f"{n} score maps but {len(boxes)} gt_boxes entries")
        accuracy = WsolBoxAccuracy(cam_curve_interval, iou_thresholds, multi_contour)
        groups: dict[tuple, list[int]] = {}
        for i, m in enumerate(maps):  # one kernel call per map size and dtype
            groups.setdefault((m.shape, m.dtype.str), []).append(i)
        for (shape, _), members in groups.items():
            gts = []
            for i in members:
                given = _boxes(boxes[i], i)
                frame = sizes[i] if sizes is not None else (shape[1], shape[0])
                _check_inside(given, frame, i, sized=image_sizes is not None)
                if sizes is not None:
                    given = np.asarray([resize_box(b, sizes[i], (shape[1], shape[0])) for b in given.tolist()], dtype=np.int64)
                gts.append(given)
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
    return as_fractions(metrics)
