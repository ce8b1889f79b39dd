"""`make bench-gpu`'s script runs end to end on a CPU with tiny sizes (--cpu-smoke)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    """The script as a module (in this process: no second interpreter importing torch and Lightning)."""
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_cpu_smoke_trains_both_recipes_and_compares_the_box_backends(bench, tmp_path, capsys):
    out = tmp_path / "bench_gpu.json"
    assert bench.main(["--cpu-smoke", "--steps", "2", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert results["cpu_smoke"] is True
    assert [r["recipe"] for r in results["training"]] == ["wsol_cub_resnet50", "wsol_cub_vgg16"]
    for r in results["training"]:
        assert r["steps"] == 2 and r["batch_size"] == 2 and r["image_size"] == 32
        assert r["images_per_s"] > 0 and r["peak_rss_gib"] > 0
    boxes = results["box_backends"]
    assert boxes["maps"] == [2, 32, 32]
    for name in ("maxboxacc_hits", "boxes_at_0.2"):
        assert boxes[name]["identical"] is True and boxes[name]["torch_s"] > 0
    assert "images/s" in stdout and "identical: True" in stdout


def test_without_a_gpu_the_full_run_says_so_in_one_line(bench, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main(["--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "bench-gpu: no CUDA device here; run it on a GPU machine, or use --cpu-smoke to check the path"]
    assert not (tmp_path / "x.json").exists()


def test_paper_estimates_follow_the_formula():
    """benchmarks/paper_estimate.py: runs x epochs x images / (images/s x GPUs x efficiency)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("paper_estimate", REPO_ROOT / "benchmarks" / "paper_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bench = {"training": [{"recipe": "wsol_cub_vgg16", "images_per_s": 100.0}, {"recipe": "wsol_cub_resnet50", "images_per_s": 200.0}]}
    rows = module.estimates(bench, gpus=2, efficiency=1.0)
    cub_vgg = next(r for r in rows if r["target"] == "paper-table4-6 CUB" and "VGG" in r["trains"])
    assert cub_vgg["hours"] == pytest.approx(2 * 200 * 5_994 / (100.0 * 2) / 3600)
    tiny_resnet = next(r for r in rows if r["target"] == "paper-table4-6 Tiny" and "ResNet" in r["trains"])
    assert tiny_resnet["hours"] == pytest.approx(2 * 200 * 100_000 / (200.0 / (64 / 224) ** 2 * 2) / 3600)
    assert all(r["hours"] is None for r in module.estimates({"training": []}))
