"""Checkpoint/resume after SIGKILL, and DDP test metrics equal to one process."""

import json
import signal
from pathlib import Path

import pytest

from infocam.run import evaluate, train
from conftest import QUIET, run_cli

TINY = ["experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=2000", "data.eval_batch_size=64",
        "model.hidden_dims=[32,32]", *QUIET]


def _test_metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k.startswith("test/")}


@pytest.mark.slow
def test_sigkill_then_resume_gives_uninterrupted_metrics(tmp_path):
    # 1080 training samples / batch 32 = 34 steps per epoch; the crash comes mid-epoch 2
    args = ["experiment=mi_gmm", "data.size_scale=0.03", "data.batch_size=32", "data.mc_samples=2000",
            "model.hidden_dims=[64,64,64]", "trainer.max_epochs=3", "callbacks.early_stopping.patience=100", *QUIET]
    run_cli("train", [*args, f"hydra.run.dir={tmp_path / 'uninterrupted'}"], cwd=tmp_path, check=True)

    run_dir = tmp_path / "interrupted"
    killer = ["+callbacks.killer._target_=tests.helpers.SigkillAtStep", "+callbacks.killer.step=50"]
    crashed = run_cli("train", [*args, *killer, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert crashed.returncode == -signal.SIGKILL
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert not (run_dir / "metrics.json").exists()

    resumed = run_cli("train", [*args, f"hydra.run.dir={run_dir}", "ckpt_path=last"], cwd=tmp_path, check=True)
    assert "Restoring states from the checkpoint" in resumed.stdout + resumed.stderr
    assert _test_metrics(run_dir / "metrics.json") == _test_metrics(tmp_path / "uninterrupted" / "metrics.json")


@pytest.mark.slow
def test_ddp_test_metrics_equal_single_process(make_cfg, tmp_path):
    train_cfg = make_cfg([*TINY, "trainer.max_epochs=1"], output_dir=tmp_path / "train")
    train(train_cfg)
    ckpt = next((tmp_path / "train" / "checkpoints").glob("epoch_*.ckpt"))

    single = evaluate(make_cfg([*TINY, f"ckpt_path={ckpt}", "trainer=cpu"], "eval", tmp_path / "single"))
    ddp = evaluate(make_cfg([*TINY, f"ckpt_path={ckpt}", "trainer=ddp_cpu"], "eval", tmp_path / "ddp"))

    # 600 test samples, 2 ranks x 64 per batch: a padding sampler would score 640
    assert single["test/num_samples"] == ddp["test/num_samples"] == 600
    assert ddp["test/acc"] == single["test/acc"]
    assert ddp["test/mi_estimate"] == pytest.approx(single["test/mi_estimate"], abs=1e-6)
    assert ddp["test/loss"] == pytest.approx(single["test/loss"], abs=1e-6)


@pytest.mark.slow
def test_ddp_cli_subprocess_writes_one_run_dir(tmp_path):
    """strategy=ddp relaunches the script per rank; only rank 0 writes, into one run dir."""
    run_dir = tmp_path / "ddp_run"
    proc = run_cli("train", [*TINY, "trainer=ddp_cpu", "trainer.strategy=ddp", "trainer.max_epochs=1",
                             f"hydra.run.dir={run_dir}"], cwd=tmp_path, check=True)
    assert proc.returncode == 0
    assert list(tmp_path.rglob("metrics.json")) == [run_dir / "metrics.json"]
    assert _test_metrics(run_dir / "metrics.json")["test/num_samples"] == 600
