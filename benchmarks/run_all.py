"""Every benchmark in one run, and one page: ``reports/benchmarks.md`` (``make bench``).

    python benchmarks/run_all.py [--only NAME ...] [--quick] [--out reports/benchmarks.md]

Each benchmark runs as its own process (so one's threads, caches and compiled kernels do not
colour the next), prints as it always does, and appends its figures -- each with the baseline
it measured in the same run and their ratio -- to a JSON-lines file (``timing.record``); this
script turns them into the page with the machine, the load before and after each benchmark
(a loaded machine's timings swing), and the command that reproduces each figure. A benchmark
that fails is named on the page and makes the exit status 1; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from timing import RECORD_ENV  # noqa: E402

from infocam.runtime.io import atomic_write_text  # noqa: E402


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    args: tuple[str, ...]
    what: str
    quick_args: tuple[str, ...] | None = None  # None: left out of --quick
    needs_cuda: bool = False

    def argv(self, quick: bool) -> list[str]:
        return ["benchmarks/" + self.script, *(self.quick_args if quick else self.args)]


BENCHMARKS = [
    Benchmark("classification", "bench_classification.py", (),
              "one MNIST CNN epoch: experiment=mnist through Lightning vs a plain PyTorch loop",
              ("--train-size", "2000", "--repeats", "1", "--max-ratio", "1000")),
    Benchmark("mi", "bench_mi.py", (),
              "Table 2's 24 settings, 5 epochs each: the framework vs a plain PyTorch loop",
              ("--epochs", "1", "--settings", "balanced:2:softmax")),
    Benchmark("api", "bench_api.py", (),
              "estimate_mi on the paper's 60,000 x 10 mixture vs scikit-learn's mutual_info_classif",
              ("--settings", "balanced:2", "--mc-samples", "20000")),
    Benchmark("localization", "bench_localization.py", ("--skip-libraries",),
              "maps -> boxes -> IoU on 256 maps at 224 px vs a per-image scipy loop",
              ("--batch", "16", "--repeats", "1", "--skip-libraries")),
    Benchmark("wsoleval", "bench_wsoleval.py", (),
              "wsolevaluation's protocol (MaxBoxAccV2) on 1,000 maps vs their per-image OpenCV loop",
              ("--maps", "20", "--repeats", "1")),
    Benchmark("cams", "bench_cams.py", ("--cpu-only",),
              "CAM methods on torchvision resnet18/resnet50 at 224 px vs a forward pass and the grad-cam package",
              ("--quick", "--repeats", "1", "--out", "{tmp}/bench_cams.md")),
    Benchmark("gpu", "bench_gpu.py", (), "WSOL recipes on one GPU: images/s, peak memory", None, needs_cuda=True),
]


class Run(NamedTuple):
    """How one benchmark went: ``status`` None means skipped (no CUDA), so it has no timings."""

    argv: list[str]
    status: int | None = None
    seconds: float | None = None
    load_before: float | None = None
    load_after: float | None = None


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory_text = f", {memory:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory_text = ""
    return (f"{platform.machine()} {platform.processor() or ''}".strip()
            + f", {os.cpu_count()} CPU cores{memory_text}, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def run(bench: Benchmark, quick: bool, record_file: Path, tmp: str, shown: list[str]) -> Run:
    """Exit status, wall seconds and the 1-minute load average before and after."""
    argv = [arg.replace("{tmp}", tmp) for arg in bench.argv(quick)]
    print(f"\n=== {bench.name}: python {' '.join(argv)}", flush=True)
    env = dict(os.environ, **{RECORD_ENV: str(record_file)})
    env.setdefault("WANDB_MODE", "disabled")
    load_before, start = os.getloadavg()[0], time.perf_counter()
    status = subprocess.call([sys.executable, *argv], cwd=REPO, env=env)
    return Run(shown, status, time.perf_counter() - start, load_before, os.getloadavg()[0])


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def page(rows: list[dict], runs: dict[str, Run], quick: bool, total: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python benchmarks/run_all.py`) from the figures each benchmark recorded;",
        "every baseline was measured in the same run, on the same machine, on the same inputs.",
        "",
        f"- machine: {machine()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; whole run {total / 60:.1f} min"
        + (" (`--quick`: tiny sizes, a smoke run whose figures say nothing about speed)" if quick else ""),
        "- load: the 1-minute load average before and after each benchmark; above the core count the",
        "  machine was shared and its timings are not to be trusted.",
        "- ratio: a cost (ours / baseline, lower is better) or, marked ×, a speed-up (baseline / ours).",
        "",
        "| benchmark | what it measures | command | wall | load before → after | status |",
        "|---|---|---|---:|---|---|",
    ]
    for bench in BENCHMARKS:
        if bench.name not in runs:
            continue
        done = runs[bench.name]
        if done.status is None:
            state, wall, load = "skipped (no CUDA)", "", ""
        else:
            state = "ok" if done.status == 0 else f"FAILED (exit {done.status})"
            wall, load = f"{done.seconds:.0f} s", f"{done.load_before:.1f} → {done.load_after:.1f}"
        lines.append(f"| {bench.name} | {bench.what} | `python {' '.join(done.argv)}` | {wall} | {load} | {state} |")
    lines += ["", "| benchmark | figure | ours | baseline | baseline's figure | ratio | target | met |",
              "|---|---|---:|---|---:|---:|---|---|"]
    for row in rows:
        ratio = row.get("ratio")
        ratio_text = "" if ratio is None else (f"×{ratio:.1f}" if row.get("speedup") else f"{ratio:.2f}")
        met = {True: "yes", False: "**no**", None: ""}[row.get("met")]
        lines.append(
            f"| {row['benchmark']} | {row['figure']} | {fmt(row['value'])} {row['unit']} | {row.get('baseline') or ''} | "
            f"{fmt(row.get('baseline_value'))} | {ratio_text} | {row.get('target') or ''} | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=[b.name for b in BENCHMARKS], help="these benchmarks only")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the plumbing, not the speed")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "benchmarks.md")
    args = parser.parse_args(argv)
    import torch

    has_cuda = torch.cuda.is_available()
    chosen = [b for b in BENCHMARKS if (not args.only or b.name in args.only) and not (args.quick and b.quick_args is None)]
    runs: dict[str, Run] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        record_file = Path(tmp) / "figures.jsonl"
        record_file.touch()
        for bench in chosen:
            shown = [a.replace("{tmp}", "TMP") for a in bench.argv(args.quick)]
            skip = bench.needs_cuda and not has_cuda
            runs[bench.name] = Run(shown) if skip else run(bench, args.quick, record_file, tmp, shown)
        rows = [json.loads(line) for line in record_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = page(rows, runs, args.quick, time.perf_counter() - start)
    atomic_write_text(args.out, text)
    print(f"\n{len(rows)} figures from {len(runs)} benchmarks -> {args.out}")
    return 1 if any(r.status not in (0, None) for r in runs.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
