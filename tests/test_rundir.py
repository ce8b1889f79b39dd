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
    import infocam.runtime.configs  # noqa: F401  (registers ${run_suffix:})

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
