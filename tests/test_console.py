"""The console: one line per finished multirun cell, warnings once, the full log in each run's
directory, single runs as before, ``verbose=true`` for everything (issue 21, "a console people can read")."""

from __future__ import annotations

import re

import pytest
from conftest import QUIET, run_cli, run_cli_in_process

TINY = ["experiment=mi_gmm", "data.size_scale=0.02", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", "logger=none"]
CELL = re.compile(r"^\[([1-3])/3\]  data\.dim=(\d+)  test/mi_estimate=-?[\d.e+-]+  \d+\.\d s$")


@pytest.mark.slow
def test_a_3_cell_multirun_prints_one_line_per_cell_and_logs_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("train", ["-m", *TINY, "data.dim=1,2,5", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    cells = [CELL.match(line) for line in lines if CELL.match(line)]
    assert [(m.group(1), m.group(2)) for m in cells] == [("1", "1"), ("2", "2"), ("3", "5")]
    rest = [line for line in lines if not CELL.match(line)]
    assert [line for line in rest if "WARNING" not in line] == [rest[0]] and rest[0].endswith("Launching 3 jobs locally")
    warnings = rest[1:]
    assert len(warnings) == len(set(warnings)) <= 4  # each warning once over the whole sweep
    assert len(lines) <= 8, "\n".join(lines)
    for absent in ("GPU available", "litlogger", "Test metric", "Params", "#0 :"):
        assert absent not in proc.stdout + proc.stderr, absent
    for job in range(3):  # the full log is in each cell's directory, nothing in it twice, no advertisement
        log = (sweep / str(job) / "mi_gmm.log").read_text()
        assert log.count("GPU available") == 1 and "model summary" in log and "test metrics: {" in log
        assert "litlogger" not in log


@pytest.mark.slow
def test_verbose_true_restores_everything_and_a_single_run_keeps_its_table(tmp_path):
    verbose = run_cli_in_process("train", ["-m", *TINY, *QUIET, "data.dim=1", "verbose=true",
                                           f"hydra.sweep.dir={tmp_path / 'v'}"], cwd=tmp_path, check=True)
    assert "Test metric" in verbose.stdout and "Params" in verbose.stdout and "#0 : " in verbose.stdout
    assert verbose.stdout.count("GPU available") == 1 and "litlogger" not in verbose.stdout
    single = run_cli_in_process("train", [*TINY, *QUIET, f"hydra.run.dir={tmp_path / 's'}"], cwd=tmp_path, check=True)
    assert "Test metric" in single.stdout and "Params" in single.stdout
    assert single.stdout.count("GPU available") == 1 and "litlogger" not in single.stdout
    assert not re.search(r"^\[1/", single.stdout, re.MULTILINE)


def test_the_cell_count_lets_the_command_line_pin_a_sweep_files_axis():
    from infocam.runtime.console import sweep_axes

    params = {"data.family": "gaussian,student_t", "data.dim": "2,5,10", "loss": "softmax,knn"}
    axes = sweep_axes(params, ["experiment=mi_gmm", "data.family=gaussian", "data.dim=10", "loss=softmax,knn,nwj",
                               "data.seed=0,1"])
    assert axes == {"loss": 3, "data.seed": 2}  # 6 cells, as Hydra launches (not 2 x 3 x 3 x 2 = 36)
