"""``make bench``'s page (benchmarks/run_all.py): every figure a benchmark records reaches
reports/benchmarks.md with its baseline and ratio, and a failing benchmark is named, not lost."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def run_all(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("run_all", None)
    return importlib.import_module("run_all")


def test_recorded_figures_and_a_failure_reach_the_page(run_all, tmp_path, monkeypatch):
    scripts = tmp_path / "benchmarks"
    scripts.mkdir()
    (scripts / "fast.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom timing import record\n"
        "record('fast', 'epoch through the framework', 1.1, 's', 'plain loop', 1.0, target='ratio <= 1.05', met=False)\n"
        "record('fast', 'kernel', 2.0, 'ms', 'loop', 50.0, speedup=True)\n" % str(BENCHMARKS)
    )
    (scripts / "broken.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(run_all, "REPO", tmp_path)
    monkeypatch.setattr(run_all, "BENCHMARKS", [
        run_all.Benchmark("fast", "fast.py", (), "a recorded figure"),
        run_all.Benchmark("broken", "broken.py", (), "exits 3"),
        run_all.Benchmark("gpu", "fast.py", (), "needs CUDA", needs_cuda=True),
    ])
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = tmp_path / "benchmarks.md"

    assert run_all.main(["--out", str(out)]) == 1  # the broken benchmark fails the run
    page = out.read_text()
    assert "| fast | epoch through the framework | 1.1 s | plain loop | 1 | 1.10 | ratio <= 1.05 | **no** |" in page
    assert "| fast | kernel | 2 ms | loop | 50 | ×25.0 |" in page
    assert "| broken | exits 3 | `python benchmarks/broken.py` |" in page and "FAILED (exit 3)" in page
    assert "skipped (no CUDA)" in page
    assert "CPU cores" in page  # the machine is named


def test_record_is_silent_without_the_page(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    timing = importlib.import_module("timing")
    monkeypatch.delenv(timing.RECORD_ENV, raising=False)
    timing.record("x", "figure", 1.0, "s", "baseline", 2.0)  # a benchmark run alone writes nothing
    monkeypatch.setenv(timing.RECORD_ENV, str(tmp_path / "f.jsonl"))
    timing.record("x", "figure", 1.0, "s", "baseline", 2.0)
    assert '"ratio": 0.5' in (tmp_path / "f.jsonl").read_text()
