import csv

import pytest
from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.runtime.io import write_metrics
from infocam.reporting.mi_table import write_mi_table2


def _fake_run(root, num, balance, dim, loss, estimate, truth):
    run = root / str(num)
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"data": {"balance": balance, "dim": dim}, "loss": {"name": loss}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/mi_estimate": estimate, "test/mi_true": truth,
                                         "test/mi_true_se": 0.001, "test/acc": 0.8, "seconds": 2.0})


def test_table2_report_from_metrics_files(tmp_path):
    sweep = tmp_path / "sweep"
    _fake_run(sweep, 0, "unbalanced", 2, "softmax", 1.36, 1.24)
    _fake_run(sweep, 1, "unbalanced", 2, "pc_softmax", 1.23, 1.24)
    _fake_run(sweep, 2, "balanced", 10, "mine", 1.50, 1.61)
    csv_path, md_path, png_path = write_mi_table2(str(sweep), str(tmp_path / "reports"))
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["estimator"] for r in rows] == ["mine", "softmax", "pc_softmax"]
    assert float(rows[1]["abs_error"]) == pytest.approx(0.12)
    md = md_path.read_text()
    assert "| unbalanced | 2 | pc_softmax | 1.230 |" in md and "1.20" in md  # paper's PC-softmax value beside
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_on_empty_dir_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no run with metrics.json"):
        write_mi_table2(str(tmp_path), str(tmp_path / "out"))


@pytest.mark.slow
def test_multirun_then_report_via_cli(tmp_path):
    from conftest import run_cli_in_process

    sweep_dir = tmp_path / "multi"
    run_cli_in_process("train", ["experiment=mi_gmm", "sweep=mi_table2", "hydra.sweeper.params={data.dim:'1,2',loss:'softmax,pc_softmax'}",
                      "data.balance=unbalanced", "data.size_scale=0.02", "data.mc_samples=2000", "trainer.max_epochs=1",
                      "logger=none", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, check=True)
    assert len(list(sweep_dir.glob("*/metrics.json"))) == 4
    run_cli_in_process("report", ["kind=mi_table2", f"sweep_dir={sweep_dir}", f"out_dir={tmp_path / 'reports'}"], cwd=tmp_path, check=True)
    rows = list(csv.DictReader((tmp_path / "reports" / "mi_table2.csv").open()))
    assert {(r["dim"], r["estimator"]) for r in rows} == {("1", "softmax"), ("1", "pc_softmax"), ("2", "softmax"), ("2", "pc_softmax")}
