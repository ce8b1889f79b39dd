"""The MI zoo end to end on tiny sizes: sweeps (vector tasks and images) and kind=mi_zoo (issue 19)."""

import csv

import pytest

from conftest import run_cli_in_process


@pytest.mark.slow
def test_zoo_sweeps_then_report(tmp_path):
    sweep = tmp_path / "zoo"
    tiny = ["trainer.max_epochs=1", "data.mc_samples=20000"]
    run_cli_in_process("train", ["experiment=mi_gmm", "sweep=mi_zoo", "data.family=gaussian", "data.transform=null,rotation",
                                 "data.dim=2", "data.n=600", "loss=smile,knn", "data.seed=0,1,2", *tiny,
                                 f"hydra.sweep.dir={sweep / 'vectors'}"], cwd=tmp_path, check=True)
    run_cli_in_process("train", ["experiment=mi_bars", "sweep=mi_zoo_images", "data.eps=0.1", "data.n=400",
                                 "data.image_size=8", "data.dim=64", "loss=softmax,knn", "data.seed=0",
                                 "trainer.max_epochs=1", f"hydra.sweep.dir={sweep / 'images'}"], cwd=tmp_path, check=True)
    assert len(list(sweep.rglob("metrics.json"))) == 2 * 2 * 3 + 2
    run_cli_in_process("report", ["kind=mi_zoo", f"sweep_dir={sweep}", f"out_dir={tmp_path / 'reports'}"],
                       cwd=tmp_path, check=True)
    rows = list(csv.DictReader((tmp_path / "reports" / "mi_zoo.csv").open()))
    assert {(r["task"], r["estimator"]) for r in rows} >= {("gmm", "knn"), ("gmm+rotation", "smile"),
                                                          ("bars8_eps0.1", "softmax"), ("bars8_eps0.1", "knn")}
    gmm_knn = next(r for r in rows if r["task"] == "gmm" and r["estimator"] == "knn")
    assert gmm_knn["seeds"] == "3" and float(gmm_knn["error_sd"]) > 0 and float(gmm_knn["seconds"]) > 0
    assert abs(float(gmm_knn["mean_error"])) < 0.2  # kNN needs no training: close even at n = 600
    bars = next(r for r in rows if r["task"] == "bars8_eps0.1" and r["estimator"] == "softmax")
    assert float(bars["mi_true"]) == pytest.approx(0.95135, abs=1e-4)
    markdown = (tmp_path / "reports" / "mi_zoo.md").read_text()
    assert "| gmm | 2 | 600 | knn | 3 |" in markdown
    assert (tmp_path / "reports" / "mi_zoo.png").stat().st_size > 10_000
