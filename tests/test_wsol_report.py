"""The WSOL table reads metrics.json + config.yaml of each run (what `infocam-eval` writes)."""

from __future__ import annotations

from omegaconf import OmegaConf

from infocam.io import atomic_write_text, write_metrics
from infocam.reporting.wsol import write_wsol_table


def _run(directory, cam, task_cam, gt_known):
    cfg = OmegaConf.create({"cam": cam, "task": {"cam": task_cam}})
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    write_metrics(directory / "metrics.json", {"test/gt_known_loc": gt_known, "test/top1_loc": 0.25, "seconds": 1.0})


def test_table_rows_sorted_by_method_and_region_with_checkpoint_cam_fallback(tmp_path):
    _run(tmp_path / "0", {"name": "infocam_plus", "region_size": 3}, None, 0.5)
    _run(tmp_path / "1", {"name": "infocam", "region_size": 5, "subtract": False}, None, 0.125)
    _run(tmp_path / "2", None, {"name": "cam", "region_size": 1}, 0.375)  # eval without cam=...
    csv_path, md_path = write_wsol_table(str(tmp_path), str(tmp_path / "reports"))
    lines = csv_path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["cam", "infocam", "infocam_plus"]
    md = md_path.read_text()
    assert "| cam | 1 | same | False | 37.50 |" in md
    assert "| infocam | 5 | same | False | 12.50 |" in md
    assert "| infocam_plus | 3 | same | least likely | 50.00 |" in md
