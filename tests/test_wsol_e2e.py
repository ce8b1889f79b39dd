"""WSOL end to end through the CLI: tiny train, eval with another CAM, DDP = one process, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import run_cli, run_cli_in_process
from infocam.localization.per_image_file import load_per_image

pytestmark = pytest.mark.slow

# 101 test images in batches of 16: not divisible by 2 x batch, so DDP shards are uneven
DATA = ["data=synthetic_loc", "data.num_train=160", "data.num_val=32", "data.num_test=101", "data.eval_batch_size=16"]
QUIET = ["trainer.enable_progress_bar=false", "logger=none"]
LOC_KEYS = ("test/gt_known_loc", "test/top1_loc", "test/top1_cls", "test/maxboxacc_v2")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wsol")
    run_cli_in_process(
        "train",
        ["experiment=wsol_synthetic", *DATA, "model.channels=[8,16]", "trainer.max_epochs=1", "callbacks=quiet",
         *QUIET, f"hydra.run.dir={root / 'train'}"],
        cwd=root,
        check=True,
    )
    return root


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_train_writes_localisation_metrics_and_overlays(trained):
    metrics = read(trained / "train" / "metrics.json")
    for key in LOC_KEYS:
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test/num_images"] == 101
    assert -1.0 <= metrics["test/cam_infocam_map_corr"] <= 1.0  # issue 20 item 5's diagnostics
    assert metrics["test/class_weight_sum_ratio"] >= 0.0
    assert (trained / "train" / "overlays" / "wsol_overlays.png").stat().st_size > 10_000


def test_eval_with_infocam_plus_writes_metrics_reports_overlays_and_ddp_agrees(trained):
    ckpt = trained / "train" / "checkpoints" / "last.ckpt"
    args = [f"ckpt_path={ckpt}", *DATA, "cam=infocam_plus", "cam.region_size=5", "localization.curve_thresholds=20", *QUIET]
    run_cli_in_process("eval", [*args, f"hydra.run.dir={trained / 'evals' / 'one'}"], cwd=trained, check=True)
    run_cli("eval", [*args, "trainer=ddp_cpu", "trainer.strategy=ddp_fork", f"hydra.run.dir={trained / 'evals' / 'ddp'}"], cwd=trained, check=True)
    one = read(trained / "evals" / "one" / "metrics.json")
    ddp = read(trained / "evals" / "ddp" / "metrics.json")
    for key in (*LOC_KEYS, "test/pxap"):  # synthetic_loc carries masks
        assert key in one
    one.pop("seconds"), ddp.pop("seconds")
    assert one == ddp  # exact hit counts: every image on exactly one rank, summed states
    assert one["test/num_images"] == 101
    single, shards = load_per_image(trained / "evals" / "one"), load_per_image(trained / "evals" / "ddp")
    assert len(single["ids"]) == len(shards["ids"]) == 101  # per-rank files joined
    assert single["gt_known_hit"].sum() == shards["gt_known_hit"].sum() == round(101 * one["test/gt_known_loc"])
    run_dir = trained / "evals" / "one"
    table = (run_dir / "reports" / "wsol_eval.md").read_text()
    assert "| infocam_plus | 5 | same | least likely |" in table
    assert f"{100 * one['test/gt_known_loc']:.2f}" in table
    assert (run_dir / "reports" / "wsol_eval.csv").read_text().startswith("cam,region_size,")
    assert (run_dir / "overlays" / "wsol_overlays.png").is_file()
    # one table over several eval runs
    run_cli_in_process("report", ["kind=wsol", f"sweep_dir={trained / 'evals'}", f"out_dir={trained / 'table'}"], cwd=trained, check=True)
    rows = (trained / "table" / "wsol_eval.csv").read_text().strip().splitlines()
    assert len(rows) == 3


def test_report_pairs_an_infocam_eval_with_the_cam_eval_of_the_same_checkpoint(trained):
    ckpt = trained / "train" / "checkpoints" / "last.ckpt"
    sweep = trained / "paired"
    for name, cam in (("cam", ["cam=cam"]), ("info", ["cam=infocam", "cam.region_size=3"])):
        run_cli_in_process("eval", [f"ckpt_path={ckpt}", *DATA, *cam, "localization.curve_thresholds=20", *QUIET,
                                    f"hydra.run.dir={sweep / name}"], cwd=trained, check=True)
    metrics = read(sweep / "info" / "metrics.json")
    assert -1.0 <= metrics["test/cam_infocam_map_corr"] <= 1.0
    run_cli_in_process("report", ["kind=wsol", f"sweep_dir={sweep}", f"out_dir={sweep / 'table'}"], cwd=trained, check=True)
    paired = (sweep / "table" / "wsol_eval_paired.csv").read_text().splitlines()
    assert len(paired) == 2 and ",infocam,3,same,mean,101," in paired[1]
    md = (sweep / "table" / "wsol_eval.md").read_text()
    assert "### Against CAM on the same checkpoint" in md and "| infocam | 3 | same | mean | 101 |" in md


def test_bad_inputs_fail_with_clear_errors(trained, make_cfg):
    from infocam.errors import ConfigError, DataError
    from infocam.run import evaluate
    from infocam.tasks.wsol import WSOLModule

    ckpt = trained / "train" / "checkpoints" / "last.ckpt"
    with pytest.raises(DataError, match="needs a dataset with boxes"):
        evaluate(make_cfg([f"ckpt_path={ckpt}", "data=gmm", *QUIET], config_name="eval", output_dir=trained / "bad1"))
    with pytest.raises(ConfigError, match="unknown cam method 'camm'.*infocam_plus"):
        evaluate(make_cfg([f"ckpt_path={ckpt}", *DATA, "cam=cam", "cam.name=camm", *QUIET], config_name="eval",
                          output_dir=trained / "bad2"))
    # a checkpoint whose model has no GAP + linear head, asked for CAM: one line on the CLI
    module = WSOLModule(model={"name": "flat_cnn", "channels": [4, 8], "image_size": 64}, loss={"name": "softmax"},
                        optimizer={"_target_": "torch.optim.SGD", "lr": 0.1}, num_classes=4, cam={"name": "gradcam"})
    flat = trained / "flat.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": "2.6.6", "infocam_task": "infocam.tasks.wsol.WSOLModule"}, flat)
    no_gap = run_cli_in_process("eval", [f"ckpt_path={flat}", *DATA, "cam=cam", *QUIET, f"hydra.run.dir={trained / 'bad3'}"], cwd=trained)
    assert no_gap.returncode == 1 and "use cam=gradcam" in no_gap.stderr
    assert len(no_gap.stderr.strip().splitlines()) == 1
    # ... and Grad-CAM evaluates it
    metrics = evaluate(make_cfg([f"ckpt_path={flat}", *DATA, "cam=gradcam", "localization.curve_thresholds=10", *QUIET],
                                config_name="eval", output_dir=trained / "flat_eval"))
    assert 0.0 <= metrics["test/gt_known_loc"] <= 1.0 and metrics["test/num_images"] == 101


def test_overlays_go_to_wandb_as_images(trained, make_cfg):
    """wandb offline (no network): the overlay panels are logged as images under test/overlays."""
    from infocam.run import evaluate

    ckpt = trained / "train" / "checkpoints" / "last.ckpt"
    out = trained / "wandb_eval"
    cfg = make_cfg([f"ckpt_path={ckpt}", *DATA, "cam=infocam", "logger=wandb", "localization.curve_thresholds=5",
                    "localization.num_overlays=3", "trainer.enable_progress_bar=false"], config_name="eval", output_dir=out)
    try:
        evaluate(cfg)
    finally:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    images = list(out.rglob("media/images/test/overlays_*.png"))
    assert len(images) == 3


def test_wsolevaluation_protocol_saves_maps_that_eval_maps_scores_identically(trained, make_cfg):
    """localization.protocol=wsolevaluation logs their numbers and, with save_scoremaps, writes
    their layout; infocam-eval-maps on that layout gives the same numbers to the last digit."""
    from infocam.localization.wsoleval.saved_maps import evaluate_maps
    from infocam.run import evaluate

    ckpt = trained / "train" / "checkpoints" / "last.ckpt"
    out = trained / "wsoleval"
    metrics = evaluate(make_cfg([f"ckpt_path={ckpt}", *DATA, "localization.protocol=wsolevaluation",
                                 "localization.save_scoremaps=true", *QUIET], config_name="eval", output_dir=out))
    assert len(list((out / "scoremaps").glob("*.npy"))) == 101
    assert "test/wsoleval/pxap" in metrics and "test/maxboxacc_v2" in metrics  # both protocols side by side
    again = evaluate_maps(make_cfg([f"metadata_root={out / 'scoremaps_metadata'}", f"scoremap_root={out / 'scoremaps'}",
                                    "progress=false"], config_name="eval_maps", output_dir=trained / "maps"))
    for key in ("maxboxacc", "maxboxacc_v2", "maxboxacc_v2_iou30", "maxboxacc_v2_iou50", "maxboxacc_v2_iou70"):
        assert metrics[f"test/wsoleval/{key}"] == again[key], key
    assert again["num_images"] == 101
