"""Cluster launchers: the SLURM launcher's sbatch script, and a real multirun through submitit's
local executor with DDP inside each job (refused on Hydra's basic launcher, test_cli_errors)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import BIN_DIR, CONFIG_DIR, REPO_ROOT


def sbatch_text(overrides: list[str], tmp_path: Path, monkeypatch) -> str:
    """The sbatch script hydra/launcher=slurm would submit, built by submitit itself.

    submitit only checks that ``srun`` exists before building it; a stand-in on PATH lets it
    run here (nothing is submitted).
    """
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(parents=True)
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides],
                      return_hydra_config=True)
    params = dict(instantiate(cfg.hydra.launcher).params)
    # the same mapping as the launcher's launch(): shared names as they are, the rest slurm_*
    executor = submitit.AutoExecutor(folder=params.pop("submitit_folder"), cluster="slurm",
                                     slurm_max_num_timeout=params.pop("max_num_timeout"))
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in shared else f"slurm_{k}": v for k, v in params.items()})
    return executor._executor._make_submission_file_text("python -u -m submitit.core._submit DIR", "uid")


def test_slurm_launcher_runs_one_task_per_gpu_and_follows_the_trainer(tmp_path, monkeypatch):
    text = sbatch_text(["trainer=ddp", "trainer.num_nodes=3", "hydra.launcher.partition=a100",
                        "hydra.launcher.timeout_min=90", "hydra.launcher.mem_gb=120"], tmp_path, monkeypatch)
    for line in ("#SBATCH --gpus-per-node=2", "#SBATCH --ntasks-per-node=2", "#SBATCH --nodes=3",
                 "#SBATCH --partition=a100", "#SBATCH --time=90", "#SBATCH --mem=120GB"):
        assert line in text, line
    # four GPUs per node: the launcher follows trainer.devices
    text = sbatch_text(["trainer=ddp", "trainer.devices=4"], tmp_path / "four", monkeypatch)
    assert "#SBATCH --gpus-per-node=4" in text and "#SBATCH --ntasks-per-node=4" in text and "#SBATCH --nodes=1" in text


@pytest.mark.slow
def test_local_executor_multirun_with_ddp_in_each_job(tmp_path):
    """Two jobs in parallel, each two gloo ranks started by submitit (trainer.strategy=ddp):
    each job's checkpoints and metrics.json land in its own directory."""
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "WANDB_MODE": "disabled", "INFOCAM_ROOT": str(tmp_path),
           "OMP_NUM_THREADS": "1"}
    args = ["-m", "experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=1000", "logger=none", "callbacks=quiet",
            "trainer.enable_progress_bar=false", "trainer.max_epochs=1", "data.dim=1,2",
            "trainer=ddp_cpu", "trainer.strategy=ddp", "hydra/launcher=local", "hydra.launcher.tasks_per_node=2",
            f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run([str(BIN_DIR / "infocam-train"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from infocam.runtime.checkpoints import load_checkpoint

    for job, dim in ((0, 1), (1, 2)):
        run = sweep / str(job)
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test/num_samples"] == 600  # both ranks' shards summed: 20% of 3,000 points
        assert OmegaConf.load(run / "config.yaml").data.dim == dim
        for name in ("last.ckpt", "epoch_000.ckpt"):
            assert load_checkpoint(run / "checkpoints" / name)["hyper_parameters"]["input_dim"] == dim
    # each job ran as two ranks that submitit started, and wrote nothing outside its own directory
    logs = {p.name: p.read_text() for p in (sweep / ".submitit").rglob("*_log.err")}
    assert len(logs) == 4
    for job in (0, 1):  # both ranks log into the cell's own log file (the console of a cell is quiet)
        cell_log = (sweep / str(job) / "mi_gmm.log").read_text()
        assert "MEMBER: 1/2" in cell_log and "MEMBER: 2/2" in cell_log
    top = {p.name for p in sweep.iterdir()}
    assert top == {"0", "1", ".submitit", "multirun.yaml"}


def test_local_executor_refuses_a_task_count_that_is_not_the_device_count(monkeypatch):
    from infocam.errors import ConfigError
    from infocam.runtime.launchers import SubmititLocalEnvironment, cluster_plugins

    monkeypatch.setenv("SUBMITIT_EXECUTOR", "local")
    monkeypatch.setenv("SUBMITIT_LOCAL_NTASKS", "1")
    with pytest.raises(ConfigError, match=r"tasks_per_node=trainer.devices \(2\), got 1"):
        cluster_plugins({"strategy": "ddp", "devices": 2})
    assert cluster_plugins({"strategy": "auto", "devices": 1}) == []
    monkeypatch.setenv("SUBMITIT_LOCAL_NTASKS", "2")
    for key, value in (("SUBMITIT_LOCAL_GLOBALID", "1"), ("SUBMITIT_LOCAL_LOCALID", "1"), ("SUBMITIT_LOCAL_JOB_ID", "4242")):
        monkeypatch.setenv(key, value)
    [environment] = cluster_plugins({"strategy": "ddp", "devices": 2})
    assert isinstance(environment, SubmititLocalEnvironment)
    assert (environment.world_size(), environment.global_rank(), environment.local_rank()) == (2, 1, 1)
    assert environment.main_port == 20000 + 4242 and environment.creates_processes_externally
    with pytest.raises(ConfigError, match="use trainer.strategy=ddp"):
        cluster_plugins({"strategy": "ddp_spawn", "devices": 2})


@pytest.mark.slow
def test_failed_cells_under_the_local_launcher_exit_1_with_their_list(tmp_path):
    """Issue 21 item 4: ``-m ... data.dim=0,2 hydra/launcher=local`` exited 0, the error only in 0/error.txt."""
    from conftest import run_cli_in_process

    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "logger=none", "callbacks=quiet",
            "trainer.enable_progress_bar=false", "train=false", "test=false", "data.dim=0,2",
            "hydra/launcher=local", f"hydra.sweep.dir={sweep}"]
    proc = run_cli_in_process("train", args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = proc.stderr[proc.stderr.index("1 multirun cell(s) failed"):]
    assert f"{sweep / '0'}: " in summary and "data.dim" in summary and f"{sweep / '1'}:" not in summary
    assert (sweep / "0" / "error.txt").is_file() and (sweep / "1" / "metrics.json").is_file()
    # the finished cell's [k/N] line reaches this terminal (its own stdout is submitit's log file),
    # and the launcher's "#k : overrides" start lines are quiet as under the basic launcher
    assert re.search(r"^\[2/2\] +data\.dim=2 ", proc.stdout, re.MULTILINE), proc.stdout[-2000:]
    assert not re.search(r"#[01] : ", proc.stdout + proc.stderr)
