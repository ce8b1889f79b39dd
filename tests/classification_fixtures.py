"""Tiny datasets written in the real on-disk formats (MNIST IDX, CUB-200-2011 archive layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from infocam.data.formats.idx import write_idx
from infocam.data.mnist import MNIST_FILES, mnist_raw_dir


def mnist_arrays(per_class: Sequence[int], seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class c has a bright square at a class-specific spot, plus noise."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c, n in enumerate(per_class):
        block = rng.integers(0, 40, size=(n, side, side), dtype=np.uint8)
        row, col = divmod(c, 4)
        block[:, 2 + 6 * row : 7 + 6 * row, 2 + 6 * col : 7 + 6 * col] = 220
        images.append(block)
        labels.append(np.full(n, c, dtype=np.uint8))
    order = rng.permutation(sum(per_class))
    return np.concatenate(images)[order], np.concatenate(labels)[order]


def make_mnist(root: Path, train_per_class: Sequence[int] = (50,) * 10, test_per_class: Sequence[int] = (7,) * 10,
               gz: bool = True, seed: int = 0) -> Path:
    raw = mnist_raw_dir(root)
    suffix = ".gz" if gz else ""
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        images, labels = mnist_arrays(per_class, seed + (split == "test"))
        images_name, labels_name = MNIST_FILES[split]
        write_idx(raw / f"{images_name}{suffix}", images)
        write_idx(raw / f"{labels_name}{suffix}", labels)
    return root


def make_cub(root: Path, train_per_class: Sequence[int] = (6, 6, 6, 6), test_per_class: Sequence[int] = (4, 4, 4, 4),
             size: tuple[int, int] = (48, 32), seed: int = 0) -> Path:
    """A CUB_200_2011 tree with len(train_per_class) classes; image (w, h) = ``size``.

    Each image's box is (x=8, y=4, w=16, h=12) in original pixels; image ids are 1-based,
    training images first within each class.
    """
    rng = np.random.default_rng(seed)
    base = root / "CUB_200_2011"
    (base / "images").mkdir(parents=True, exist_ok=True)
    classes, images, labels, split, boxes = [], [], [], [], []
    image_id = 0
    for c, (n_train, n_test) in enumerate(zip(train_per_class, test_per_class), start=1):
        name = f"{c:03d}.Bird_{c}"
        classes.append(f"{c} {name}")
        (base / "images" / name).mkdir(exist_ok=True)
        for k in range(n_train + n_test):
            image_id += 1
            rel = f"{name}/Bird_{c}_{k:04d}.jpg"
            pixels = rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
            pixels[:, :, c % 3] = 40 * c
            Image.fromarray(pixels).save(base / "images" / rel, quality=90)
            images.append(f"{image_id} {rel}")
            labels.append(f"{image_id} {c}")
            split.append(f"{image_id} {1 if k < n_train else 0}")
            boxes.append(f"{image_id} 8.0 4.0 16.0 12.0")
    for filename, lines in (("classes.txt", classes), ("images.txt", images), ("image_class_labels.txt", labels),
                            ("train_test_split.txt", split), ("bounding_boxes.txt", boxes)):
        (base / filename).write_text("\n".join(lines) + "\n")
    return root
