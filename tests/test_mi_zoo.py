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


def _fake_run(directory, loss, seed, estimate, truth=1.5, n=2000, transform=None, failed=False):
    import json

    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"data": {"_target_": "infocam.data.gmm.GaussianMixtureDataModule", "dim": 10, "n": n,
                                     "seed": seed, "family": "gaussian", "transform": transform, "num_classes": 5,
                                     "prior": None, "balance": "balanced"}, "loss": {"name": loss}})
    directory.mkdir(parents=True)
    if failed:
        (directory / ".hydra").mkdir()
        OmegaConf.save(cfg, directory / ".hydra" / "config.yaml")
        (directory / "error.txt").write_text("training loss became nan at global step 3\n")
        return
    OmegaConf.save(cfg, directory / "config.yaml")
    (directory / "metrics.json").write_text(json.dumps({"test/mi_estimate": estimate, "test/mi_true": truth,
                                                        "test/mi_estimate_se": 0.01, "seconds": 2.0 + seed}))


def test_zoo_report_aggregates_seeds_and_counts_failed_cells(tmp_path):
    from infocam.reporting.mi_zoo import write_mi_zoo

    sweep = tmp_path / "sweep"
    for seed, estimate in enumerate((1.4, 1.5, 1.6)):
        _fake_run(sweep / f"k{seed}", "knn", seed, estimate)
    _fake_run(sweep / "m0", "mine", 0, 1.2, transform="cube")
    _fake_run(sweep / "m1", "mine", 1, None, transform="cube", failed=True)
    _fake_run(sweep / "m2", "mine", 0, None, n=500, transform="cube", failed=True)
    csv_path, md_path, png_path = write_mi_zoo(str(sweep), str(tmp_path / "reports"))
    rows = {(r["task"], r["n"], r["estimator"]): r for r in csv.DictReader(csv_path.open())}
    knn = rows[("gmm", "2000", "knn")]
    assert (knn["seeds"], knn["failed"]) == ("3", "0")
    assert float(knn["mean_error"]) == pytest.approx(0.0, abs=1e-9)
    assert float(knn["error_sd"]) == pytest.approx(0.1)
    assert float(knn["mean_abs_error"]) == pytest.approx(0.2 / 3)
    assert float(knn["seconds"]) == pytest.approx(3.0)
    assert (rows[("gmm+cube", "2000", "mine")]["seeds"], rows[("gmm+cube", "2000", "mine")]["failed"]) == ("1", "1")
    assert rows[("gmm+cube", "500", "mine")]["mean_error"] == ""  # every seed failed: counted, no numbers
    assert "training loss became nan" in md_path.read_text()
    assert png_path.stat().st_size > 10_000
