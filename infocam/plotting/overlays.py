"""Overlay pictures of localisation: each image under its min-max normalised score map (jet),
its predicted box (green) and its ground-truth boxes (red), as one panel or a captioned grid.

Boxes follow infocam's one convention: ``(x0, y0, x1, y1)`` in pixels of the image, ``x1 =
x0 + width`` and ``y1 = y0 + height``; ``(0, 0, 0, 0)`` (no box) is not drawn. A map of any
size is stretched over its image by ``imshow``'s extent (bilinear), so raw feature-resolution
CAMs and input-size maps draw alike.

The grid uses matplotlib's constrained layout, which reserves room for every panel's caption
and the figure's title, and captions are wrapped to the panel's width, so no title overlaps
an image or another title (the tests check the rendered extents).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from infocam.errors import ConfigError
from infocam.plotting.figures import figure_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: inches per grid panel (width); the caption wraps to about this many characters
PANEL_INCHES = 1.9
CAPTION_CHARS = 28
LEGEND = "green: predicted box, red: ground truth"


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu()
    return np.asarray(value)


def display_images(images: Any) -> np.ndarray:
    """Images to ``[N, H, W, 3]`` float in [0, 1], each min-max scaled (normalised inputs of any
    scale display as they look). Takes ``[N, C, H, W]`` or ``[C, H, W]`` (C = 1 or 3, the torch
    layout) and ``[N, H, W, C]`` or ``[H, W, C]`` / ``[H, W]`` (the PIL/numpy layout)."""
    x = _array(images).astype(np.float64)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ConfigError(f"images must be [N, C, H, W] or [N, H, W, C] (or one image), got shape {x.shape}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1] not in (1, 3) or x.shape[2] * x.shape[3] == 0:
        raise ConfigError(f"images need 1 or 3 channels and at least one pixel, got shape {x.shape}")
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    flat = x.reshape(x.shape[0], -1)
    low, high = flat.min(1)[:, None, None, None], flat.max(1)[:, None, None, None]
    x = (x - low) / np.maximum(high - low, 1e-12)
    return x.transpose(0, 2, 3, 1)


def normalise_maps(maps: Any, count: int) -> np.ndarray:
    """``[N, h, w]`` (or one ``[h, w]``) maps min-max scaled to [0, 1] each; NaN/inf -> 0, flat -> 0."""
    m = _array(maps).astype(np.float64)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[0] != count or m.shape[1] * m.shape[2] == 0:
        raise ConfigError(f"maps must be [N={count}, h, w] (one per image), got shape {m.shape}")
    finite = np.isfinite(m)
    low = np.where(finite, m, np.inf).reshape(count, -1).min(axis=1)
    high = np.where(finite, m, -np.inf).reshape(count, -1).max(axis=1)
    ok = np.isfinite(low) & (high > low)
    low = np.where(ok, low, 0.0)[:, None, None]
    span = np.where(ok, high - low[:, 0, 0], 1.0)[:, None, None]
    out = np.where(finite & ok[:, None, None], (np.where(finite, m, 0.0) - low) / span, 0.0)
    return out.clip(0, 1)


def per_image_boxes(boxes: Any, count: int, name: str) -> list[np.ndarray]:
    """``None``, ``[N, 4]``, ``[N, K, 4]`` or ``N`` arrays of ``[K, 4]`` -> ``N`` float ``[K, 4]``."""
    if boxes is None:
        return [np.zeros((0, 4))] * count
    if isinstance(boxes, (list, tuple)):
        items = [_array(b).astype(np.float64) for b in boxes]
    else:
        arr = _array(boxes).astype(np.float64)
        items = list(arr[:, None] if arr.ndim == 2 else arr) if arr.ndim in (2, 3) else [arr]
    if len(items) != count:
        raise ConfigError(f"{name} must give one entry per image ({count}), got {len(items)}")
    out = []
    for i, b in enumerate(items):
        b = b.reshape(-1, 4) if b.size % 4 == 0 else b
        if b.ndim != 2 or b.shape[1] != 4:
            raise ConfigError(f"{name}[{i}] must be (x0, y0, x1, y1) boxes, got shape {b.shape}")
        out.append(b)
    return out


def draw_panel(ax: "Axes", image: np.ndarray, heat: np.ndarray, boxes: np.ndarray, gt_boxes: np.ndarray,
               caption: str = "", alpha: float = 0.45) -> None:
    """One image with its map stretched over it, its boxes and its (wrapped) caption."""
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    ax.imshow(image, interpolation="nearest")
    ax.imshow(heat, cmap="jet", alpha=alpha, interpolation="bilinear", vmin=0, vmax=1,
              extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    edge = [patheffects.Stroke(linewidth=3, foreground="black"), patheffects.Normal()]  # visible on any jet colour
    for colour, group in (("red", gt_boxes), ("lime", boxes)):
        for x0, y0, x1, y1 in np.asarray(group).tolist():
            if x1 > x0 and y1 > y0:  # (0, 0, 0, 0): no box
                patch = Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=colour, lw=1.5)
                patch.set_path_effects(edge)
                ax.add_patch(patch)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    if caption:
        ax.set_title(textwrap.fill(str(caption), CAPTION_CHARS), fontsize=7)
    ax.axis("off")


def _inputs(images, maps, boxes, gt_boxes, captions):
    shown = display_images(images)
    n = len(shown)
    heat = normalise_maps(maps, n)
    if captions is None:
        captions = [""] * n
    elif isinstance(captions, str) or len(captions) != n:
        raise ConfigError(f"captions must be one string per image ({n}), got {captions!r}")
    return shown, heat, per_image_boxes(boxes, n, "boxes"), per_image_boxes(gt_boxes, n, "gt_boxes"), list(captions)


def overlay_figure(images: Any, maps: Any, boxes: Any = None, gt_boxes: Any = None, *,
                   captions: Sequence[str] | None = None, title: str = "", columns: int = 8,
                   alpha: float = 0.45, legend: bool = True) -> "Figure":
    """A grid figure (``columns`` panels a row) of the images with their maps and boxes.

    ``title`` (and, with ``legend``, the box colours) head the figure; ``captions`` (one per
    image) head the panels. The figure is not attached to pyplot; render it with
    :func:`~infocam.plotting.figures.figure_png`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ConfigError(f"columns must be a whole number >= 1, got {columns!r}")
    shown, heat, boxes, gt_boxes, captions = _inputs(images, maps, boxes, gt_boxes, captions)
    n = len(shown)
    cols = min(int(columns), n)
    rows = -(-n // cols)
    lines = max((textwrap.fill(str(c), CAPTION_CHARS).count("\n") + 1 if c else 0) for c in captions)
    aspect = shown.shape[1] / shown.shape[2]
    panel_height = PANEL_INCHES * aspect + 0.14 * lines
    heading = [t for t in (title, LEGEND if legend and n else "") if t]
    fig = Figure(figsize=(PANEL_INCHES * cols, panel_height * rows + 0.18 * len(heading) + 0.1), layout="constrained")
    FigureCanvasAgg(fig)  # not pyplot's: nothing global to close, any thread, no display
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        draw_panel(ax, shown[i], heat[i], boxes[i], gt_boxes[i], captions[i], alpha)
    if heading:
        fig.suptitle("\n".join(heading), fontsize=8)
    return fig


def overlay_panels(images: Any, maps: Any, boxes: Any = None, gt_boxes: Any = None, *, alpha: float = 0.45,
                   inches: float = 2.0, dpi: int = 100) -> list[np.ndarray]:
    """One ``[H, W, 3]`` uint8 RGB array per image, drawn like the grid's panels (no caption)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown, heat, boxes, gt_boxes, _ = _inputs(images, maps, boxes, gt_boxes, None)
    panels = []
    for i in range(len(shown)):
        fig = Figure(figsize=(inches, inches), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        draw_panel(ax, shown[i], heat[i], boxes[i], gt_boxes[i], "", alpha)
        fig.canvas.draw()
        panels.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    return panels


def _batch_parts(batch: dict[str, Any]) -> tuple[list[np.ndarray], list[str]]:
    counts = _array(batch["gt_counts"]).astype(int)
    gt = [_array(g)[: int(c)] for g, c in zip(batch["gt_boxes"], counts)]
    captions = [f"y={int(y)} p={int(p)} IoU={float(i):.2f}"
                for y, p, i in zip(_array(batch["labels"]), _array(batch["predicted"]), _array(batch["ious"]))]
    return gt, captions


def batch_overlay_png(batch: dict[str, Any], title: str = "", columns: int = 8, dpi: int = 100) -> bytes:
    """The WSOL test step's overlay grid (``overlays/wsol_overlays.png``) from its kept batch:
    ``images``, ``maps``, ``boxes`` (predicted, GT-class map), ``gt_boxes`` with ``gt_counts``,
    ``labels``, ``predicted`` and ``ious``; each panel captioned with label, prediction and IoU."""
    gt, captions = _batch_parts(batch)
    fig = overlay_figure(batch["images"], batch["maps"], batch["boxes"], gt, captions=captions,
                         title=title, columns=columns)
    return figure_png(fig, dpi=dpi)


def batch_panels(batch: dict[str, Any]) -> list[np.ndarray]:
    """:func:`overlay_panels` of a kept test batch (for ``wandb.Image``)."""
    gt, _ = _batch_parts(batch)
    return overlay_panels(batch["images"], batch["maps"], batch["boxes"], gt)
