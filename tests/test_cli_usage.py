"""The command line tells a user what to type (issue 28, "The command line"): --help with a
description and examples, infocam-eval's usage, a did-you-mean for typos, the closing outputs
line, no empty directories after a refusal, and evals that know their checkpoint's groups."""

from __future__ import annotations

import re
import warnings

import pytest
import yaml
from conftest import QUIET, run_cli_in_process

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
WSOL = ["experiment=wsol_synthetic", "data.num_train=32", "data.num_val=8", "data.num_test=8", "data.batch_size=8",
        "data.eval_batch_size=8", "model.channels=[4,8]", "trainer.max_epochs=1", "localization.curve_thresholds=5",
        "localization.num_overlays=0", "data.num_workers=1", *QUIET]


@pytest.mark.parametrize("command", ["train", "eval"])
def test_help_starts_with_a_description_and_three_examples(tmp_path, command):
    proc = run_cli_in_process(command, ["--help"], cwd=tmp_path)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"infocam-{command}: ")
    examples = [line for line in lines[:16] if line.strip().startswith(f"infocam-{command} ")]
    assert len(examples) >= 3 and "powered by Hydra" not in proc.stdout
    assert "== Config groups" in proc.stdout and len(lines) < 60


@pytest.mark.parametrize("config_name", ["train", "eval", "report", "eval_maps"])
def test_every_entry_points_help_header_has_three_examples(config_name):
    from infocam.entry.preflight import usage

    command = "infocam-" + config_name.replace("_", "-")
    lines = usage(config_name).splitlines()
    assert lines[0].startswith(f"{command}: ")
    assert len([line for line in lines if line.strip().startswith(f"{command} ")]) >= 3


def test_eval_alone_prints_its_usage_and_exits_2(tmp_path):
    proc = run_cli_in_process("eval", [], cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "MissingMandatoryValue" not in proc.stderr
    assert "Usage: infocam-eval ckpt_path=" in proc.stderr and len(proc.stderr.splitlines()) <= 12
    assert not (tmp_path / "logs").exists()


def test_eval_without_ckpt_path_is_one_line_and_leaves_no_directory(tmp_path):
    proc = run_cli_in_process("eval", ["seed=1"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "infocam: error: ckpt_path is required: infocam-eval ckpt_path=RUN_DIR/checkpoints/last.ckpt (see --help)"]
    assert not (tmp_path / "logs").exists()


def test_a_refused_eval_leaves_no_empty_directory(tmp_path):
    run_dir = tmp_path / "D" / "sub"
    proc = run_cli_in_process("eval", [f"ckpt_path={tmp_path / 'MISSING.ckpt'}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert not (tmp_path / "D").exists()
    kept = tmp_path / "kept"
    kept.mkdir()  # a directory the user made before is the user's: it stays
    run_cli_in_process("eval", [f"ckpt_path={tmp_path / 'MISSING.ckpt'}", f"hydra.run.dir={kept}"], cwd=tmp_path)
    assert kept.is_dir()


@pytest.mark.parametrize("typo,line", [
    ("experiment=mi_gmn", "infocam: error: Could not find 'experiment/mi_gmn'; did you mean experiment=mi_gmm?"),
    ("trainer.max_epoch=2", "infocam: error: Could not override 'trainer.max_epoch' (trainer.max_epoch=2): no key "
                            "'max_epoch' in trainer; did you mean trainer.max_epochs or trainer.min_epochs?"),
])
def test_a_typo_gets_one_line_with_a_did_you_mean(tmp_path, typo, line):
    proc = run_cli_in_process("train", [typo, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [line]


def test_a_finished_resume_leaves_metrics_json_byte_identical(tmp_path):
    run_dir = tmp_path / "Q"
    first = run_cli_in_process("train", [*TINY, f"hydra.run.dir={run_dir}"], cwd=tmp_path, check=True)
    assert first.stdout.strip().splitlines()[-1] == f"infocam: outputs in {run_dir}: metrics.json, checkpoints/"
    metrics, record = (run_dir / "metrics.json").read_bytes(), (run_dir / ".hydra" / "overrides.yaml").read_bytes()
    again = run_cli_in_process("train", [*TINY, f"hydra.run.dir={run_dir}", "ckpt_path=last"], cwd=tmp_path, check=True)
    assert f"infocam: {run_dir} holds a finished run: left as it is, metrics.json unchanged" in again.stdout
    assert (run_dir / "metrics.json").read_bytes() == metrics
    assert (run_dir / ".hydra" / "overrides.yaml").read_bytes() == record


@pytest.mark.slow
def test_a_resumed_multirun_keeps_its_finished_cells_seconds(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *TINY, "data.dim=1,2", f"hydra.sweep.dir={sweep}"]
    run_cli_in_process("train", args, cwd=tmp_path, check=True)
    before = [(sweep / str(k) / "metrics.json").read_bytes() for k in range(2)]
    run_cli_in_process("train", [*args, "ckpt_path=last"], cwd=tmp_path, check=True)
    assert [(sweep / str(k) / "metrics.json").read_bytes() for k in range(2)] == before


@pytest.fixture(scope="module")
def wsol_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wsol")
    run_cli_in_process("train", [*WSOL, f"hydra.run.dir={root / 'run'}"], cwd=root, check=True)
    return root


@pytest.mark.slow
def test_eval_overrides_the_checkpoints_own_groups_without_naming_them(wsol_run):
    ckpt = wsol_run / "run" / "checkpoints" / "last.ckpt"
    out = wsol_run / "eval"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proc = run_cli_in_process("eval", [f"ckpt_path={ckpt}", "data.num_test=8", "cam.region_size=3",
                                           "localization.curve_thresholds=5", "localization.num_overlays=0",
                                           "trainer.enable_progress_bar=false", f"hydra.run.dir={out}"], cwd=wsol_run)
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["cam"]["region_size"] == 3 and config["data"]["num_test"] == 8
    assert config["data"]["num_workers"] == 1  # the recipe's, not data/synthetic_loc.yaml's 0
    assert not [w for w in caught if "LeafSpec" in str(w.message)]
    assert "LeafSpec" not in proc.stderr
    assert re.fullmatch(rf"infocam: outputs in {re.escape(str(out))}: metrics.json, .*reports/.*",
                        proc.stdout.strip().splitlines()[-1])
