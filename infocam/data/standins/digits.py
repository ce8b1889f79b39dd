"""Real MNIST-format files built from scikit-learn's bundled 8x8 digits (no download).

MNIST itself cannot be fetched on an offline machine; ``python -m infocam.data.standins.digits DIR``
writes the 1,797 UCI handwritten digits that ship inside scikit-learn as IDX files in the
torchvision layout (``DIR/MNIST/raw/{train,t10k}-*-ubyte.gz``), each 8x8 image (values 0..16)
upsampled bilinearly to 20x20 and centred in 28x28 like MNIST's digits. A stratified,
seeded ``test_fraction`` becomes the t10k files. These are *not* MNIST: numbers measured on
them are not comparable with the paper's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from infocam.data.formats.idx import write_idx
from infocam.data.mnist import MNIST_FILES, mnist_raw_dir
from infocam.data.splits import stratified_split


def digits_as_mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``[1797, 28, 28]`` and labels ``[1797]`` from sklearn's 8x8 digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    big = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
    big = F.pad(big, (4, 4, 4, 4))[:, 0]
    return (big * 255).round().to(torch.uint8).numpy(), digits.target.astype(np.uint8)


def write_digits_as_mnist(root: str | Path, test_fraction: float = 1 / 3, seed: int = 0) -> list[Path]:
    images, labels = digits_as_mnist_arrays()
    train, test = stratified_split(torch.from_numpy(labels.astype(np.int64)), test_fraction, torch.Generator().manual_seed(seed))
    raw = mnist_raw_dir(root)
    written = []
    for split, positions in (("train", train.numpy()), ("test", test.numpy())):
        images_name, labels_name = MNIST_FILES[split]
        written.append(write_idx(raw / f"{images_name}.gz", images[positions]))
        written.append(write_idx(raw / f"{labels_name}.gz", labels[positions]))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="directory to write MNIST/raw/*.gz into")
    parser.add_argument("--test-fraction", type=float, default=1 / 3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for path in write_digits_as_mnist(args.root, args.test_fraction, args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
