"""``infocam.overlay``: images under their score maps with predicted and ground-truth boxes.

What pytorch-grad-cam's ``show_cam_on_image`` and torchcam's ``overlay_mask`` do for one
image, for a batch, with boxes and captions, drawn by :mod:`infocam.plotting` (the same
drawing as the WSOL test step's ``overlays/wsol_overlays.png``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from infocam.errors import ConfigError
from infocam.plotting import figure_png, overlay_figure, png_image
from infocam.runtime.io import atomic_write_bytes

if TYPE_CHECKING:
    from PIL.Image import Image


def overlay(
    images: Any,
    maps: Any,
    boxes: Any = None,
    gt_boxes: Any = None,
    *,
    captions: Sequence[str] | None = None,
    title: str = "",
    columns: int = 8,
    alpha: float = 0.45,
    save: str | os.PathLike | None = None,
    dpi: int = 100,
) -> "Image":
    """A picture of ``images`` under their ``maps``, with ``boxes`` (green) and ``gt_boxes`` (red).

    Args:
        images: ``[N, C, H, W]`` tensor/array (C = 1 or 3, any scale: each image is min-max
            scaled for display), ``[N, H, W, C]`` arrays, or one image.
        maps: ``[N, h, w]``, one per image, at any size (raw CAMs at feature resolution are
            stretched over the image), e.g. ``InfoCAM(model)(images)``.
        boxes: predicted boxes, ``[N, 4]`` (``cams_to_boxes``' output) or ``N`` ``[K, 4]``.
        gt_boxes: ground-truth boxes, ``[N, 4]``, ``[N, K, 4]`` or ``N`` arrays ``[K, 4]``.
            Every box is ``(x0, y0, x1, y1)`` in pixels of the image, ``x1 = x0 + width``
            and ``y1 = y0 + height`` (infocam's one convention); ``(0, 0, 0, 0)`` is no box.
        captions: one string per image, above its panel; ``title`` heads the grid.
        columns: panels per row; ``save``: also write the picture there as PNG (atomically).
    Returns:
        The grid as a ``PIL.Image`` (RGBA); ``np.asarray(picture)`` gives its pixels.
    """
    fig = overlay_figure(images, maps, boxes, gt_boxes, captions=captions, title=title, columns=columns, alpha=alpha)
    png = figure_png(fig, dpi=dpi)
    if save is not None:
        path = Path(save)
        if path.suffix.lower() != ".png":
            raise ConfigError(f"save={str(save)!r}: overlay writes PNG, name the file *.png")
        atomic_write_bytes(path, png)
    return png_image(png)
