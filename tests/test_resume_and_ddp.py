"""Checkpoint/resume after SIGKILL, and DDP test metrics equal to one process."""

import json
import signal
from pathlib import Path

import pytest

from infocam.runtime.checkpoints import load_checkpoint
from infocam.run import evaluate, train
from fixtures.classification import make_cub
from conftest import QUIET, run_cli

TINY = ["experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=2000", "data.eval_batch_size=64",
        "model.hidden_dims=[32,32]", *QUIET]


def _test_metrics(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k.startswith("test/")}


def _all_metrics(path: Path) -> dict:
    """The whole metrics.json but the wall time."""
    return {k: v for k, v in json.loads(path.read_text()).items() if k != "seconds"}


# Each case: 3 epochs; the kill comes in the second epoch, so the resume starts from last.ckpt
# written at the end of the first one and must redo the rest exactly.
RESUME_CASES = {
    # MINE shuffles labels with the global torch generator in every step
    "mi_mine": (["experiment=mi_gmm", "loss=mine", "data.size_scale=0.02", "data.batch_size=64",
                 "data.mc_samples=1000", "model.hidden_dims=[16,16]"], 17),  # 720 samples: 12 steps/epoch
    # random resized crops and flips drawn in 2 DataLoader workers
    "cub_augmented": (["experiment=cub", "data.num_classes=4", "data.image_size=24", "data.num_workers=2",
                       "data.batch_size=8", "data.eval_batch_size=16", "data.val_fraction=0.5",
                       "model=gap_cnn", "model.channels=[8]", "task.optimizer.lr=0.05"], 4),  # 24 images: 3 steps/epoch
    "wsol": (["experiment=wsol_synthetic", "data.num_train=64", "data.num_val=16", "data.num_test=24",
              "data.image_size=32", "data.batch_size=16", "data.eval_batch_size=24", "model.channels=[8,16]"], 6),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_sigkill_then_resume_gives_uninterrupted_metrics(tmp_path, case):
    from concurrent.futures import ThreadPoolExecutor

    overrides, kill_step = RESUME_CASES[case]
    if case == "cub_augmented":
        make_cub(tmp_path / "data")
        overrides = [*overrides, f"data.root={tmp_path / 'data'}"]
    args = [*overrides, "trainer.max_epochs=3", "callbacks.early_stopping.patience=100", *QUIET]
    run_dir = tmp_path / "interrupted"
    killer = ["+callbacks.killer._target_=tests.fixtures.callbacks.SigkillAtStep", f"+callbacks.killer.step={kill_step}"]
    with ThreadPoolExecutor(2) as pool:  # the two first runs are independent
        whole = pool.submit(run_cli, "train", [*args, f"hydra.run.dir={tmp_path / 'uninterrupted'}"], tmp_path, check=True)
        crashed = pool.submit(run_cli, "train", [*args, *killer, f"hydra.run.dir={run_dir}"], tmp_path).result()
        whole.result()
    assert crashed.returncode == -signal.SIGKILL
    last = run_dir / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["epoch"] == 0  # the end of the first epoch, the last one completed
    assert not (run_dir / "metrics.json").exists()
    stale = run_dir / "checkpoints" / ".last.ckpt.99999.tmp"
    stale.write_bytes(b"half a checkpoint")  # what a kill during a save leaves behind

    resumed = run_cli("train", [*args, f"hydra.run.dir={run_dir}", "ckpt_path=last"], cwd=tmp_path, check=True)
    assert "Restoring states from the checkpoint" in resumed.stdout + resumed.stderr
    assert not stale.exists()
    assert _all_metrics(run_dir / "metrics.json") == _all_metrics(tmp_path / "uninterrupted" / "metrics.json")


def test_last_checkpoint_is_the_last_epoch_even_without_improvement(make_cfg, tmp_path):
    """lr=0: val/loss never improves after epoch 0, yet last.ckpt must hold the final epoch."""
    cfg = make_cfg([*TINY, "data.size_scale=0.01", "trainer.max_epochs=2", "task.optimizer.lr=0.0",
                    "callbacks.early_stopping.patience=100"], output_dir=tmp_path / "run")
    train(cfg)
    checkpoints = tmp_path / "run" / "checkpoints"
    assert load_checkpoint(checkpoints / "last.ckpt")["epoch"] == 1
    assert [p.name for p in checkpoints.glob("epoch_*.ckpt")] == ["epoch_000.ckpt"]  # the best is kept apart


@pytest.mark.slow
def test_ddp_test_metrics_equal_single_process(make_cfg, tmp_path):
    train_cfg = make_cfg([*TINY, "trainer.max_epochs=1"], output_dir=tmp_path / "train")
    train(train_cfg)
    ckpt = next((tmp_path / "train" / "checkpoints").glob("epoch_*.ckpt"))

    single = evaluate(make_cfg([*TINY, f"ckpt_path={ckpt}", "trainer=cpu"], "eval", tmp_path / "single"))
    ddp = evaluate(make_cfg([*TINY, f"ckpt_path={ckpt}", "trainer=ddp_cpu", "trainer.strategy=ddp_fork"], "eval", tmp_path / "ddp"))

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
