"""A multirun goes on past a failed cell and exits 1 with a summary."""

from __future__ import annotations

import pytest
from conftest import QUIET, run_cli_in_process

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




@pytest.mark.slow
def test_a_multirun_goes_on_past_a_failed_cell_and_exits_1_with_a_summary(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli_in_process("train", ["-m", *NOTHING, "loss.name=no_such_loss,softmax", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "unknown" in (sweep / "0" / "error.txt").read_text() and "no_such_loss" in (sweep / "0" / "error.txt").read_text()
    assert (sweep / "1" / "metrics.json").is_file()  # the cell after the failure ran
    summary = proc.stderr[proc.stderr.index("multirun cell(s) failed"):]
    assert f"{sweep / '0'}:" in summary and f"{sweep / '1'}:" not in summary
    assert "Traceback" not in proc.stderr


# -- 4. reports ----------------------------------------------------------------------------
