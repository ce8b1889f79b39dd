"""Synthetic weakly-supervised localisation: simple shapes with known boxes on cluttered backgrounds.

Generated on the fly in ``setup`` from ``seed`` (no download). The class is the shape; colour,
size, position and background vary. Each test batch is
``(images [B, 3, S, S], labels [B], boxes [B, K, 4], box_counts [B], masks [B, S, S])``:
``boxes[b, :box_counts[b]]`` are the ground-truth boxes ``(x0, y0, x1, y1)`` in pixels with
x1/y1 exclusive (the tight box of the object's pixels, see :mod:`infocam.localization`);
padding rows are zeros. ``masks`` are the union of the object pixels (for PxAP).
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.errors import ConfigError

#: shape names by class index
SHAPES = ("rectangle", "disc", "triangle", "ring", "cross", "diamond")


def _shape_mask(shape: str, u: Tensor, v: Tensor, aspect: Tensor) -> Tensor:
    """Inside-test on coordinates ``u, v`` scaled so the shape spans about [-1, 1]."""
    if shape == "rectangle":
        return (u.abs() <= 1) & (v.abs() <= aspect)
    if shape == "disc":
        return (u.square() + (v / aspect).square()) <= 1
    if shape == "triangle":
        return (v <= 1) & (v >= -1) & (u.abs() <= (v + 1) / 2)
    if shape == "ring":
        r2 = u.square() + v.square()
        return (r2 <= 1) & (r2 >= 0.3)
    if shape == "cross":
        return ((u.abs() <= 0.3) & (v.abs() <= 1)) | ((v.abs() <= 0.3) & (u.abs() <= 1))
    if shape == "diamond":
        return (u.abs() + (v / aspect).abs()) <= 1
    raise ValueError(shape)


def tight_boxes(masks: Tensor) -> Tensor:
    """``[N, 4]`` tight boxes (x1/y1 exclusive) of ``[N, H, W]`` bool masks; zeros for empty masks."""
    cols, rows = masks.any(dim=1), masks.any(dim=2)
    width, height = masks.shape[2], masks.shape[1]
    xs = torch.arange(width, device=masks.device)
    ys = torch.arange(height, device=masks.device)
    x0 = torch.where(cols, xs, width).amin(1)
    x1 = torch.where(cols, xs, -1).amax(1) + 1
    y0 = torch.where(rows, ys, height).amin(1)
    y1 = torch.where(rows, ys, -1).amax(1) + 1
    boxes = torch.stack([x0, y0, x1, y1], 1).float()
    return torch.where(masks.flatten(1).any(1)[:, None], boxes, torch.zeros_like(boxes))


def generate(
    n: int,
    num_classes: int,
    image_size: int,
    generator: torch.Generator,
    second_object_prob: float = 0.25,
    clutter: int = 6,
    size_range: tuple[float, float] = (0.25, 0.55),
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``n`` images with one or two objects of one class: (images, labels, boxes, counts, masks)."""
    s = image_size
    g = generator
    labels = torch.randint(num_classes, (n,), generator=g)
    counts = 1 + (torch.rand(n, generator=g) < second_object_prob).long()
    # background: smooth colour noise plus pixel noise
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 0.5 + 0.1
    images = F.interpolate(coarse, size=(s, s), mode="bilinear", align_corners=False)
    images = images + 0.08 * torch.randn(n, 3, s, s, generator=g)
    ys, xs = torch.meshgrid(torch.arange(s, dtype=torch.float32), torch.arange(s, dtype=torch.float32), indexing="ij")
    # clutter: small rectangles of random colour (class-neutral distractors)
    for _ in range(clutter):
        cx, cy = torch.rand(n, generator=g) * s, torch.rand(n, generator=g) * s
        half = 1 + torch.rand(n, 2, generator=g) * 0.05 * s
        inside = ((xs - cx[:, None, None]).abs() <= half[:, 0, None, None]) & (
            (ys - cy[:, None, None]).abs() <= half[:, 1, None, None]
        )
        colour = torch.rand(n, 3, generator=g)
        images = torch.where(inside[:, None], colour[:, :, None, None], images)
    boxes = torch.zeros(n, 2, 4)
    union = torch.zeros(n, s, s, dtype=torch.bool)
    for k in range(2):
        half = (size_range[0] + torch.rand(n, generator=g) * (size_range[1] - size_range[0])) * s / 2
        cx = half + torch.rand(n, generator=g) * (s - 2 * half)
        cy = half + torch.rand(n, generator=g) * (s - 2 * half)
        aspect = 0.6 + 0.4 * torch.rand(n, generator=g)
        angle_flip = torch.rand(n, generator=g) < 0.5  # triangles point up or down
        colour = 0.2 + 0.8 * torch.rand(n, 3, generator=g)
        u = (xs - cx[:, None, None]) / half[:, None, None]
        v = (ys - cy[:, None, None]) / half[:, None, None]
        v = torch.where(angle_flip[:, None, None], -v, v)
        mask = torch.zeros(n, s, s, dtype=torch.bool)
        for label, shape in enumerate(SHAPES[:num_classes]):
            pick = labels == label
            mask[pick] = _shape_mask(shape, u[pick], v[pick], aspect[pick, None, None])
        mask &= (k < counts)[:, None, None]
        boxes[:, k] = tight_boxes(mask)
        union |= mask
        images = torch.where(mask[:, None], colour[:, :, None, None], images)
    images = ((images.clamp(0, 1) - 0.5) / 0.25).contiguous()
    return images, labels, boxes, counts, union


class SyntheticLocalizationDataModule(SplitDataModule):
    """Train/val/test splits of :func:`generate`; split ``s`` uses a generator seeded by ``seed * 1000 + k(s)``."""

    has_boxes = True

    def __init__(
        self,
        num_classes: int = 4,
        image_size: int = 64,
        num_train: int = 2400,
        num_val: int = 400,
        num_test: int = 500,
        second_object_prob: float = 0.25,
        clutter: int = 6,
        seed: int = 0,
        batch_size: int = 64,
        eval_batch_size: int = 128,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not 2 <= num_classes <= len(SHAPES):
            raise ConfigError(f"data.num_classes must be in 2..{len(SHAPES)} (shapes: {', '.join(SHAPES)}), got {num_classes}")
        if image_size < 16:
            raise ConfigError(f"data.image_size must be >= 16, got {image_size}")
        if min(num_train, num_val, num_test) < 1:
            raise ConfigError("data.num_train, num_val and num_test must be positive")
        if not 0 <= second_object_prob <= 1:
            raise ConfigError(f"data.second_object_prob must be in [0, 1], got {second_object_prob}")
        self.save_hyperparameters()
        self.num_classes = num_classes
        self.image_size = image_size
        self.splits: dict[str, TensorBatchDataset] = {}

    #: splits each stage needs; each split has its own generator, so a test run skips the rest
    STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
    SPLIT_OFFSET = {"train": 1, "val": 2, "test": 3}

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        sizes = {"train": hp.num_train, "val": hp.num_val, "test": hp.num_test}
        for split in self.STAGE_SPLITS.get(stage, ("train", "val", "test")):
            if split in self.splits:
                continue
            generator = torch.Generator().manual_seed(hp.seed * 1000 + self.SPLIT_OFFSET[split])
            images, labels, boxes, counts, masks = generate(
                sizes[split], hp.num_classes, hp.image_size, generator, hp.second_object_prob, hp.clutter
            )
            if split == "train":
                self.splits[split] = TensorBatchDataset(images, labels)
            else:
                self.splits[split] = TensorBatchDataset(images, labels, boxes, counts, masks)


