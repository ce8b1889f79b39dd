"""Overlay pictures of localisation: image, map, predicted box (green) vs ground truth (red)."""

from __future__ import annotations


import numpy as np
import torch

from infocam.localization import normalize_maps
from infocam.reporting.figures import figure_png


def display_images(images: torch.Tensor) -> np.ndarray:
    """``[N, C, H, W]`` (any scale) to ``[N, H, W, 3]`` in [0, 1], each image min-max scaled."""
    x = images.float()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    flat = x.flatten(1)
    low, high = flat.amin(1)[:, None, None, None], flat.amax(1)[:, None, None, None]
    x = (x - low) / (high - low).clamp_min(1e-12)
    return x[:, :3].permute(0, 2, 3, 1).numpy()


def _draw(ax, image, heat, box, gt_boxes, count, title):
    from matplotlib.patches import Rectangle

    ax.imshow(image, interpolation="nearest")
    ax.imshow(heat, cmap="jet", alpha=0.45, interpolation="bilinear", vmin=0, vmax=1)
    for k in range(int(count)):
        x0, y0, x1, y1 = gt_boxes[k].tolist()
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="red", lw=1.5))
    x0, y0, x1, y1 = box.tolist()
    if x1 > x0 and y1 > y0:
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="lime", lw=1.5))
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def overlay_grid_png(batch: dict[str, torch.Tensor], title: str = "", columns: int = 8) -> bytes:
    """A grid: for each image, the picture with its normalised map, predicted and GT boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = display_images(batch["images"])
    heat = normalize_maps(batch["maps"]).numpy()
    n = len(images)
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        label, pred, iou = int(batch["labels"][i]), int(batch["predicted"][i]), float(batch["ious"][i])
        _draw(ax, images[i], heat[i], batch["boxes"][i], batch["gt_boxes"][i], batch["gt_counts"][i], f"y={label} p={pred} IoU={iou:.2f}")
    fig.suptitle(f"{title}\ngreen: predicted box (GT class map), red: ground truth", fontsize=8)
    return figure_png(fig, dpi=100)


def overlay_panels(batch: dict[str, torch.Tensor]) -> list[np.ndarray]:
    """One RGB array per image (for ``wandb.Image``), drawn like the grid cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = display_images(batch["images"])
    heat = normalize_maps(batch["maps"]).numpy()
    panels = []
    for i in range(len(images)):
        fig, ax = plt.subplots(figsize=(2, 2))
        _draw(ax, images[i], heat[i], batch["boxes"][i], batch["gt_boxes"][i], batch["gt_counts"][i], "")
        fig.tight_layout(pad=0)
        fig.canvas.draw()
        panels.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        plt.close(fig)
    return panels
