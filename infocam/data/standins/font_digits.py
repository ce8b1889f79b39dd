"""Thin-stroke 28x28 digits rendered from fonts and distorted, written as MNIST IDX files.

The 8x8-digits stand-in (:mod:`.digits`) upsamples its digits into thick blocks, so a small
patch of one carries a lot of ink; real MNIST strokes are 2-3 px wide. This stand-in is closer
in the ways that matter to patch-based methods: each digit is a glyph of one of matplotlib's
bundled fonts (DejaVu Sans / Serif, STIX, Computer Modern Sans; upright and slanted, regular
and bold), drawn large, thinned or thickened by a grey-level erosion / dilation to a random
stroke width of 1.5-3.2 px at 28x28, then
randomly rotated, scaled and sheared (``RandomAffine``) and elastically warped
(``ElasticTransform``), and finally normalised as MNIST's digits were: the ink's bounding box
fitted into 20x20 (aspect kept, anti-aliased) and its centre of mass put at the centre of a
28x28 image. ``python -m infocam.data.standins.font_digits DIR`` writes
``DIR/MNIST/raw/{train,t10k}-*-ubyte.gz``. These are still *not* handwriting (a few dozen
glyph shapes, warped); numbers on them say how a method copes with thin strokes, and held-out
real MNIST digits remain the final check.
"""

from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from infocam.data.formats.idx import write_idx
from infocam.data.mnist import MNIST_FILES, mnist_raw_dir

#: matplotlib's bundled TTF files used (all present in every matplotlib wheel)
#: (the monospaced faces are left out: their slashed zero and footed one are unlike handwriting)
FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-Bold.ttf",
    "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "cmss10.ttf",
)
STROKE_WIDTH = (1.5, 3.2)  # px at 28x28, drawn uniformly per image (MNIST's strokes are ~2-3 px)
CANVAS = 96  # glyphs are drawn and distorted at this side, then fitted into 20x20 (~3.5x smaller)
BOX, SIDE = 20, 28  # MNIST: digit fitted into 20x20, centre of mass at the centre of 28x28


def font_path(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


@lru_cache(maxsize=1)
def glyphs() -> Tensor:
    """``[F, 10, CANVAS, CANVAS]`` float glyphs in [0, 1], centred, cap height about 2/3 of the canvas."""
    out = torch.zeros(len(FONTS), 10, CANVAS, CANVAS)
    for f, name in enumerate(FONTS):
        font = ImageFont.truetype(str(font_path(name)), size=int(CANVAS * 0.7))
        for digit in range(10):
            image = Image.new("L", (CANVAS, CANVAS), 0)
            ImageDraw.Draw(image).text((CANVAS / 2, CANVAS / 2), str(digit), fill=255, font=font, anchor="mm")
            out[f, digit] = torch.from_numpy(np.asarray(image, np.float32) / 255.0)
    return out


def _morph(glyph: Tensor, radius: int) -> Tensor:
    """Grey-level dilation (radius > 0) or erosion (radius < 0) with a (2|r|+1) square: the
    stroke-width variation. Max pooling is exactly a flat grey-level dilation."""
    if radius == 0:
        return glyph
    k = 2 * abs(radius) + 1
    x = glyph[None, None]
    x = F.max_pool2d(x, k, 1, abs(radius)) if radius > 0 else -F.max_pool2d(-x, k, 1, abs(radius))
    return x[0, 0]


def _mnist_normalise(glyph: Tensor) -> Tensor:
    """Fit the ink's bounding box into 20x20 (aspect kept, anti-aliased), centre of mass at the
    centre of 28x28 -- how MNIST's digits were prepared."""
    rows, cols = torch.nonzero(glyph.amax(1) > 0.05).flatten(), torch.nonzero(glyph.amax(0) > 0.05).flatten()
    crop = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]
    small = small.clamp(0, 1)
    total = small.sum().clamp_min(1e-6)
    cy = float((small.sum(1) * torch.arange(size[0])).sum() / total)
    cx = float((small.sum(0) * torch.arange(size[1])).sum() / total)
    top = round((SIDE - 1) / 2 - cy)
    left = round((SIDE - 1) / 2 - cx)
    top, left = min(max(top, 0), SIDE - size[0]), min(max(left, 0), SIDE - size[1])
    out = torch.zeros(SIDE, SIDE)
    out[top : top + size[0], left : left + size[1]] = small
    return out


@lru_cache(maxsize=1)
def glyph_stroke_widths() -> tuple[Tensor, Tensor]:
    """``[F, 10]`` stroke width of each glyph at 28x28 (px) and canvas px per 28x28 px. The
    width is ink area / half its perimeter (a stroke of width w and length L has area wL and
    perimeter about 2L), times the scale that fits the glyph's box into 20x20."""
    ink = glyphs() > 0.5
    area = ink.sum((2, 3)).float()
    inner = ink[..., 1:-1, 1:-1] & ink[..., :-2, 1:-1] & ink[..., 2:, 1:-1] & ink[..., 1:-1, :-2] & ink[..., 1:-1, 2:]
    perimeter = (area - inner.sum((2, 3)).float()).clamp_min(1)
    def extent(occupied: Tensor) -> Tensor:  # first to last occupied index along the last dim, inclusive
        return occupied.shape[-1] - occupied.long().flip(-1).argmax(-1) - occupied.long().argmax(-1)

    side = torch.maximum(extent(ink.any(3)), extent(ink.any(2))).float()
    return 2 * area / perimeter * BOX / side, side / BOX


def _displacements(count: int, rng: np.random.Generator, alpha: float = 40.0, sigma: float = 6.0) -> Tensor:
    """``[N, CANVAS, CANVAS, 2]`` elastic displacement fields as ``v2.ElasticTransform`` draws
    them (uniform noise in [-1, 1] blurred by a Gaussian of ``sigma`` px, times alpha / side),
    but blurred separably: the transform's dense 2-D kernel costs ~60 ms per 96 px image."""
    noise = torch.from_numpy(rng.uniform(-1, 1, size=(count * 2, 1, CANVAS, CANVAS)).astype(np.float32))
    radius = int(4 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1) / sigma) ** 2)
    taps = taps / taps.sum()
    noise = F.pad(noise, (radius,) * 4, mode="reflect")
    noise = F.conv2d(F.conv2d(noise, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))
    return (noise * alpha / CANVAS).view(count, 2, CANVAS, CANVAS).permute(0, 2, 3, 1)


def render_digits(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 ``[N, 28, 28]`` images of the digits ``labels``: random font, stroke width, affine
    and elastic distortion per image, all drawn from ``seed``."""
    from torchvision.transforms.v2 import functional as TF

    base, (widths, canvas_px) = glyphs(), glyph_stroke_widths()
    rng = np.random.default_rng(seed)
    n = len(labels)
    fonts = rng.integers(len(FONTS), size=n)
    target = rng.uniform(*STROKE_WIDTH, size=n)
    angle, scale = rng.uniform(-12, 12, size=n), rng.uniform(0.85, 1.1, size=n)
    shear = np.stack([rng.uniform(-15, 15, size=n), rng.uniform(-5, 5, size=n)], 1)
    fields = _displacements(n, rng)
    images = np.zeros((n, SIDE, SIDE), np.uint8)
    for i, (digit, f) in enumerate(zip(labels, fonts)):
        # a dilation of radius r widens the stroke by 2r canvas px
        change = (target[i] - float(widths[f, int(digit)])) * float(canvas_px[f, int(digit)]) / 2
        radius = int(np.clip(round(change), -3, 4))
        glyph = _morph(base[f, int(digit)], radius)[None]
        glyph = TF.affine(glyph, angle=float(angle[i]), translate=[0, 0], scale=float(scale[i]),
                          shear=[float(v) for v in shear[i]], interpolation=TF.InterpolationMode.BILINEAR)
        glyph = TF.elastic(glyph, fields[i : i + 1], interpolation=TF.InterpolationMode.BILINEAR)[0].clamp(0, 1)
        images[i] = (_mnist_normalise(glyph) * 255).round().to(torch.uint8).numpy()
    return images


def write_font_digits_as_mnist(root: str | Path, num_train: int = 6000, num_test: int = 1000, seed: int = 0) -> list[Path]:
    """Balanced train / test splits (labels cycle 0..9, shuffled) as IDX files under ``root``."""
    raw = mnist_raw_dir(root)
    written = []
    for offset, (split, count) in enumerate((("train", num_train), ("test", num_test))):
        labels = np.random.default_rng(seed * 10 + offset).permutation(np.arange(count) % 10).astype(np.uint8)
        images = render_digits(labels, seed * 10 + offset)
        images_name, labels_name = MNIST_FILES[split]
        written.append(write_idx(raw / f"{images_name}.gz", images))
        written.append(write_idx(raw / f"{labels_name}.gz", labels))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="directory to write MNIST/raw/*.gz into")
    parser.add_argument("--num-train", type=int, default=6000)
    parser.add_argument("--num-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in write_font_digits_as_mnist(args.root, args.num_train, args.num_test, args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
