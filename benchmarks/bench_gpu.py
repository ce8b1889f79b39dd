"""The paper's WSOL recipes on one GPU: training speed, peak memory, and the box step on CUDA.

    python benchmarks/bench_gpu.py [--steps 50] [--out reports/bench_gpu.json]    (make bench-gpu)
    python benchmarks/bench_gpu.py --cpu-smoke                                      (tiny, any machine)

On a CUB-200-2011-layout stand-in (``infocam.data.standins.cub_layout``, written to a temporary
folder: no download, 10 classes) at 224 px, each of ``experiment=wsol_cub_resnet50`` and
``experiment=wsol_cub_vgg16`` trains ``--steps`` optimiser steps at the recipe's per-GPU batch
size (32) with ``precision=16-mixed`` on one device (the recipes' DDP over 2 GPUs becomes one
process; no validation, checkpoints or loggers). Reported per recipe:

- images/s over the steps after ``--warmup`` (cuDNN autotuning and the first allocations excluded),
  timed between batch ends with the device synchronised;
- peak memory: ``torch.cuda.max_memory_allocated`` and ``max_memory_reserved`` over the run
  (the process's peak resident set size on a CPU run).

Then the trained model's ground-truth-class infoCAM maps of one eval batch (the recipe's R),
upsampled to 224 px, go through the box step twice -- the torch backend on the device and the
numba kernel on the CPU, on the same maps: MaxBoxAccV2's all-components hits over 100 map
thresholds and the largest-component boxes at the 0.2 threshold. The two must agree exactly
(checked; the script fails otherwise) and their times are printed with the ratio.

``--cpu-smoke`` runs the same code path tiny (32 px, batch 2, 3 steps, 32-bit, the torch
backend on the CPU): it checks the target works where no GPU is, and says nothing about speed.
Results also go to ``--out`` as JSON (written atomically).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
RECIPES = ("wsol_cub_resnet50", "wsol_cub_vgg16")


class StepTimer:
    """Wall-clock time at the end of every training batch, the device synchronised first."""

    def __init__(self) -> None:
        import lightning as L

        timer = self

        class _Callback(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                timer.ends.append(time.perf_counter())

        self.ends: list[float] = []
        self.callback = _Callback()

    def images_per_second(self, batch_size: int, warmup: int) -> float | None:
        ends = self.ends[warmup:]
        if len(ends) < 2:
            return None
        return batch_size * (len(ends) - 1) / (ends[-1] - ends[0])


def compose(recipe: str, data_root: Path, out_dir: Path, args: argparse.Namespace):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    smoke = args.cpu_smoke
    overrides = [
        f"experiment={recipe}", f"data.root={data_root}", "data.num_classes=10", f"data.image_size={args.image_size}",
        f"data.num_workers={0 if smoke else args.workers}", "data.verify_images=false", "callbacks=none", "logger=none",
        "model.weights=null",  # speed only: random weights, no ImageNet download
        f"++trainer.max_steps={args.steps}", "++trainer.max_epochs=-1", "++trainer.limit_val_batches=0",
        "++trainer.num_sanity_val_steps=0", "++trainer.enable_checkpointing=false", "++trainer.enable_progress_bar=false",
        "++trainer.enable_model_summary=false", "++trainer.devices=1", "++trainer.strategy=auto", "++trainer.sync_batchnorm=false",
        f"++trainer.accelerator={'cpu' if smoke else 'gpu'}", f"++trainer.precision={'32-true' if smoke else '16-mixed'}",
    ]
    if args.batch_size:
        overrides += [f"data.batch_size={args.batch_size}", f"data.eval_batch_size={args.batch_size}"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir / "logs")
    return cfg


def train_recipe(recipe: str, data_root: Path, out_dir: Path, args: argparse.Namespace) -> tuple[dict, object, object]:
    from hydra.utils import instantiate

    from infocam.run import build_trainer

    cfg = compose(recipe, data_root, out_dir, args)
    torch.manual_seed(0)
    datamodule = instantiate(cfg.data)
    task = instantiate(cfg.task)
    timer = StepTimer()
    trainer = build_trainer(cfg, [timer.callback], [])
    if torch.cuda.is_available() and not args.cpu_smoke:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.fit(task, datamodule=datamodule)
    result = {
        "recipe": recipe,
        "batch_size": int(cfg.data.batch_size),
        "image_size": int(cfg.data.image_size),
        "precision": str(cfg.trainer.precision),
        "steps": len(timer.ends),
        "timed_steps": max(0, len(timer.ends) - args.warmup - 1),
        "images_per_s": timer.images_per_second(int(cfg.data.batch_size), args.warmup),
        "seconds": time.perf_counter() - started,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and not args.cpu_smoke else "cpu",
    }
    if torch.cuda.is_available() and not args.cpu_smoke:
        result["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        result["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    else:  # ru_maxrss is KiB on Linux
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result, task, datamodule


def eval_maps(task, datamodule, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ground-truth-class maps of the first eval batch at image resolution, with its boxes."""
    from infocam.localization import upsample_maps
    from infocam.tasks.batch import unpack_batch

    datamodule.setup("test")
    batch = unpack_batch(next(iter(datamodule.test_dataloader())))
    net = task.net.to(device).eval()
    images = batch.images.to(device)
    with torch.no_grad():
        maps = task.cam_method.compute(net, images, [batch.labels.to(device)]).maps[0]
    gt_boxes, gt_counts = batch.require_boxes()
    return upsample_maps(maps, tuple(images.shape[-2:])).float(), gt_boxes.to(device), gt_counts.to(device)


def _synchronised(fn):
    def run():
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out

    return run


def compare_box_backends(maps: torch.Tensor, gt_boxes: torch.Tensor, gt_counts: torch.Tensor, repeats: int) -> dict:
    """torch backend on ``maps.device`` vs numba on the CPU copy: same hits and boxes, timed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from timing import timed

    from infocam.localization import cams_to_boxes
    from infocam.localization.paper_metrics import component_hits, curve_thresholds

    thresholds = curve_thresholds(100)
    cpu = (maps.cpu(), gt_boxes.cpu(), gt_counts.cpu())
    out: dict = {"maps": list(maps.shape), "device": str(maps.device)}
    for name, run in {
        "maxboxacc_hits": lambda m, b, c, backend: component_hits(m, b, c, thresholds, backend=backend),
        "boxes_at_0.2": lambda m, b, c, backend: cams_to_boxes(m, 0.2, backend=backend),
    }.items():
        run(*cpu, "numba"), run(maps, gt_boxes, gt_counts, "torch")  # compile / warm up both
        torch_s, torch_out = timed(_synchronised(lambda run=run: run(maps, gt_boxes, gt_counts, "torch")), repeats)
        numba_s, numba_out = timed(lambda run=run: run(*cpu, "numba"), repeats)
        same = bool(torch.equal(torch_out.cpu(), numba_out.cpu()))
        out[name] = {"torch_s": torch_s, "numba_s": numba_s, "numba_over_torch": numba_s / torch_s, "identical": same}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of images/s")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="timings of the box step (median)")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU (32 px, batch 2, 3 steps)")
    parser.add_argument("--out", default=str(REPO / "reports" / "bench_gpu.json"))
    args = parser.parse_args(argv)
    if args.cpu_smoke:
        args.steps, args.warmup, args.image_size, args.repeats = min(args.steps, 3), 0, 32, 1
        args.batch_size = args.batch_size or 2
    elif not torch.cuda.is_available():
        print("bench-gpu: no CUDA device here; run it on a GPU machine, or use --cpu-smoke to check the path",
              file=sys.stderr)
        return 2
    from infocam.data.standins.cub_layout import write_cub_layout
    from infocam.runtime.io import atomic_write_text

    batch = args.batch_size or 32
    results: dict = {"cpu_smoke": args.cpu_smoke, "training": [], "box_backends": None}
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        tmp_path = Path(tmp)
        # enough training images for every step in one epoch (about half the images are test)
        num_images = max(40, int(2.4 * batch * (args.steps + 1)))
        write_cub_layout(tmp_path / "data", num_images=num_images, seed=0, min_side=80, max_side=320)
        device = torch.device("cpu" if args.cpu_smoke else "cuda")
        for recipe in args.recipes:
            result, task, datamodule = train_recipe(recipe, tmp_path / "data", tmp_path / recipe, args)
            results["training"].append(result)
            ips = result["images_per_s"]
            memory = result.get("peak_allocated_gib", result.get("peak_rss_gib"))
            print(f"{recipe}: {result['steps']} steps x {result['batch_size']} at {result['image_size']} px, "
                  f"{result['precision']}: {'n/a' if ips is None else f'{ips:.1f}'} images/s, peak memory {memory:.2f} GiB")
            if results["box_backends"] is None:  # the first recipe's maps
                maps = eval_maps(task, datamodule, device)
                results["box_backends"] = compare_box_backends(*maps, args.repeats)
    for name in ("maxboxacc_hits", "boxes_at_0.2"):
        r = results["box_backends"][name]
        print(f"box step {name} on {results['box_backends']['maps']} maps: torch ({results['box_backends']['device']}) "
              f"{r['torch_s'] * 1e3:.1f} ms, numba (cpu) {r['numba_s'] * 1e3:.1f} ms, x{r['numba_over_torch']:.2f}, "
              f"identical: {r['identical']}")
    atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    identical = all(results["box_backends"][n]["identical"] for n in ("maxboxacc_hits", "boxes_at_0.2"))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
