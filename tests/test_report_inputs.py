"""Reports over broken runs: corrupt and null runs are named and skipped, the wrong kind writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QUIET
from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.runtime.io import write_metrics

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




def _mi_run(root: Path, name: str, estimate, dim: int = 2) -> Path:
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"data": {"balance": "balanced", "dim": dim}, "loss": {"name": "softmax"}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/mi_estimate": estimate, "test/mi_true": 1.3, "test/mi_true_se": 0.01,
                                         "test/acc": 0.8, "seconds": 1.0})
    return run


def test_mi_report_names_and_skips_corrupt_and_null_runs(tmp_path):
    from infocam.reporting.mi_table import write_mi_table2

    sweep = tmp_path / "sweep"
    _mi_run(sweep, "0", 1.25)
    _mi_run(sweep, "1", float("nan"), dim=5)  # written as null
    (_mi_run(sweep, "2", 1.2) / "metrics.json").write_text('{"test/mi_est')  # cut short
    csv_path, md_path, _ = write_mi_table2(str(sweep), str(tmp_path / "out"))
    assert len(csv_path.read_text().splitlines()) == 2  # header + the one good run
    skipped = md_path.read_text().split("## Skipped runs", 1)[1]
    assert f"`{sweep / '1'}`: test/mi_estimate is null" in skipped
    assert f"`{sweep / '2'}`: metrics.json is not valid JSON" in skipped


def _wsol_run(root: Path) -> None:
    run = root / "0"
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"cam": {"name": "cam", "region_size": 1}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/gt_known_loc": 0.5, "test/top1_loc": 0.4, "seconds": 1.0})


@pytest.mark.parametrize("kind, make_run, message", [
    ("wsol", lambda root: _mi_run(root, "0", 1.2), "no WSOL run"),
    ("mi_table2", _wsol_run, "no MI estimation run"),
])
def test_a_report_of_the_wrong_kind_refuses_and_writes_nothing(tmp_path, kind, make_run, message):
    from infocam.reporting.dispatch import REPORTS

    make_run(tmp_path / "sweep")
    with pytest.raises(DataError, match=message):
        REPORTS[kind](str(tmp_path / "sweep"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# -- 5. boxes ------------------------------------------------------------------------------
