"""Run directories: a busy or finished directory is refused, runs started in the same second
get their own directories."""

from __future__ import annotations

import os

import pytest
from conftest import QUIET, REPO_ROOT
from omegaconf import OmegaConf

from infocam.errors import ConfigError
from infocam.run import train
from infocam.runtime.rundir import lock_run_dir

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




# -- 3. run directories --------------------------------------------------------------------
def test_a_run_into_a_locked_directory_is_refused_naming_the_holder(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with lock_run_dir(run_dir):
        with pytest.raises(ConfigError, match=rf"{run_dir} is in use by pid {os.getpid()} on "):
            train(make_cfg(NOTHING, output_dir=run_dir))
    train(make_cfg(NOTHING, output_dir=run_dir))  # free again once the holder ends
    assert (run_dir / "metrics.json").is_file()


def test_a_finished_directory_is_refused_unless_resumed_or_overwritten(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    train(make_cfg(NOTHING, output_dir=run_dir))
    with pytest.raises(ConfigError, match="holds a finished run .*ckpt_path=last.*run.overwrite=true"):
        train(make_cfg(NOTHING, output_dir=run_dir))
    train(make_cfg([*NOTHING, "run.overwrite=true"], output_dir=run_dir))


def test_two_runs_started_in_the_same_second_get_their_own_default_directories(monkeypatch):
    """The default run directory of conf/hydra/default.yaml, resolved as two processes would
    resolve it at the same clock second."""
    import infocam.runtime.shipped_conf  # noqa: F401  (registers ${run_suffix:})

    OmegaConf.register_new_resolver("now", lambda pattern: "2026-01-01_00-00-00", replace=True)
    try:
        dirs = set()
        for pid in (4242, 4243):
            monkeypatch.setattr(os, "getpid", lambda pid=pid: pid)
            cfg = OmegaConf.create({"task_name": "train", "paths": {"log_dir": "logs"},
                                    "hydra": OmegaConf.load(REPO_ROOT / "conf" / "hydra" / "default.yaml")})
            dirs.add((cfg.hydra.run.dir, cfg.hydra.sweep.dir))
    finally:
        from hydra.core.utils import setup_globals

        setup_globals()  # Hydra's own ${now:} back
    assert len(dirs) == 2
    assert ("logs/train/runs/2026-01-01_00-00-00_4242", "logs/train/multiruns/2026-01-01_00-00-00_4242") in dirs


# -- 4. errors that used to escape as tracebacks -------------------------------------------


# -- issue 21, item 3: a refused run leaves the owner's .hydra record alone -----------------------
def test_a_refused_train_leaves_the_owners_hydra_record_alone(tmp_path):
    from conftest import run_cli_in_process

    run_dir = tmp_path / "R"
    run_cli_in_process("train", [*NOTHING, f"hydra.run.dir={run_dir}"], cwd=tmp_path, check=True)
    record = {name: (run_dir / ".hydra" / name).read_text() for name in ("config.yaml", "hydra.yaml", "overrides.yaml")}
    assert "seed=7" not in record["overrides.yaml"] and "experiment=mi_gmm" in record["overrides.yaml"]
    refused = run_cli_in_process("train", [*NOTHING, "seed=7", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert refused.returncode == 1 and "holds a finished run" in refused.stderr
    assert {name: (run_dir / ".hydra" / name).read_text() for name in record} == record
    assert not (run_dir / "error.txt").exists()


def test_a_refused_eval_writes_nothing_into_the_directory_in_use(tmp_path):
    from conftest import run_cli_in_process

    run_dir = tmp_path / "R"
    run_dir.mkdir()
    ckpt = tmp_path / "x.ckpt"
    ckpt.write_bytes(b"never read: the directory is refused first")
    with lock_run_dir(run_dir):
        before = sorted(p.name for p in run_dir.iterdir())
        refused = run_cli_in_process("eval", [f"ckpt_path={ckpt}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert refused.returncode == 1 and "is in use by" in refused.stderr
        assert sorted(p.name for p in run_dir.iterdir()) == before  # no .hydra/, no config.yaml


def test_a_refused_multirun_cell_writes_no_error_into_the_directory_it_may_not_use(tmp_path):
    from conftest import run_cli_in_process

    sweep = tmp_path / "S"
    (sweep / "0").mkdir(parents=True)
    with lock_run_dir(sweep / "0"):
        proc = run_cli_in_process("train", ["-m", *NOTHING, "seed=1", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
        assert proc.returncode == 1 and "is in use by" in proc.stderr
        assert sorted(p.name for p in (sweep / "0").iterdir()) == [".infocam.lock"]
