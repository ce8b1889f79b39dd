"""wsolevaluation's protocol (Choe et al., CVPR 2020), exactly, for whole batches of maps.

The facts reproduced (from their ``evaluation.py``/``inference.py``; docs/wsoleval.md has the
table of differences with the ``infocam`` protocol):

* score map: a raw CAM is resized to the image size with OpenCV ``INTER_CUBIC``
  (:func:`resize_cubic`, float64), then min-max normalised (:func:`normalize_scoremaps`; a map
  with a NaN, or a constant map, becomes zeros);
* levels: ``q = uint8(map * 255)`` (truncating, in the map's own precision); threshold tau
  becomes ``int(tau * max(q))`` and a pixel is foreground when ``q`` is strictly above it;
* boxes: the bounding rectangles ``(x, y, x + w, y + h)`` of every OpenCV ``RETR_TREE``
  contour (outer borders *and holes*), ``x1 <= W - 1``, ``y1 <= H - 1``; V1 keeps the
  contour of largest ``cv2.contourArea`` (first on ties); no foreground gives ``[0, 0, 0, 0]``;
* ground truth: ``int(x * 224 / W)`` per coordinate; IoU counts pixels inclusively and the
  best IoU over (predicted x ground-truth) boxes counts.

OpenCV is not used: the contours of all 256 nested masks of a map come from a few
union-find passes (:mod:`infocam.localization.wsoleval._component_tree`), so the cost per map does
not grow with the number of thresholds. Maps run in parallel over plain threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from infocam.errors import ConfigError, DataError

__all__ = [
    "RESIZE_LENGTH",
    "cam_thresholds",
    "check_scoremap",
    "contour_boxes",
    "level_ious",
    "multiple_iou",
    "normalize_scoremaps",
    "prepare_scoremaps",
    "quantize",
    "resize_box",
    "resize_nearest",
    "scale_boxes",
    "resize_cubic",
]

#: wsolevaluation scores boxes at 224x224 (``_RESIZE_LENGTH``)
RESIZE_LENGTH = 224


def cam_thresholds(interval: float) -> np.ndarray:
    """Their threshold grid ``np.arange(0, 1, interval)`` (float64, the exact values they use)."""
    interval = float(interval)
    if not 0 < interval < 1:
        raise ConfigError(f"cam_curve_interval must be in (0, 1), got {interval}")
    return np.arange(0, 1, interval)


def check_scoremap(scoremap: np.ndarray, where: str = "score map") -> None:
    """wsolevaluation's validity rules: a 2-D float map without NaN, values in [0, 1]."""
    if not isinstance(scoremap, np.ndarray) or scoremap.ndim != 2:
        shape = getattr(scoremap, "shape", type(scoremap).__name__)
        raise DataError(f"{where}: a score map must be a 2-D array, got shape {shape}")
    if not np.issubdtype(scoremap.dtype, np.floating):
        raise DataError(f"{where}: a score map must hold floats, got {scoremap.dtype}")
    if scoremap.size == 0:
        raise DataError(f"{where}: the score map is empty")
    if np.isnan(scoremap).any():
        raise DataError(f"{where}: the score map contains NaN")
    low, high = float(scoremap.min()), float(scoremap.max())
    if low < 0 or high > 1:
        raise DataError(f"{where}: score map values must lie in [0, 1], got min {low} and max {high}")


def resize_box(box: Sequence[int], image_size: Sequence[int], resize_size: Sequence[int]) -> tuple[int, int, int, int]:
    """``int(x * new_w / w)`` per coordinate (sizes as ``(w, h)``), their ground-truth scaling."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = (float(v) for v in image_size)
    nw, nh = (float(v) for v in resize_size)
    return int(x0 * nw / w), int(y0 * nh / h), int(x1 * nw / w), int(y1 * nh / h)


def scale_boxes(boxes: np.ndarray, image_size: Sequence[int], length: int = RESIZE_LENGTH) -> np.ndarray:
    """:func:`resize_box` for an int array ``[..., 4]`` of boxes of images of ``image_size = (w, h)``."""
    boxes = np.asarray(boxes, dtype=np.int64).astype(np.float64)
    w, h = float(image_size[0]), float(image_size[1])
    scale = np.array([length, length, length, length], dtype=np.float64)
    size = np.array([w, h, w, h])
    return np.trunc(boxes * scale / size).astype(np.int64)


def resize_nearest(mask: np.ndarray, size: int = RESIZE_LENGTH) -> np.ndarray:
    """``cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)`` of a 2-D array:
    source index ``floor(d * (1 / (size / n)))``, at most the last pixel."""
    rows = [np.minimum(np.floor(np.arange(size) * (1.0 / (size / n))).astype(np.int64), n - 1) for n in mask.shape]
    return mask[rows[0][:, None], rows[1][None, :]]


def multiple_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``[A, G]`` inclusive-pixel IoU (areas ``(x1 - x0 + 1)(y1 - y0 + 1)``; a non-positive
    denominator gives 0), as their ``calculate_multiple_iou``."""
    a = np.asarray(boxes, dtype=np.int64)[:, None, :]
    b = np.asarray(gt, dtype=np.int64)[None, :, :]
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    den = area_a + area_b - inter
    return np.where(den > 0, inter / np.where(den > 0, den, 1), 0.0)


# -- score map preparation ------------------------------------------------------------------


def _cubic_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV ``INTER_CUBIC`` source taps and weights along one axis: ``[out, 4]`` each.

    As ``cv::resize`` computes them: the source coordinate ``(d + 0.5) * scale - 0.5`` in
    double, rounded to float; Keys' cubic (a = -0.75) evaluated in float32, the last weight
    ``1 - w0 - w1 - w2``; taps outside the map replicate the border.
    """
    scale = 1.0 / (float(out_size) / float(in_size))
    d = np.arange(out_size, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    x = (f - s.astype(np.float32)).astype(np.float32)
    a = np.float32(-0.75)
    one, two, three, four, five, eight = (np.float32(v) for v in (1, 2, 3, 4, 5, 8))
    xp = x + one
    w0 = ((a * xp - five * a) * xp + eight * a) * xp - four * a
    w1 = ((a + two) * x - (a + three)) * x * x + one
    xm = one - x
    w2 = ((a + two) * xm - (a + three)) * xm * xm + one
    w3 = one - w0 - w1 - w2
    taps = np.clip(s[:, None] + np.arange(-1, 3)[None, :], 0, in_size - 1)
    return taps, np.stack([w0, w1, w2, w3], axis=1).astype(np.float32)


def resize_cubic(maps: Tensor, size: Sequence[int]) -> Tensor:
    """``cv2.resize(m, (W, H), interpolation=cv2.INTER_CUBIC)`` of every ``[h, w]`` map of a
    ``[B, h, w]`` batch, in float64 (their maps are float64): rows first, then columns, each
    output a left-to-right sum of four products, as OpenCV's separable cubic resize."""
    if maps.ndim != 3:
        raise ConfigError(f"maps must be [B, H, W], got {tuple(maps.shape)}")
    height, width = int(size[0]), int(size[1])
    maps = maps.to(torch.float64)
    _, h, w = maps.shape
    xt, xw = (torch.from_numpy(a).to(maps.device) for a in _cubic_taps(w, width))
    yt, yw = (torch.from_numpy(a).to(maps.device) for a in _cubic_taps(h, height))
    xw, yw = xw.to(torch.float64), yw.to(torch.float64)
    rows = maps[:, :, xt[:, 0]] * xw[:, 0]
    for j in range(1, 4):
        rows = rows + maps[:, :, xt[:, j]] * xw[:, j]
    out = rows[:, yt[:, 0], :] * yw[:, 0, None]
    for j in range(1, 4):
        out = out + rows[:, yt[:, j], :] * yw[:, j, None]
    return out


def normalize_scoremaps(maps: Tensor) -> Tensor:
    """Their ``normalize_scoremap`` per map: ``m - min``, then divided by its new max; a map
    with a NaN, or a constant map, becomes all zeros."""
    flat = maps.reshape(maps.shape[0], -1)
    bad = torch.isnan(flat).any(dim=1)
    low = torch.where(bad, torch.zeros_like(flat[:, 0]), flat.amin(dim=1))
    high = torch.where(bad, torch.zeros_like(flat[:, 0]), flat.amax(dim=1))
    flat_map = bad | (low == high)
    shifted = maps - low[:, None, None]
    top = shifted.reshape(maps.shape[0], -1).amax(dim=1)
    top = torch.where(flat_map, torch.ones_like(top), top)
    out = shifted / top[:, None, None]
    return torch.where(flat_map[:, None, None], torch.zeros_like(out), out)


def prepare_scoremaps(raw: Tensor, size: Sequence[int]) -> Tensor:
    """Raw CAMs ``[B, h, w]`` -> their score maps: float64 bicubic resize to ``size``, normalised."""
    return normalize_scoremaps(resize_cubic(raw.detach().to(torch.float64), size))


# -- levels and boxes -----------------------------------------------------------------------


def quantize(maps: np.ndarray | Tensor) -> np.ndarray:
    """``uint8(map * 255)``, truncating, with the product in the maps' own precision."""
    if isinstance(maps, Tensor):
        maps = maps.detach().cpu().numpy()
    return (maps * maps.dtype.type(255)).astype(np.uint8)


def _kernels():
    from infocam.localization.wsoleval import _component_tree

    return _component_tree


def level_ious(
    maps: np.ndarray,
    thresholds: np.ndarray,
    gt_boxes: np.ndarray,
    gt_counts: np.ndarray,
    threads: int | None = None,
    boxes: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per map and threshold: V1 IoU, V2 IoU (best over every contour) and, with ``boxes``,
    the V1 box.

    ``maps``: ``[B, H, W]`` score maps in [0, 1] (float32 or float64, quantised in their own
    precision inside the compiled kernel, as :func:`quantize`) or uint8 levels;
    ``thresholds``: float64 ``[T]``; ``gt_boxes``: int ``[B, K, 4]`` boxes ``(x0, y0, x1, y1)``
    in map pixels (``x1 = x0 + width``; IoU by :func:`multiple_iou`), the first
    ``gt_counts[b]`` (>= 1) valid. Returns float64 ``[B, T]``, float64 ``[B, T]`` and int64
    ``[B, T, 4]`` (or ``None``). A map with NaN or values outside
    [0, 1] is a ``DataError``.
    """
    maps = np.asarray(maps)
    if maps.dtype not in (np.float32, np.float64, np.uint8):
        maps = quantize(maps)  # e.g. float16: numpy's own arithmetic
    maps = np.ascontiguousarray(maps)
    if maps.ndim != 3 or maps.shape[1] * maps.shape[2] == 0:
        raise ConfigError(f"maps must be a non-empty [B, H, W] batch, got {maps.shape}")
    if max(maps.shape[1:]) >= 1 << 15:  # the kernel packs a corner as (row << 16) | col
        raise ConfigError(f"maps must be smaller than 32768 pixels per side, got {maps.shape[1:]}")
    batch = maps.shape[0]
    gt_boxes = np.ascontiguousarray(gt_boxes, dtype=np.int64).reshape(batch, -1, 4)
    gt_counts = np.ascontiguousarray(gt_counts, dtype=np.int64).reshape(batch)
    if batch and (gt_counts.min() < 1 or gt_counts.max() > gt_boxes.shape[1]):
        raise DataError("every image needs at least one ground-truth box")
    thresholds = np.ascontiguousarray(thresholds, dtype=np.float64)
    levels_given = maps.dtype == np.uint8
    scale = maps.dtype.type(1 if levels_given else 255)
    v1 = np.zeros((batch, len(thresholds)), dtype=np.float64)
    v2 = np.zeros((batch, len(thresholds)), dtype=np.float64)
    box = np.zeros((batch if boxes else 0, len(thresholds), 4), dtype=np.int64)
    bad = np.zeros(batch, dtype=np.int8)
    kernel = _kernels().level_ious_kernel
    threads = max(1, min(int(threads or torch.get_num_threads()), batch))

    def run(lo: int, hi: int) -> None:
        kernel(maps, scale, levels_given, thresholds, gt_boxes, gt_counts, v1, v2, box, bad, lo, hi)

    if threads == 1:
        run(0, batch)
    else:
        # small chunks handed out as threads free up: maps with islands cost a third pass,
        # so equal halves would leave one thread idle
        step = max(1, -(-batch // (8 * threads)))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(run, lo, min(lo + step, batch)) for lo in range(0, batch, step)]:
                future.result()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"score map {first} of the batch has NaN or values outside [0, 1]")
    return v1, v2, (box if boxes else None)


def contour_boxes(scoremap: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """``[T, 4]`` V1 boxes (largest contour) of one score map at each threshold; the map must
    be valid (:func:`check_scoremap`), so a NaN map is a ``DataError``."""
    scoremap = np.asarray(scoremap)
    check_scoremap(scoremap)
    gt = np.zeros((1, 1, 4), dtype=np.int64)
    _, _, boxes = level_ious(scoremap[None], np.asarray(thresholds, dtype=np.float64), gt, np.ones(1), boxes=True)
    return boxes[0]
