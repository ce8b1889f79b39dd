"""Batched map -> box -> IoU (infocam.localization) vs a per-image scipy loop, on the same maps.

    python benchmarks/bench_localization.py [--batch 256] [--size 224] [--repeats 15]

The loop is the way the original CAM code and the WSOL-evaluation reference work, one image
at a time: min-max normalise, threshold, label connected components (scipy.ndimage.label,
8-connectivity), keep the largest, box it, IoU with every GT box in Python. Both paths get
the same 256 CAM-like maps (14x14 random maps with blobs, bilinearly upsampled to 224x224).
The batched path runs on both connected-component backends (``numba``, the CPU default, and
``torch``, the GPU path) at 1 and 2 torch threads; each is checked to give boxes, IoUs and
hit counts identical to the loop, and its speed-up over the loop is printed. MaxBoxAccV2's
all-components path is timed over a threshold grid the same way. Library labellers (OpenCV,
cc3d, kornia) are timed on the labelling step alone when installed, for comparison.
Timings are wall-clock medians; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

from timing import record, timed

from infocam.localization import best_iou, cams_to_boxes, threshold_masks
from infocam.localization.paper_metrics import component_hits, curve_thresholds

BACKENDS = ("numba", "torch")

STRUCTURE_8 = np.ones((3, 3), dtype=bool)


def make_maps(batch: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(batch, 1, 14, 14, generator=g) * 0.3
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 14), torch.linspace(0, 1, 14), indexing="ij")
    gt = torch.zeros(batch, 3, 4)
    for k in range(2):  # two Gaussian blobs per map, like a CAM on one or two objects
        cy, cx = (0.15 + 0.7 * torch.rand(batch, 2, generator=g)).unbind(1)
        width = 0.05 + 0.12 * torch.rand(batch, generator=g)
        low[:, 0] += torch.exp(-((ys - cy[:, None, None]) ** 2 + (xs - cx[:, None, None]) ** 2) / (2 * width[:, None, None] ** 2))
        # the object: a box around the blob, jittered so that some boxes miss
        half = width * (1.0 + 1.5 * torch.rand(batch, generator=g)) * size
        jitter = (torch.rand(batch, 2, generator=g) - 0.5) * half[:, None]
        centre = torch.stack([cx, cy], 1) * size + jitter
        gt[:, k] = torch.cat([centre - half[:, None], centre + half[:, None]], 1).clamp(0, size).round()
    corners = torch.rand(batch, 2, generator=g) * size * 0.6
    gt[:, 2] = torch.cat([corners, corners + size * 0.3], 1).round()
    maps = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)[:, 0].contiguous()
    counts = torch.randint(1, 4, (batch,), generator=g)
    return maps, gt, counts


def loop_boxes_and_ious(maps: np.ndarray, gt: np.ndarray, counts: np.ndarray, threshold: float):
    """The per-image reference: same float32 threshold arithmetic, scipy labelling."""
    boxes = np.zeros((len(maps), 4), dtype=np.float32)
    ious = np.zeros(len(maps), dtype=np.float32)
    t = np.float32(threshold)
    for i, m in enumerate(maps):
        low, high = m.min(), m.max()
        labels, n = ndi.label(m > low + t * (high - low), structure=STRUCTURE_8)
        if n:
            areas = np.bincount(labels.ravel())
            areas[0] = 0
            k = int(areas.argmax())  # first (lowest label = raster order) among the largest
            rows, cols = ndi.find_objects(labels)[k - 1]
            boxes[i] = (cols.start, rows.start, cols.stop, rows.stop)
        best = 0.0
        x0, y0, x1, y1 = boxes[i]
        for g in gt[i, : counts[i]]:
            iw = max(0.0, min(x1, g[2]) - max(x0, g[0]))
            ih = max(0.0, min(y1, g[3]) - max(y0, g[1]))
            inter = np.float32(iw * ih)
            union = np.float32((x1 - x0) * (y1 - y0) + (g[2] - g[0]) * (g[3] - g[1]) - inter)
            best = max(best, float(inter / union) if union > 0 else 0.0)
        ious[i] = best
    return boxes, ious


def loop_component_hits(maps, gt, counts, thresholds, deltas):
    hits = np.zeros((len(deltas), len(thresholds)), dtype=np.int64)
    for m, boxes, count in zip(maps, gt, counts):
        low, high = m.min(), m.max()
        for j, t in enumerate(thresholds):
            labels, n = ndi.label(m > low + np.float32(t) * (high - low), structure=STRUCTURE_8)
            best = 0.0
            for rows, cols in ndi.find_objects(labels):
                for g in boxes[:count]:
                    iw = max(0.0, min(cols.stop, g[2]) - max(cols.start, g[0]))
                    ih = max(0.0, min(rows.stop, g[3]) - max(rows.start, g[1]))
                    inter = iw * ih
                    union = (cols.stop - cols.start) * (rows.stop - rows.start) + (g[2] - g[0]) * (g[3] - g[1]) - inter
                    best = max(best, inter / union)
            for d, delta in enumerate(deltas):
                hits[d, j] += best >= delta
    return hits


def library_labellers(mask: torch.Tensor, repeats: int) -> None:
    """Labelling alone (no boxes), the whole batch: what the well-kept libraries would cost."""
    batch, height, width = mask.shape
    tall = np.zeros((batch, height + 1, width), dtype=np.uint8)  # a background row between maps
    tall[:, :height] = mask.numpy()
    tall = tall.reshape(-1, width)
    try:
        import cv2

        cv2.setNumThreads(1)
        t_cv, _ = timed(lambda: cv2.connectedComponentsWithAlgorithm(tall, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI), repeats)
        t_cvs, _ = timed(lambda: cv2.connectedComponentsWithStats(tall, connectivity=8), repeats)
        print(f"  OpenCV Spaghetti on the stacked batch: labels {1000 * t_cv:.1f} ms, with stats {1000 * t_cvs:.1f} ms")
    except ImportError:
        print("  OpenCV: not installed (pip install opencv-python-headless)")
    try:
        import cc3d

        t_cc, _ = timed(lambda: cc3d.connected_components(tall, connectivity=8), repeats)
        print(f"  cc3d on the stacked batch: labels {1000 * t_cc:.1f} ms")
    except ImportError:
        print("  cc3d: not installed (pip install connected-components-3d)")
    try:
        from kornia.contrib import connected_components
    except ImportError:
        print("  kornia: not installed")
        return
    iterations = 50
    t_kornia, _ = timed(lambda: connected_components(mask[:, None].float(), num_iterations=iterations), 1)
    print(f"  kornia max-pool propagation: {1000 * t_kornia:.1f} ms for {iterations} iterations "
          f"(exact labels need as many as the longest in-component path, up to hundreds here)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threshold", type=float, default=0.2)
    parser.add_argument("--curve-thresholds", type=int, default=10, help="MaxBoxAccV2 grid size (Choe et al.: 100)")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="torch intra-op thread counts to time")
    parser.add_argument("--skip-libraries", action="store_true", help="don't time OpenCV/cc3d/kornia labelling")
    args = parser.parse_args()

    maps, gt, counts = make_maps(args.batch, args.size)
    maps_np, gt_np, counts_np = maps.numpy(), gt.numpy(), counts.numpy()
    print(f"{args.batch} maps at {args.size}x{args.size}, threshold {args.threshold}, "
          f"median of {args.repeats}; torch {torch.__version__}, {torch.get_num_threads()} default threads")
    for backend in BACKENDS:  # compile the numba kernels (cached on disk) outside the timings
        cams_to_boxes(maps[:2], args.threshold, backend=backend)
        component_hits(maps[:2], gt[:2], counts[:2], [0.5], [0.5], backend=backend)

    t_loop, (ref_boxes, ref_ious) = timed(lambda: loop_boxes_and_ious(maps_np, gt_np, counts_np, args.threshold), args.repeats)
    ref_hits = int((ref_ious >= 0.5).sum())
    print(f"per-image scipy loop         : {1000 * t_loop:7.1f} ms   hits@0.5 = {ref_hits}")
    default_threads = torch.get_num_threads()
    speedups = {}
    for backend in BACKENDS:
        for threads in args.threads:
            torch.set_num_threads(threads)

            def batched():
                boxes = cams_to_boxes(maps, args.threshold, backend=backend)
                return boxes, best_iou(boxes, gt, counts)

            t_batch, (boxes, ious) = timed(batched, args.repeats)
            same_boxes = torch.equal(boxes, torch.from_numpy(ref_boxes))
            same_ious = torch.equal(ious, torch.from_numpy(ref_ious))
            hits = int((ious >= 0.5).sum())
            speedups[backend, threads] = t_loop / t_batch
            print(f"batched, {backend:5s}, {threads} thread(s): {1000 * t_batch:7.1f} ms   hits@0.5 = {hits}   "
                  f"boxes identical: {same_boxes}   IoUs identical: {same_ious}   speed-up x{t_loop / t_batch:.2f}")
            assert same_boxes and same_ious and hits == ref_hits, f"{backend}: batched and per-image paths disagree"
            record("localization", f"map -> box -> IoU at {args.threshold}, {args.batch} maps, {backend}, {threads} thread(s)",
                   1000 * t_batch, "ms", "per-image scipy loop", 1000 * t_loop, speedup=True)
    torch.set_num_threads(default_threads)

    thresholds = curve_thresholds(args.curve_thresholds)
    deltas = [0.3, 0.5, 0.7]
    t_loop_curve, ref_curve = timed(lambda: loop_component_hits(maps_np, gt_np, counts_np, thresholds, deltas), 1)
    for backend in BACKENDS:
        t_curve, curve = timed(lambda: component_hits(maps, gt, counts, thresholds, deltas, backend=backend), 3)
        same = torch.equal(curve, torch.from_numpy(ref_curve))
        print(f"MaxBoxAccV2 hits, {len(thresholds)} thresholds x all components, {backend}, {default_threads} threads: "
              f"loop {t_loop_curve:.2f} s, batched {t_curve:.3f} s, speed-up x{t_loop_curve / t_curve:.1f}, identical: {same}")
        assert same, f"{backend}: MaxBoxAccV2 hit counts disagree"
        record("localization", f"MaxBoxAccV2 hits, {len(thresholds)} thresholds, {backend}, {default_threads} threads",
               t_curve, "s", "per-image loop", t_loop_curve, speedup=True)

    if not args.skip_libraries:
        print("labelling alone, for comparison (1 thread):")
        torch.set_num_threads(1)
        library_labellers(threshold_masks(maps, args.threshold), args.repeats)
        torch.set_num_threads(default_threads)
    best = max(speedups, key=speedups.get)
    record("localization", f"best map -> box -> IoU speed-up ({best[0]}, {best[1]} thread(s))", speedups[best], "x",
           target="ratio >= 10", met=speedups[best] >= 10)
    print(f"best map->box->IoU speed-up over the per-image loop: x{speedups[best]:.2f} "
          f"({best[0]} backend, {best[1]} thread(s)); target x10")


if __name__ == "__main__":
    main()
