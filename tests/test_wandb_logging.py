"""wandb offline: tiny runs of every task log what a person would look at, and we read it back.

Each run goes through the CLI with ``logger=wandb`` and ``WANDB_MODE=offline`` (this file only;
the suite disables wandb elsewhere); assertions read the run's ``.wandb`` record file and the
artifact files it stages (tables with images) under a temporary ``WANDB_DATA_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from fixtures.classification import make_mnist
from conftest import BIN_DIR, REPO_ROOT
from fixtures.wandb_records import config, history_keys, records, run_file, run_info, summary

pytestmark = pytest.mark.slow

QUIET = ["callbacks=quiet", "trainer.enable_progress_bar=false", "logger=wandb", "trainer.max_epochs=1"]
MI = ["experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=2000", *QUIET]
WSOL = ["experiment=wsol_synthetic", "data.num_train=96", "data.num_val=16", "data.num_test=24", "data.eval_batch_size=16",
        "model.channels=[8,16]", "localization.curve_thresholds=10", "localization.num_overlays=3", *QUIET]


def wandb_env(root: Path) -> dict[str, str]:
    return {"WANDB_MODE": "offline", "WANDB_DATA_DIR": str(root / "wandb_data"), "WANDB_CACHE_DIR": str(root / "wandb_cache"),
            "WANDB_CONFIG_DIR": str(root / "wandb_config")}


def train_cli(args: list[str], cwd: Path, command: str = "train") -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "INFOCAM_ROOT": str(cwd), "OMP_NUM_THREADS": "1", **wandb_env(cwd)}
    proc = subprocess.run([str(BIN_DIR / f"infocam-{command}"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture
def train_offline(tmp_path, monkeypatch, make_cfg):
    """``train(cfg)`` in this process with wandb offline; the environment is restored afterwards."""
    from infocam.run import train

    for key, value in wandb_env(tmp_path).items():
        monkeypatch.setenv(key, value)

    def run(overrides: list[str], out: Path) -> None:
        try:
            train(make_cfg(overrides, output_dir=out))
        finally:
            import wandb

            if wandb.run is not None:
                wandb.finish()

    return run


def staged_table(run_dir: Path, key: str) -> dict:
    """The full table (images, boxes) that wandb staged as the run's ``run_table`` artifact for ``key``."""
    for record in records(run_file(run_dir)):
        if record.WhichOneof("record_type") == "artifact":
            for entry in record.artifact.manifest.contents:
                if entry.path == f"{key}.table.json":
                    return json.loads(Path(entry.local_path).read_text())
    raise AssertionError(f"no staged table {key} in {run_dir}")


def assert_summary_has_metrics_json(run_dir: Path) -> dict:
    written = json.loads((run_dir / "metrics.json").read_text())
    logged = summary(run_dir)
    for key, value in written.items():
        assert logged[key] == pytest.approx(value), key
    return logged


def test_wsol_run_logs_cam_table_with_boxes_curve_config_and_tags(tmp_path, train_offline):
    run = tmp_path / "wsol"
    train_offline([*WSOL, "cam=infocam"], run)
    info = run_info(run)
    assert info.run_group == "wsol_synthetic"
    assert {"wsol", "task:wsol", "model:gap_cnn", "loss:softmax", "cam:infocam"} <= set(info.tags)
    logged = assert_summary_has_metrics_json(run)
    assert "test/maxboxacc_v2" in logged
    table = staged_table(run, "test/cam_table")
    assert table["columns"] == ["index", "cam", "image", "overlay", "label", "predicted", "iou", "hit"]
    assert len(table["data"]) == 3
    for row in table["data"]:
        assert row[1].startswith("name=infocam")
        for image in row[2:4]:
            assert image["_type"] == "image-file" and (image["width"], image["height"]) == (64, 64)
            assert len(image["boxes"]["ground_truth"]) >= 1  # one or two objects per image
            for box in image["boxes"]["ground_truth"] + image["boxes"]["predictions"]:
                assert box["domain"] == "pixel" and 0 <= box["position"]["minX"] < box["position"]["maxX"] <= 64
    curve = staged_table(run, "test/box_accuracy_curve_table")
    assert {key for _, key, _ in curve["data"]} == {"IoU >= 0.3", "IoU >= 0.5", "IoU >= 0.7"}
    assert len(curve["data"]) == 3 * 10
    best_at_05 = max(acc for _, key, acc in curve["data"] if key == "IoU >= 0.5")
    assert best_at_05 == pytest.approx(logged["test/maxboxacc_v2_iou50"])  # the curve behind the score
    resolved = config(run)
    assert resolved["cam"]["name"] == "infocam" and resolved["data"]["num_test"] == 24
    assert resolved["trainer"]["default_root_dir"] == str(run)  # interpolations resolved


def test_classification_run_logs_confusion_matrix_and_per_class_accuracy(tmp_path, train_offline):
    make_mnist(tmp_path / "data", train_per_class=(12,) * 10, test_per_class=(3,) * 10)
    run = tmp_path / "mnist"
    train_offline(["experiment=mnist", f"data.root={tmp_path / 'data'}", "data.batch_size=32", "loss=pc_softmax", *QUIET], run)
    info = run_info(run)
    assert info.run_group == "mnist" and info.display_name == "mnist"  # no Hydra app: the experiment names it
    assert {"task:classify", "model:mnist_cnn", "loss:pc_softmax"} <= set(info.tags)
    assert_summary_has_metrics_json(run)
    assert {"test/confusion_matrix_plot_table", "test/per_class_accuracy_table"} <= history_keys(run) | {
        k.rsplit("/", 1)[0] for k in history_keys(run)}
    per_class = staged_table(run, "test/per_class_accuracy_table")
    matrix = [[int(v) for v in line.split(",")] for line in (run / "confusion_matrix.csv").read_text().splitlines()]
    assert [row[2] for row in per_class["data"]] == [sum(row) for row in matrix] == [3] * 10
    assert [row[1] for row in per_class["data"]] == pytest.approx([matrix[k][k] / 3 for k in range(10)])
    confusion = staged_table(run, "test/confusion_matrix_plot_table")
    assert sum(row[-1] for row in confusion["data"]) == 30  # every test image counted once


def test_mi_multirun_is_one_group_with_one_named_run_per_cell_and_its_report(tmp_path):
    sweep = tmp_path / "table2"
    train_cli(["-m", *MI, "data.dim=1,2", f"hydra.sweep.dir={sweep}"], tmp_path)
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "metrics.json").is_file())
    assert len(runs) == 2
    infos = [run_info(run) for run in runs]
    assert {info.run_group for info in infos} == {"mi_gmm-table2"}
    # named from the overrides, plumbing (logger, callbacks, hydra.*) left out
    assert [info.display_name for info in infos] == ["data.size_scale=0.05,data.mc_samples=2000,trainer.max_epochs=1,data.dim=1",
                                                     "data.size_scale=0.05,data.mc_samples=2000,trainer.max_epochs=1,data.dim=2"]
    for run, info in zip(runs, infos):
        assert {"mi", "task:mi", "model:mlp", "loss:softmax"} <= set(info.tags)
        logged = assert_summary_has_metrics_json(run)
        assert logged["test/mi_error"] == pytest.approx(logged["test/mi_estimate"] - logged["test/mi_true"])
        versus = staged_table(run, "test/mi_vs_truth_table")
        assert [row[0] for row in versus["data"]] == ["estimate", "Monte-Carlo truth"]
        assert [row[1] for row in versus["data"]] == pytest.approx([logged["test/mi_estimate"], logged["test/mi_true"]])
    # the report of the grid joins the same group, with its table and figure
    train_cli(["kind=mi_table2", f"sweep_dir={sweep}", f"out_dir={tmp_path / 'reports'}", "report.wandb=true"], tmp_path,
              command="report")
    report = tmp_path / "reports"
    info = run_info(report)
    assert (info.run_group, info.display_name, info.job_type) == ("mi_gmm-table2", "report-mi_table2", "report")
    table = staged_table(report, "report/mi_table2")
    csv_rows = (report / "mi_table2.csv").read_text().strip().splitlines()
    assert table["columns"] == csv_rows[0].split(",") and len(table["data"]) == len(csv_rows) - 1
    assert summary(report)["report/mi_table2_png/_type"] == "image-file"
