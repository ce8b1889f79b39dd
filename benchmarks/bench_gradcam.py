"""In-house batched Grad-CAM (infocam.cams.gradcam) vs the ``grad-cam`` package, same model and images.

    PYTHONPATH=.:DIR python benchmarks/bench_gradcam.py   # DIR: where grad-cam (+ opencv, ttach) is installed

The package is not a dependency; this script records why: what the WSOL test step needs is
the raw maps of the ground-truth AND the predicted class for a whole batch, on the model's
device. The package gives one target set per call (a forward and a backward each), returns
numpy maps that it has already min-max scaled and resized with OpenCV one image at a time.
Both outputs are compared after the same normalisation + resize (correlation printed).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from timing import timed

from infocam.cams.gradcam import GradCamMethod
from infocam.localization import normalize_maps, upsample_maps
from infocam.models.flat_cnn import PlainCNN



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = PlainCNN(num_classes=4, channels=(16, 32, 64), image_size=args.size).eval()
    images = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.randint(0, 4, (args.batch,))
    ours = GradCamMethod()

    def in_house():
        result = ours.compute(model, images, [labels, None])
        return [normalize_maps(upsample_maps(m, (args.size, args.size))) for m in result.maps]

    def package():
        with torch.no_grad():
            predicted = model(images).argmax(1)
        with GradCAM(model=model, target_layers=[model.features[-1]]) as cam:
            gt = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in labels])
            pred = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in predicted])
        return [torch.from_numpy(np.ascontiguousarray(gt)), torch.from_numpy(np.ascontiguousarray(pred))]

    t_ours, mine = timed(in_house, args.repeats)
    t_pkg, theirs = timed(package, args.repeats)
    corr = np.corrcoef(mine[0].flatten().numpy(), theirs[0].flatten().numpy())[0, 1]
    print(f"{args.batch} images at {args.size}px, GT + predicted class maps, {torch.get_num_threads()} threads")
    print(f"in-house batched Grad-CAM : {1000 * t_ours:8.1f} ms (maps stay tensors on the model's device)")
    print(f"grad-cam package          : {1000 * t_pkg:8.1f} ms (numpy, per-image OpenCV resize)  ratio x{t_pkg / t_ours:.2f}")
    print(f"pixel correlation of the normalised GT-class maps: {corr:.4f}")


if __name__ == "__main__":
    main()
