"""wsolevaluation's protocol: their per-image OpenCV loop vs our batched component-tree path.

    python benchmarks/bench_wsoleval.py [--maps 1000] [--timed-maps 0 (= all)] [--size 224]

Both sides get the same CAM-like score maps (14x14 random maps with one or two blobs, float64
bicubic resize to 224x224 and min-max normalisation, as their inference does) with one to
three ground-truth boxes each, at cam_curve_interval 0.01 (100 thresholds, their CLI's
default) and 0.001 (1,000 thresholds, their training config).

* OpenCV loop: their BoxEvaluator for MaxBoxAccV2 (multi_contour_eval), one image and one
  threshold at a time: cv2.threshold, findContours(RETR_TREE), boundingRect per contour;
  then one IoU call per image over every threshold's boxes, as theirs. Its cost grows
  linearly with the number of thresholds. Timed once over ``--timed-maps`` maps (default all
  1,000: about 6 s at 100 thresholds and 60 s at 1,000 on our 2-core CPU), a mean per map.
* Batched: ``WsolBoxAccuracy.update`` on all maps: quantisation, two or three union-find
  passes per map (independent of the number of thresholds; only the final gather of T values per
  map grows with T), V1 and V2 from the same pass; 1 and 2 threads. Start-up (numba
  loading its compiled kernel from cache, or compiling it) is timed apart.

Identical numbers are checked on every map: the hit counts of all thresholds (V1 and V2,
IoU 30/50/70) against OpenCV contours at every level of every map, and the loop's own V2 hit
counts against the batched ones. Batched timings are wall-clock medians of ``--repeats``;
on a shared machine all timings are noisy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from timing import record, timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from infocam.localization.wsoleval.protocol import cam_thresholds, multiple_iou, prepare_scoremaps, quantize  # noqa: E402
from infocam.localization.wsoleval.metrics import WsolBoxAccuracy  # noqa: E402


def make_maps(count: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(count, 14, 14, generator=g) * 0.3
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 14), torch.linspace(0, 1, 14), indexing="ij")
    gt = torch.zeros(count, 3, 4, dtype=torch.long)
    for k in range(2):
        cy, cx = (0.15 + 0.7 * torch.rand(count, 2, generator=g)).unbind(1)
        width = 0.05 + 0.12 * torch.rand(count, generator=g)
        low += torch.exp(-((ys - cy[:, None, None]) ** 2 + (xs - cx[:, None, None]) ** 2) / (2 * width[:, None, None] ** 2))
        half = width * (1.0 + 1.5 * torch.rand(count, generator=g)) * size
        centre = torch.stack([cx, cy], 1) * size + (torch.rand(count, 2, generator=g) - 0.5) * half[:, None]
        gt[:, k] = torch.cat([centre - half[:, None], centre + half[:, None]], 1).clamp(0, size - 1).long()
    corners = torch.rand(count, 2, generator=g) * size * 0.6
    gt[:, 2] = torch.cat([corners, corners + size * 0.3], 1).clamp(0, size - 1).long()
    counts = torch.randint(1, 4, (count,), generator=g)
    maps = prepare_scoremaps(low, (size, size)).numpy()
    return maps, gt.numpy(), counts.numpy()


def opencv_loop(maps, gt, counts, thresholds) -> np.ndarray:
    """Their per-image, per-threshold MaxBoxAccV2 accumulation: hits ``[3, T]``."""
    from fixtures.wsol_oracle import boxes_at

    hits = np.zeros((3, len(thresholds)), dtype=np.int64)
    for scoremap, boxes, count in zip(maps, gt, counts):
        quantized = (scoremap * 255).astype(np.uint8)
        top = np.max(quantized)
        per_threshold = [boxes_at(quantized, int(t * top), True) for t in thresholds]
        ious = multiple_iou(np.concatenate(per_threshold), boxes[:count]).max(axis=1)  # one IoU call per map, as theirs
        ends = np.cumsum([len(b) for b in per_threshold])
        best = np.maximum.reduceat(ious, np.concatenate([[0], ends[:-1]]))
        for d, delta in enumerate((30, 50, 70)):
            hits[d] += best >= delta / 100
    return hits


def oracle_levels(maps, gt, counts) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """OpenCV contours at every level of every map: V1/V2 best IoU per level (256 each)."""
    from fixtures.wsol_oracle import oracle_level_ious

    return [(*oracle_level_ious(quantize(m), b[:c])[:2], int(quantize(m).max())) for m, b, c in zip(maps, gt, counts)]


def oracle_hits(levels_per_map, interval) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's per-level IoUs gathered at each threshold's level: V1 and V2 hits ``[3, T]``."""
    thresholds = cam_thresholds(interval)
    v1_hits = np.zeros((3, len(thresholds)), dtype=np.int64)
    v2_hits = np.zeros((3, len(thresholds)), dtype=np.int64)
    for v1, v2, top in levels_per_map:
        levels = [int(t * top) for t in thresholds]
        for d, delta in enumerate((30, 50, 70)):
            v1_hits[d] += v1[levels] >= delta / 100
            v2_hits[d] += v2[levels] >= delta / 100
    return v1_hits, v2_hits


def batched(maps, gt, counts, interval, threads) -> WsolBoxAccuracy:
    torch.set_num_threads(threads)
    metric = WsolBoxAccuracy(interval, [30, 50, 70], multi_contour=True)
    for start in range(0, len(maps), 256):
        part = slice(start, start + 256)
        metric.update(maps[part], gt[part], counts[part])
    return metric


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=1000)
    parser.add_argument("--timed-maps", type=int, default=0, help="maps timed through the OpenCV loop (0: all)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    maps, gt, counts = make_maps(args.maps, args.size)
    start = time.perf_counter()
    batched(maps[:1], gt[:1], counts[:1], 0.5, 1)
    startup = time.perf_counter() - start
    print(f"{args.maps} maps at {args.size}x{args.size}; batched start-up (numba kernel load/compile, once per process): {startup * 1e3:.0f} ms")
    print(f"{'interval':>8} {'T':>5} | {'OpenCV loop ms/map':>18} | {'batched 1 thr':>13} {'ratio':>6} | {'batched 2 thr':>13} {'ratio':>6} | identical")
    per_level = oracle_levels(maps, gt, counts)
    for interval in (0.01, 0.001):
        thresholds = cam_thresholds(interval)
        timed_maps = args.timed_maps or args.maps
        few = slice(0, timed_maps)
        loop_s, loop_hits = timed(lambda: opencv_loop(maps[few], gt[few], counts[few], thresholds), 1)
        loop_ms = loop_s / timed_maps * 1e3
        times = {}
        metric = None
        for threads in (1, 2):
            seconds, metric = timed(lambda: batched(maps, gt, counts, interval, threads), args.repeats)
            times[threads] = seconds / args.maps * 1e3
        v1_hits, v2_hits = oracle_hits(per_level, interval)
        subset = batched(maps[few], gt[few], counts[few], interval, 1)
        same = (
            np.array_equal(metric.hits_multi.numpy(), v2_hits)
            and np.array_equal(metric.hits_single.numpy(), v1_hits)
            and np.array_equal(subset.hits_multi.numpy(), loop_hits)
        )
        print(
            f"{interval:>8} {len(thresholds):>5} | {loop_ms:>18.2f} | {times[1]:>10.2f} ms {loop_ms / times[1]:>5.1f}x |"
            f" {times[2]:>10.2f} ms {loop_ms / times[2]:>5.1f}x | {same}"
        )
        if not same:
            raise SystemExit("batched hit counts differ from OpenCV's")
        for threads in (1, 2):
            target = "ratio >= 40" if (interval == 0.001 and threads == 2) else None
            record("wsoleval", f"MaxBoxAccV2 at {len(thresholds)} thresholds, batched, {threads} thread(s)", times[threads],
                   "ms/map", "wsolevaluation's OpenCV loop", loop_ms, speedup=True,
                   target=target, met=(loop_ms / times[threads] >= 40) if target else None)
    torch.set_num_threads(1)
    print("OpenCV loop: one findContours per map and threshold, cost x T; batched: a few passes per map, "
          "cost independent of T (plus a gather of T values).")


if __name__ == "__main__":
    main()
