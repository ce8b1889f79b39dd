"""Time estimates of the paper-table targets on two GPUs, from ``make bench-gpu``'s images/s.

    python benchmarks/paper_estimate.py [--bench reports/bench_gpu.json] [--gpus 2] [--efficiency 0.9]

Formula (training dominates; evaluation and data loading are left out, so these are lower
bounds): hours = runs x epochs x training images / (images/s per GPU x GPUs x efficiency) / 3600.
``images/s`` is bench-gpu's figure for the recipe at its own image size (224 px for the CUB
recipes). Tiny-ImageNet's 64 px images are taken as (224/64)^2 = 12.25x cheaper than 224 px
ones, and Inception-V3 at 299 px (Table 3, CUB) as ResNet50 at (299/224)^2 = 1.78x the pixels:
both are assumptions, not measurements. ``efficiency``: the DDP scaling from one GPU to two.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CUB_TRAIN, TINY_TRAIN = 5_994, 100_000  # official training images
WSOL_EPOCHS, CUB_TABLE3_EPOCHS = 200, 30  # conf/experiment/base/wsol_paper.yaml, conf/experiment/cub.yaml
#: (target, what it trains, bench recipe, cost per image relative to the bench recipe, runs, epochs, images)
PLAN = (
    ("paper-table3 (CUB half)", "Inception-V3, 2 losses x 2 balances x SEEDS=5", "wsol_cub_resnet50", (299 / 224) ** 2, 20, CUB_TABLE3_EPOCHS, CUB_TRAIN),
    ("paper-table4-6 CUB", "VGG16-GAP x ADL on/off", "wsol_cub_vgg16", 1.0, 2, WSOL_EPOCHS, CUB_TRAIN),
    ("paper-table4-6 CUB", "ResNet50 x ADL on/off", "wsol_cub_resnet50", 1.0, 2, WSOL_EPOCHS, CUB_TRAIN),
    ("paper-table4-6 Tiny", "VGG16-GAP x ADL on/off", "wsol_cub_vgg16", (64 / 224) ** 2, 2, WSOL_EPOCHS, TINY_TRAIN),
    ("paper-table4-6 Tiny", "ResNet50 x ADL on/off", "wsol_cub_resnet50", (64 / 224) ** 2, 2, WSOL_EPOCHS, TINY_TRAIN),
)


def hours(runs: int, epochs: int, images: int, images_per_s: float, gpus: int, efficiency: float) -> float:
    return runs * epochs * images / (images_per_s * gpus * efficiency) / 3600


def estimates(bench: dict, gpus: int = 2, efficiency: float = 0.9) -> list[dict]:
    rates = {r["recipe"]: r["images_per_s"] for r in bench.get("training", []) if r.get("images_per_s")}
    rows = []
    for target, what, recipe, cost, runs, epochs, images in PLAN:
        rate = rates.get(recipe)
        value = None if rate is None else hours(runs, epochs, images, rate / cost, gpus, efficiency)
        rows.append({"target": target, "trains": what, "runs": runs, "epochs": epochs, "images": images,
                     "bench_recipe": recipe, "images_per_s_per_gpu": None if rate is None else rate / cost, "hours": value})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=str(REPO / "reports" / "bench_gpu.json"))
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--efficiency", type=float, default=0.9)
    args = parser.parse_args()
    path = Path(args.bench)
    if not path.is_file():
        raise SystemExit(f"{path} not found: run `make bench-gpu` on the GPU machine first")
    bench = json.loads(path.read_text())
    if bench.get("cpu_smoke"):
        print(f"note: {path} is a --cpu-smoke run: these figures say nothing about a GPU")
    device = next((r.get("device") for r in bench.get("training", [])), "?")
    print(f"estimates from {path} ({device}), {args.gpus} GPUs at {args.efficiency:.0%} scaling; training only (lower bounds)")
    for row in estimates(bench, args.gpus, args.efficiency):
        shown = "no bench figure" if row["hours"] is None else f"{row['hours']:.1f} h"
        rate = "?" if row["images_per_s_per_gpu"] is None else f"{row['images_per_s_per_gpu']:.0f}"
        print(f"  {row['target']:<24} {row['trains']:<44} {row['runs']} x {row['epochs']} ep x {row['images']:,} img "
              f"/ ({rate} img/s x {args.gpus}) = {shown}")


if __name__ == "__main__":
    main()
