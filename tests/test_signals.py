"""SIGTERM and Ctrl-C end a run with a non-zero status and one line saying how to resume
(issue 21, item 5; issue 28, "Signals")."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import QUIET, run_cli_in_process

TINY = ["experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=3", *QUIET]
SIGTERM_AT_1 = ["+callbacks.term._target_=tests.fixtures.callbacks.SigtermAtStep", "+callbacks.term.step=1"]


@pytest.mark.slow
def test_sigterm_exits_143_with_one_line_naming_the_resume(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli_in_process("train", [*TINY, *SIGTERM_AT_1, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert proc.returncode == 143, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("infocam: error:")]
    assert lines == [f"infocam: error: the run in {run_dir} was terminated (SIGTERM) before it finished, no metrics.json "
                     f"written; to resume, rerun the same command with ckpt_path=last hydra.run.dir={run_dir}"]
    assert "Traceback" not in proc.stderr and not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_sigterm_stops_a_whole_multirun_not_just_its_cell(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli_in_process("train", ["-m", *TINY, *SIGTERM_AT_1, "data.dim=1,2", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert "rerun the same multirun (same hydra.sweep.dir) with ckpt_path=last" in proc.stderr
    assert not (sweep / "1").exists() and not (sweep / "0" / "error.txt").exists()


SIGINT = "+callbacks.int._target_=tests.fixtures.callbacks.SigintAtStep"


@pytest.mark.slow
def test_ctrl_c_in_a_single_run_says_so_and_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli_in_process("train", [*TINY, SIGINT, "+callbacks.int.step=1", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("infocam: error:")]
    assert lines == [f"infocam: error: the run in {run_dir} was interrupted (Ctrl-C) before it finished, no metrics.json "
                     f"written; to resume, rerun the same command with ckpt_path=last hydra.run.dir={run_dir}"]
    assert "Traceback" not in proc.stderr and not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_ctrl_c_in_cell_2_of_3_stops_the_multirun_with_a_resume_hint(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli_in_process("train", ["-m", *TINY, SIGINT, "+callbacks.int.step=999,1,999", f"hydra.sweep.dir={sweep}"],
                              cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert re.search(r"^\[1/3\] ", proc.stdout, re.MULTILINE) and not re.search(r"^\[2/3\] ", proc.stdout, re.MULTILINE)
    assert f"the run in {sweep / '1'} was interrupted (Ctrl-C)" in proc.stderr
    assert "rerun the same multirun (same hydra.sweep.dir) with ckpt_path=last" in proc.stderr
    assert (sweep / "0" / "metrics.json").is_file() and not (sweep / "2").exists()


def test_a_further_ctrl_c_while_stopping_is_not_silent():
    code = ("import os, signal\nfrom infocam.entry.signals import install_sigint\ninstall_sigint()\n"
            "try:\n    os.kill(os.getpid(), signal.SIGINT)\nexcept KeyboardInterrupt:\n    print('stopping', flush=True)\n"
            "for _ in range(2):\n    os.kill(os.getpid(), signal.SIGINT)\nprint('not reached')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and proc.stdout == "stopping\n"
    assert proc.stderr.strip() == "infocam: error: interrupted again (Ctrl-C) while stopping: exiting now, status 130"
