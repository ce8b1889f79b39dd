"""CAM latency table: ms per image and peak memory of each method beside a bare forward pass.

    python benchmarks/bench_cams.py [--out reports/bench_cams.md]     (make bench-cams)
    python benchmarks/bench_cams.py --quick                            (resnet18, batch 1 and 4: a smoke run)

torchvision resnet18 and resnet50 (random init, ``weights=None``) at 224 px, batch 1 and 32, on
the CPU and on CUDA when there is one. Every method sees the same model and the same images in
one run, so the ratios (to the forward pass, and ours to the package's) compare like with
like even on a loaded machine; absolute times do not travel between machines.

Methods, each asked for the predicted class's maps at the input size (what a user gets):

- infocam's ``CAM``, ``InfoCAM``, ``InfoCAMPlus`` (one forward pass, no backward) and ``GradCAM``
  (one forward, one backward), layers found structurally;
- the grad-cam package's ``GradCAM``, ``GradCAMPlusPlus`` and ``ScoreCAM`` on ``layer4``, built once
  (its numpy maps, min-max scaled and resized with OpenCV, are its normal output). ScoreCAM runs
  one forward pass per channel of ``layer4`` (512 or 2,048), so it is timed at batch 1 only
  (one call, no warm-up).

Time: the median of ``--repeats`` calls after one warm-up call (hook discovery, allocator and
cuDNN warm-up), the device synchronised; the repeats go round the methods in turn. ``--clock cpu``
times CPU rows by the process's CPU time, which a loaded machine disturbs less than wall time. Memory: on CUDA, ``max_memory_allocated`` during the
call minus what was allocated before it; on the CPU, the peak resident set size sampled every
0.2 ms during the call minus the size before it (freed heap returned with ``malloc_trim``
first), so a figure there is approximate.
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torchvision.models as tvm

from timing import record, timed

import infocam
from infocam.runtime.io import atomic_write_text

REPO = Path(__file__).resolve().parent.parent
Method = Callable[[torch.Tensor], Any]


@dataclass
class Row:
    model: str
    device: str
    batch: int
    method: str
    seconds: float
    peak_mib: float


def our_methods(model: torch.nn.Module) -> dict[str, Method]:
    return {name: getattr(infocam, name)(model) for name in ("CAM", "InfoCAM", "InfoCAMPlus", "GradCAM")}


def package_methods(model: torch.nn.Module, layer: torch.nn.Module, scorecam: bool) -> dict[str, Method]:
    """The grad-cam package's methods on ``layer``, each built once (targets=None: predicted class)."""
    import pytorch_grad_cam

    from infocam.cams.pytorch_gradcam import quiet_progress

    names = ["GradCAM", "GradCAMPlusPlus"] + (["ScoreCAM"] if scorecam else [])
    methods = {}
    for name in names:
        cam = getattr(pytorch_grad_cam, name)(model=model, target_layers=[layer])
        if name == "ScoreCAM":
            cam.batch_size = 64  # its default is 16 channels per forward pass

        def call(images, cam=cam):
            with quiet_progress():  # ScoreCAM's tqdm bar, one per image
                return cam(input_tensor=images, targets=None)

        methods[f"grad-cam {name}"] = call
    return methods


def synchronised(fn: Method, images: torch.Tensor) -> Callable[[], Any]:
    def call():
        out = fn(images)
        if images.is_cuda:
            torch.cuda.synchronize()
        return out

    return call


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096  # resident pages (4 KiB on Linux x86/arm64)


def _trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the baseline may then hold freed heap
        pass


def peak_mib(call: Callable[[], Any], device: torch.device) -> float:
    """Memory the call needs above what was held before it (see the module docstring)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    if not Path("/proc/self/statm").exists():
        return float("nan")
    _trim()
    before, peak, done = _rss_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.0002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        call()
    finally:
        done.set()
        thread.join()
    return max(peak[0] - before, 0) / 2**20


def measure(arch: str, device: torch.device, batches: list[int], repeats: int, scorecam_batches: set[int],
            clock: Callable[[], float]) -> list[Row]:
    """Every method on the same model and images; the repeats go round the methods in turn, so
    a change of load on a shared machine falls on all of them alike."""
    torch.manual_seed(0)
    model = getattr(tvm, arch)(weights=None).to(device).eval()
    rows = []
    for batch in batches:
        images = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch)).to(device)

        def forward(x):
            with torch.no_grad():
                return model(x)

        methods = {"forward pass": forward, **our_methods(model),
                   **package_methods(model, model.layer4, batch in scorecam_batches)}
        calls = {name: synchronised(fn, images) for name, fn in methods.items()}
        times: dict[str, list[float]] = {name: [] for name in calls}
        memory: dict[str, float] = {}
        for name, call in calls.items():
            if "ScoreCAM" in name:  # minutes per call: one call gives its time and its memory
                start = clock()
                memory[name] = peak_mib(call, device)
                times[name].append(clock() - start)
            else:
                call()  # warm-up: hook discovery, allocator, cuDNN
                memory[name] = peak_mib(call, device)
        for _ in range(repeats):
            for name, call in calls.items():
                if "ScoreCAM" not in name:
                    times[name].append(timed(call, 1, clock)[0])
        for name in calls:
            seconds = statistics.median(times[name])
            rows.append(Row(arch, device.type, batch, name, seconds, memory[name]))
            print(f"  {arch} {device.type} batch {batch:>2} {name:<26} {1000 * seconds / batch:9.1f} ms/image",
                  file=sys.stderr, flush=True)
    return rows


def by_setting(rows: list[Row]) -> dict[tuple[str, str, int], dict[str, Row]]:
    """The rows of each (model, device, batch), by method name, in the order they were measured."""
    groups: dict[tuple[str, str, int], dict[str, Row]] = {}
    for row in rows:
        groups.setdefault((row.model, row.device, row.batch), {})[row.method] = row
    return groups


def markdown(rows: list[Row], command: str, clock: str) -> str:
    lines = [
        "# CAM latency",
        "",
        f"`{command}` on {platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
        + f"; torch {torch.__version__}. Random-init torchvision models at 224 px, the predicted class's maps;",
        f"times by {'CPU time (CPU rows)' if clock == 'cpu' else 'wall clock'}, the median of the repeats.",
        "Ratios are to the forward pass measured in the same run on the same images; ours vs the",
        "package: infocam's GradCAM time divided by the grad-cam package's GradCAM time (< 1: ours is faster).",
        "",
    ]
    for (model, device, batch), by_name in by_setting(rows).items():
        base = by_name["forward pass"].seconds
        lines += [f"## {model}, {device}, batch {batch}", "",
                  "| method | ms / image | x forward pass | peak memory (MiB) |", "|---|---:|---:|---:|"]
        for r in by_name.values():
            lines.append(f"| {r.method} | {1000 * r.seconds / batch:.1f} | {r.seconds / base:.2f} | {r.peak_mib:.0f} |")
        if "GradCAM" in by_name and "grad-cam GradCAM" in by_name:
            ratio = by_name["GradCAM"].seconds / by_name["grad-cam GradCAM"].seconds
            lines += ["", f"infocam GradCAM / grad-cam GradCAM: {ratio:.2f}"]
        lines.append("")
    return "\n".join(lines)


def record_rows(rows: list[Row]) -> None:
    """For ``make bench``'s page: each method against the forward pass of its setting (target
    <= 1.15 for the weight-based methods at batch 32), and our Grad-CAM against the package's."""
    for (model, device, batch), by_name in by_setting(rows).items():
        base = by_name["forward pass"]
        setting = f"{model} {device} batch {batch}"
        for name in ("CAM", "InfoCAM", "InfoCAMPlus"):
            if name in by_name:
                ratio = by_name[name].seconds / base.seconds
                target = "ratio <= 1.15" if batch >= 32 else None
                record("cams", f"{name}, {setting}", 1000 * by_name[name].seconds / batch, "ms/image", "forward pass",
                       1000 * base.seconds / batch, target=target, met=ratio <= 1.15 if target else None)
        if "GradCAM" in by_name and "grad-cam GradCAM" in by_name:
            ours, theirs = by_name["GradCAM"].seconds, by_name["grad-cam GradCAM"].seconds
            record("cams", f"GradCAM (ours), {setting}", 1000 * ours / batch, "ms/image", "grad-cam package's GradCAM",
                   1000 * theirs / batch, target="ratio <= 1", met=ours <= theirs)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="resnet18, batch 1 and 4: a smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when it is there")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time (steadier on a loaded machine; CPU rows only)")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench_cams.md")
    args = parser.parse_args(argv)
    archs, batches = (["resnet18"], [1, 4]) if args.quick else (["resnet18", "resnet50"], [1, 32])
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    rows = []
    for device in devices:
        for arch in archs:
            scorecam = {1} if (not args.quick or arch == "resnet18") else set()
            clock = time.process_time if args.clock == "cpu" and device.type == "cpu" else time.perf_counter
            rows += measure(arch, device, batches, args.repeats, scorecam, clock)
    command = "python benchmarks/bench_cams.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    table = markdown(rows, command.strip(), args.clock)
    record_rows(rows)
    atomic_write_text(args.out, table + "\n")
    print(table)
    return table


if __name__ == "__main__":
    main()
