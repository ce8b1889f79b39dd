"""A CUB-200-2011-layout stand-in built from real handwritten digits (no download).

``python -m infocam.data.standins.cub_layout DIR`` writes ``DIR/CUB_200_2011/`` exactly as the
official archive lays it out (images.txt, image_class_labels.txt, train_test_split.txt,
bounding_boxes.txt, classes.txt, images/<class>/<file>.jpg), so the whole CUB path -- parser,
transforms that carry boxes, val/test halves, WSOL training and evaluation -- runs on a machine
without the dataset. Each picture is one of scikit-learn's bundled 8x8 UCI digits (the class),
upsampled to a random size and pasted in a random colour at a random place on a cluttered
canvas of random size (smooth colour noise, pixel noise, rectangles and strokes of other
colours); its box is the tight box of the digit's pixels. These are *not* birds: numbers on
this set say the code path works, not how the paper's models do on CUB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from infocam.data.formats.cub import CUB_DIR
from infocam.data.standins import STANDIN_FILE

#: what runs and reports call data written by this module
DISPLAY_NAME = "CUB-layout digits stand-in (not CUB-200-2011)"


def _canvas(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth colour noise + pixel noise, then distractor rectangles and strokes."""
    coarse = rng.uniform(0.1, 0.6, size=(4, 4, 3))
    smooth = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR), np.float32)
    pixels = np.clip(smooth + rng.normal(0, 18, size=smooth.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        if rng.random() < 0.5:
            w, h = rng.uniform(2, 0.12 * width), rng.uniform(2, 0.12 * height)
            draw.rectangle([x, y, x + w, y + h], fill=colour)
        else:
            angle, length = rng.uniform(0, np.pi), rng.uniform(0.1, 0.3) * min(width, height)
            draw.line([x, y, x + length * np.cos(angle), y + length * np.sin(angle)], fill=colour, width=int(rng.integers(1, 3)))
    return image


def _paste_digit(image: Image.Image, digit: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Paste the 8x8 ``digit`` (values 0..16) at a random size and place; return its (x, y, w, h)."""
    width, height = image.size
    side = int(rng.uniform(0.3, 0.6) * min(width, height))
    alpha = np.asarray(Image.fromarray((digit / 16 * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR), np.float32) / 255
    alpha = np.where(alpha > 0.25, np.minimum(1.0, alpha * 1.5), 0.0)
    x0, y0 = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    colour = rng.uniform(0.55, 1.0, 3) * 255
    pixels = np.asarray(image, np.float32).copy()
    patch = pixels[y0 : y0 + side, x0 : x0 + side]
    pixels[y0 : y0 + side, x0 : x0 + side] = patch * (1 - alpha[..., None]) + colour * alpha[..., None]
    image.paste(Image.fromarray(pixels.astype(np.uint8)))
    rows, cols = np.nonzero(alpha.any(1))[0], np.nonzero(alpha.any(0))[0]
    return float(x0 + cols[0]), float(y0 + rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)


def write_cub_layout(root: str | Path, num_images: int = 2000, test_fraction: float = 0.5, seed: int = 0,
                     min_side: int = 80, max_side: int = 160) -> Path:
    """Write ``num_images`` pictures of the 10 digit classes in the CUB-200-2011 layout under ``root``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    base = Path(root) / CUB_DIR
    classes = [f"{c + 1:03d}.Digit_{c}" for c in range(10)]
    for name in classes:
        (base / "images" / name).mkdir(parents=True, exist_ok=True)
    order = rng.permutation(len(digits.target))
    lines: dict[str, list[str]] = {k: [] for k in ("images", "labels", "split", "boxes")}
    for image_id in range(1, num_images + 1):
        k = order[(image_id - 1) % len(order)]
        label = int(digits.target[k])
        width, height = (int(v) for v in rng.integers(min_side, max_side + 1, 2))
        image = _canvas(rng, width, height)
        x, y, w, h = _paste_digit(image, digits.images[k], rng)
        relative = f"{classes[label]}/Digit_{label}_{image_id:05d}.jpg"
        image.save(base / "images" / relative, quality=90)
        lines["images"].append(f"{image_id} {relative}")
        lines["labels"].append(f"{image_id} {label + 1}")
        lines["split"].append(f"{image_id} {0 if rng.random() < test_fraction else 1}")
        lines["boxes"].append(f"{image_id} {x:.1f} {y:.1f} {w:.1f} {h:.1f}")
    files = {
        "classes.txt": [f"{c + 1} {name}" for c, name in enumerate(classes)],
        "images.txt": lines["images"],
        "image_class_labels.txt": lines["labels"],
        "train_test_split.txt": lines["split"],
        "bounding_boxes.txt": lines["boxes"],
    }
    for name, content in files.items():
        (base / name).write_text("\n".join(content) + "\n")
    (base / STANDIN_FILE).write_text(f"{DISPLAY_NAME}\n{__doc__.splitlines()[0]}\n")  # runs and reports read the name
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="directory to write CUB_200_2011/ into")
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--test-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = write_cub_layout(args.root, args.num_images, args.test_fraction, args.seed)
    print(f"wrote {args.num_images} images (10 classes) in the CUB-200-2011 layout under {base}")


if __name__ == "__main__":
    main()
