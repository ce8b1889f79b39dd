"""Tiny datasets in the official on-disk layouts of the WSOL benchmarks (Tiny-ImageNet), with
images whose object is a bright rectangle exactly inside its box, so a test can check that a
box still covers the object after any transform."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image


def boxed_picture(size: tuple[int, int], box: Sequence[int], grayscale: bool = False, seed: int = 0) -> Image.Image:
    """A dark noisy (w, h) = ``size`` picture with a white rectangle on pixels x0..x1-1, y0..y1-1."""
    rng = np.random.default_rng(seed)
    width, height = size
    pixels = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    x0, y0, x1, y1 = box
    pixels[y0:y1, x0:x1] = 255
    image = Image.fromarray(pixels)
    return image.convert("L") if grayscale else image


def make_tiny_imagenet(root: Path, wnids: Sequence[str] = ("n01443537", "n01629819", "n01641577"), train_per_class: int = 4,
                       val_per_class: int = 4, size: int = 64) -> Path:
    """A ``tiny-imagenet-200`` tree: wnids.txt, train/<wnid>/{images/, <wnid>_boxes.txt},
    val/{images/, val_annotations.txt}; tab-separated inclusive corners. The first training
    image of the first class is grayscale. Object of image k: columns 8+k..8+k+23, rows 4..35+k."""
    base = root / "tiny-imagenet-200"
    (base / "val" / "images").mkdir(parents=True, exist_ok=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    val_lines = []
    for c, wnid in enumerate(wnids):
        folder = base / "train" / wnid
        (folder / "images").mkdir(parents=True, exist_ok=True)
        lines = []
        for k in range(train_per_class):
            name = f"{wnid}_{k}.JPEG"
            corners = (8 + k, 4, 8 + k + 23, 35 + k)  # inclusive x0 y0 x1 y1
            exclusive = (corners[0], corners[1], corners[2] + 1, corners[3] + 1)
            boxed_picture((size, size), exclusive, grayscale=(c == 0 and k == 0), seed=c * 100 + k).save(folder / "images" / name, quality=95)
            lines.append("\t".join([name, *map(str, corners)]))
        (folder / f"{wnid}_boxes.txt").write_text("\n".join(lines) + "\n")
        for k in range(val_per_class):
            name = f"val_{c * val_per_class + k}.JPEG"
            corners = (10, 12 + k, 50, 40 + k)
            exclusive = (corners[0], corners[1], corners[2] + 1, corners[3] + 1)
            boxed_picture((size, size), exclusive, seed=1000 + c * 100 + k).save(base / "val" / "images" / name, quality=95)
            val_lines.append("\t".join([name, wnid, *map(str, corners)]))
    (base / "val" / "val_annotations.txt").write_text("\n".join(val_lines) + "\n")
    return root
