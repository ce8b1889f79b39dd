"""From score maps to boxes, for a whole batch at once, in torch, on the maps' device.

Conventions (every infocam box, ground truth included, in and out of the public API):

* A box is ``(x0, y0, x1, y1)`` in pixels, ``x1 = x0 + width`` and ``y1 = y0 + height``: the
  tight box of the pixels in columns ``c0..c1`` and rows ``r0..r1`` is ``(c0, r0, c1 + 1,
  r1 + 1)`` (``x1``/``y1`` one past the last pixel). Pixel ``(r, c)`` covers the square
  ``[c, c+1) x [r, r+1)``, so IoU here is plain continuous-coordinate IoU
  (``torchvision.ops.box_iou``). wsolevaluation's boxes, predicted and ground truth, are
  ``(x, y, x + w, y + h)`` too; its IoU counts ``(x1 - x0 + 1)(y1 - y0 + 1)`` pixels for
  both boxes alike (:mod:`infocam.localization.wsoleval`), so ``cams_to_boxes``' boxes go into
  ``evaluate_scoremaps`` as they are and a box scored against itself has IoU 1.
* A map is min-max normalised to [0, 1] before thresholding; a pixel is foreground when its
  normalised value is **strictly greater** than the threshold ``t`` (the paper keeps values
  "more than 20% of the maximum"). It is computed as ``value > min + t * (max - min)`` in
  float32, so a flat map (max == min, e.g. all zeros) has no foreground at any ``t >= 0``.
* A map without foreground gets the empty box ``(0, 0, 0, 0)``, whose IoU with any box is 0.
* Connected components use 8-connectivity unless ``connectivity=4``.
* Tie rule: when two components of one map have the same (largest) pixel count, the one
  containing the lowest raster-order pixel (smallest ``row * W + col``) wins.

Connected components work on row runs rather than pixels, with two interchangeable backends
(``backend="auto"`` picks ``numba`` for CPU tensors and ``torch`` otherwise; results are
identical, which the tests check):

* ``torch`` (any device, e.g. GPU): one vectorised pass finds every horizontal run of
  foreground pixels in the batch, runs in adjacent rows that touch are joined by a union-find
  over the (few) runs (hooking to the smaller index plus pointer jumping), and component areas
  and boxes are scatter reductions over runs. Nothing loops over images.
* ``numba`` (CPU): a compiled kernel (``infocam.localization._run_components``) does the same per map in one
  read of the map, maps in parallel over the torch intra-op thread count; on a 2-core CPU
  it is 4-5x faster than the torch backend (``make bench-wsol``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from infocam.errors import ConfigError

__all__ = [
    "BACKENDS",
    "ComponentBoxes",
    "cams_to_boxes",
    "check_connectivity",
    "compiled_inputs",
    "compiled_kernels",
    "connected_component_boxes",
    "largest_component_boxes",
    "normalize_maps",
    "paired_box_iou",
    "best_iou",
    "map_ranges",
    "threshold_levels",
    "threshold_masks",
    "upsample_maps",
]


def _check_maps(maps: Tensor, need_pixels: bool = False) -> Tensor:
    if not isinstance(maps, Tensor) or maps.ndim != 3:
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ConfigError(f"maps must be a [B, H, W] tensor, got {shape}")
    if need_pixels and maps.shape[1] * maps.shape[2] == 0:
        raise ConfigError(f"maps must have at least one pixel, got {tuple(maps.shape)}")
    if not maps.is_floating_point():
        maps = maps.float()
    return maps


def check_connectivity(connectivity: int) -> None:
    if connectivity not in (4, 8):
        raise ConfigError(f"connectivity must be 4 or 8, got {connectivity!r}")


BACKENDS = ("auto", "torch", "numba")


def compiled_kernels(maps: Tensor, backend: str = "auto") -> ModuleType | None:
    """The numba kernel module when ``backend`` selects it for ``maps``, else None (torch path).

    ``auto`` uses the kernels for CPU tensors when numba imports, and torch otherwise; asking
    for ``numba`` explicitly where it can't run is a ``ConfigError``. The kernels run on as
    many threads as torch's intra-op pool (``torch.set_num_threads``).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"localization backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch" or (backend == "auto" and maps.device.type != "cpu"):
        return None
    if maps.device.type != "cpu":
        raise ConfigError(f"localization backend 'numba' runs on CPU tensors; these maps are on {maps.device}")
    try:
        from infocam.localization import _run_components as run_components
    except ImportError as err:
        if backend == "numba":
            raise ConfigError(f"localization backend 'numba' needs the numba package: {err}") from None
        return None
    return run_components


def compiled_inputs(maps: Tensor, thresholds: float | Sequence[float] | Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Checked float32 ``[B, H, W]`` maps and ``[T]`` thresholds as numpy arrays for the kernels."""
    maps = _check_maps(maps, need_pixels=True)
    t = torch.as_tensor(thresholds, dtype=torch.float32).reshape(-1)
    _check_thresholds(t)
    return maps.detach().to(torch.float32).contiguous().numpy(), t.numpy()


def map_ranges(maps: Tensor) -> tuple[Tensor, Tensor]:
    """Per-map ``(min, max)`` of a ``[B, H, W]`` batch: ``[B]`` each."""
    maps = _check_maps(maps, need_pixels=True)
    flat = maps.reshape(maps.shape[0], -1)
    return flat.amin(dim=1), flat.amax(dim=1)  # (aminmax is ~8x slower on CPU here)


def normalize_maps(maps: Tensor) -> Tensor:
    """Min-max normalise each ``[H, W]`` map of a ``[B, H, W]`` batch to [0, 1]; flat maps -> 0."""
    low, high = map_ranges(maps)
    span = high - low
    span = torch.where(span > 0, span, torch.ones_like(span))  # flat map: maps - low is already 0
    return (maps - low[:, None, None]).div_(span[:, None, None])


def upsample_maps(maps: Tensor, size: tuple[int, int] | Sequence[int]) -> Tensor:
    """Bilinear resize of ``[B, h, w]`` maps to ``size = (H, W)`` (``align_corners=False``)."""
    maps = _check_maps(maps)
    size = (int(size[0]), int(size[1]))
    if tuple(maps.shape[-2:]) == size:
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _check_thresholds(thresholds: Tensor) -> None:
    # written so that NaN fails too (every comparison with NaN is False)
    if thresholds.numel() == 0 or not bool(((thresholds >= 0) & (thresholds < 1)).all()):
        raise ConfigError(f"thresholds must be in [0, 1), got {thresholds.tolist()}")


def threshold_levels(maps: Tensor, thresholds: float | Sequence[float] | Tensor) -> Tensor:
    """The raw-value cut ``min + t * (max - min)`` of every map: ``[T, B]`` (float32 arithmetic).

    ``maps > cut`` is "normalised value above ``t``" computed without materialising the
    normalised maps (one pass fewer over the batch); a flat map has ``cut == min`` and so no
    foreground.
    """
    t = torch.as_tensor(thresholds, dtype=torch.float32, device=maps.device).reshape(-1)
    _check_thresholds(t)
    low, high = map_ranges(maps)
    low, high = low.float(), high.float()
    return low[None, :] + t[:, None] * (high - low)[None, :]


def threshold_masks(maps: Tensor, thresholds: float | Sequence[float] | Tensor) -> Tensor:
    """Foreground masks of raw maps: ``[B, H, W]`` for one threshold, ``[T, B, H, W]`` for a list."""
    cut = threshold_levels(maps, thresholds)
    masks = maps.float()[None] > cut[:, :, None, None]
    return masks[0] if isinstance(thresholds, (int, float)) else masks


@dataclass
class ComponentBoxes:
    """Every connected component of a batch of masks, flat: component ``i`` lies in map ``image[i]``.

    Components are listed in raster order of their first pixel, map by map.
    """

    image: Tensor  # [N] long: index of the map in the batch
    boxes: Tensor  # [N, 4] float: (x0, y0, x1, y1), x1/y1 exclusive
    area: Tensor  # [N] long: pixel count
    first_pixel: Tensor  # [N] long: row * W + col of the component's lowest raster-order pixel


def _row_runs(mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Horizontal foreground runs of ``[B, H, W]``: (global row, start col, end col exclusive)."""
    rows = mask.reshape(-1, mask.shape[-1])
    pad = torch.zeros(rows.shape[0], 1, dtype=torch.bool, device=mask.device)
    padded = torch.cat([pad, rows, pad], dim=1)
    edges = padded[:, 1:] != padded[:, :-1]  # True at each run start and one past each run end
    row, col = edges.nonzero(as_tuple=True)  # raster order: start, end, start, end, ...
    return row[0::2], col[0::2], col[1::2]


def _union_find(num_nodes: int, src: Tensor, dst: Tensor) -> Tensor:
    """Root (smallest node index) of each node's component, given undirected edges src-dst."""
    parent = torch.arange(num_nodes, device=src.device)
    if src.numel() == 0:
        return parent
    while True:
        ps, pd = parent[src], parent[dst]
        if torch.equal(ps, pd):
            return parent
        low = torch.minimum(ps, pd)
        # hook each root onto the smallest root it touches (indices only decrease: no cycles)
        parent = parent.scatter_reduce(0, ps, low, reduce="amin").scatter_reduce(0, pd, low, reduce="amin")
        while True:  # pointer jumping until every node points at a root
            grand = parent[parent]
            if torch.equal(grand, parent):
                break
            parent = grand


def connected_component_boxes(mask: Tensor, connectivity: int = 8) -> ComponentBoxes:
    """All connected components of a ``[B, H, W]`` bool mask batch, with tight boxes and areas."""
    if mask.ndim != 3 or mask.dtype != torch.bool:
        raise ConfigError(f"mask must be a [B, H, W] bool tensor, got {mask.dtype} {tuple(mask.shape)}")
    check_connectivity(connectivity)
    _, height, width = mask.shape
    device = mask.device
    row, start, end = _row_runs(mask)
    num_runs = row.numel()
    # Run r (row g) touches run q (row g-1) iff q.start <= r.end - k and r.start + k <= q.end,
    # with k = 0 for 8-connectivity (diagonal contact) and k = 1 for 4-connectivity.
    k = 0 if connectivity == 8 else 1
    stride = width + 2  # key(row, col) = row * stride + col orders runs globally and by row
    start_key = row * stride + start
    end_key = row * stride + end
    above = (row - 1) * stride
    lo = torch.searchsorted(end_key, above + start + k, side="left")
    hi = torch.searchsorted(start_key, above + end - k, side="right")
    has_row_above = (row % height) > 0
    count = torch.where(has_row_above, (hi - lo).clamp_min(0), torch.zeros_like(lo))
    src = torch.repeat_interleave(torch.arange(num_runs, device=device), count)
    offsets = torch.cumsum(count, 0) - count
    dst = lo[src] + (torch.arange(src.numel(), device=device) - offsets[src])
    root = _union_find(num_runs, src, dst)

    is_root = root == torch.arange(num_runs, device=device)
    roots = is_root.nonzero(as_tuple=True)[0]
    slot = torch.cumsum(is_root.long(), 0) - 1  # component number of each root, in raster order
    comp = slot[root]
    n = roots.numel()
    length = end - start
    area = torch.zeros(n, dtype=torch.long, device=device).index_add_(0, comp, length)
    big = torch.iinfo(torch.long).max
    x0 = torch.full((n,), big, dtype=torch.long, device=device).scatter_reduce(0, comp, start, "amin")
    x1 = torch.full((n,), -1, dtype=torch.long, device=device).scatter_reduce(0, comp, end, "amax")
    y1 = torch.full((n,), -1, dtype=torch.long, device=device).scatter_reduce(0, comp, row, "amax")
    root_row = row[roots]
    image = torch.div(root_row, height, rounding_mode="floor")
    y0 = root_row - image * height
    boxes = torch.stack([x0, y0, x1, y1 - image * height + 1], dim=1).to(torch.float32)
    first_pixel = y0 * width + start[roots]
    return ComponentBoxes(image=image, boxes=boxes, area=area, first_pixel=first_pixel)


def largest_component_boxes(mask: Tensor, connectivity: int = 8) -> Tensor:
    """``[B, 4]`` tight box of the largest component of each mask (tie rule in the module doc)."""
    batch = mask.shape[0]
    comps = connected_component_boxes(mask, connectivity)
    boxes = torch.zeros(batch, 4, dtype=torch.float32, device=mask.device)
    if comps.image.numel() == 0:
        return boxes
    pixels = mask.shape[1] * mask.shape[2]
    # larger area first, then smaller first pixel: one integer key, maximised per map
    key = comps.area * (pixels + 1) + (pixels - comps.first_pixel)
    best = torch.full((batch,), -1, dtype=torch.long, device=mask.device).scatter_reduce(0, comps.image, key, "amax")
    winner = (key == best[comps.image]).nonzero(as_tuple=True)[0]
    boxes[comps.image[winner]] = comps.boxes[winner]
    return boxes


def _check_threshold(threshold: object) -> float:
    """One real number in [0, 1) (NaN refused), as a float; anything else is one line."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) and not (
            isinstance(threshold, Tensor) and threshold.numel() == 1):
        raise ConfigError(f"threshold must be one number in [0, 1), got {threshold!r}")
    value = float(threshold)
    if not 0 <= value < 1:  # False for NaN as well
        raise ConfigError(f"thresholds must be in [0, 1), got threshold={value}")
    return value


def _check_image_size(image_size: object) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in image_size)  # type: ignore[union-attr]
        exact = all(float(v) == int(v) and not isinstance(v, bool) for v in image_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(f"image_size must be (H, W), two whole numbers >= 1, got {image_size!r}") from None
    if not exact or height < 1 or width < 1:
        raise ConfigError(f"image_size must be (H, W), two whole numbers >= 1, got {image_size!r}")
    return height, width


def _warn_non_finite(maps: Tensor) -> None:
    """One warning when a map holds NaN/inf: its min-max range is then not a number, nothing
    passes the threshold and its box is (0, 0, 0, 0). The per-map min and max (one cheap
    reduction) are not finite exactly when some pixel is not, since both propagate NaN."""
    if maps.device.type == "meta":
        return
    low, high = map_ranges(maps)
    bad = ~(torch.isfinite(low) & torch.isfinite(high))
    if bool(bad.any()):
        index = bad.nonzero(as_tuple=True)[0].tolist()
        warnings.warn(f"cams_to_boxes: {len(index)} of {maps.shape[0]} maps hold NaN or inf values "
                      f"(first: map {index[0]}); their boxes are (0, 0, 0, 0)", UserWarning, stacklevel=3)


def cams_to_boxes(
    maps: Tensor,
    threshold: float = 0.2,
    *,
    image_size: tuple[int, int] | None = None,
    connectivity: int = 8,
    backend: str = "auto",
) -> Tensor:
    """Boxes of a batch of score maps: the paper's box procedure, batched.

    ``maps``: ``[B, H, W]`` (any real values). Each map is bilinearly resized to ``image_size``
    ``(H, W)`` when given, min-max normalised, thresholded (``> threshold``, a number in
    [0, 1)), reduced to its largest connected component, and boxed. Returns ``[B, 4]`` float
    boxes ``(x0, y0, x1, y1)`` in pixels of the (resized) map, ``x0, y0`` the box's first
    column and row and ``x1 = x0 + width``, ``y1 = y0 + height`` one past its last (the
    convention of every infocam box; ``evaluate_scoremaps`` takes them as they are);
    ``(0, 0, 0, 0)`` where nothing passes the threshold, or (with a warning) where a map holds
    NaN/inf. An empty batch gives ``[0, 4]``. ``backend``: see the module doc (same boxes
    either way).
    """
    maps = _check_maps(maps)
    check_connectivity(connectivity)
    threshold = _check_threshold(threshold)
    if image_size is not None:
        image_size = _check_image_size(image_size)
    if maps.shape[0] == 0:
        return torch.zeros(0, 4, dtype=torch.float32, device=maps.device)
    if maps.shape[1] * maps.shape[2] == 0:
        raise ConfigError(f"maps must have at least one pixel, got {tuple(maps.shape)}")
    kernels = compiled_kernels(maps, backend)  # a bad backend is refused before any work
    _warn_non_finite(maps)
    if image_size is not None:
        maps = upsample_maps(maps, image_size)
    if kernels is None:
        return largest_component_boxes(threshold_masks(maps, threshold), connectivity)
    values, levels = compiled_inputs(maps, threshold)
    out = np.zeros((1, maps.shape[0], 4), dtype=np.float32)
    touch = 0 if connectivity == 8 else 1
    kernels.run_over_maps(kernels.largest_component_boxes, values, levels, torch.get_num_threads(), touch, out)
    return torch.from_numpy(out[0])


def paired_box_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of ``a[..., 4]`` with ``b[..., 4]`` element by element (broadcasting), clamped at 0.

    Equal to the matching entries of ``torchvision.ops.box_iou`` (tested), without building
    the all-pairs matrix. Empty-vs-empty gives 0 rather than NaN.
    """
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    union = area_a + area_b - inter
    return torch.where(union > 0, inter / union.clamp_min(torch.finfo(inter.dtype).tiny), torch.zeros_like(inter))


def best_iou(pred: Tensor, gt_boxes: Tensor, gt_count: Tensor) -> Tensor:
    """Per image, the best IoU of ``pred[B, 4]`` with any of its ``gt_count[b]`` boxes in ``gt_boxes[B, K, 4]``."""
    ious = paired_box_iou(pred[:, None, :].float(), gt_boxes.float())  # [B, K]
    valid = torch.arange(gt_boxes.shape[1], device=gt_boxes.device)[None, :] < gt_count[:, None]
    return torch.where(valid, ious, torch.zeros_like(ious)).amax(dim=1)
