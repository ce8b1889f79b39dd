"""WSOL on the file-backed benchmarks end to end on CPU, with tiny sizes: experiment=wsol_cub_small
on a CUB-layout set (train, then infocam-eval of its checkpoint) and a WSOL run on a Tiny-ImageNet
fixture. Both go through the dict batches of the boxed-image datasets."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fixtures.wsol import make_tiny_imagenet

from conftest import run_cli

pytestmark = pytest.mark.slow

SMALL = ["data.image_size=32", "data.num_workers=0", "model.channels=[8,16]", "trainer.max_epochs=1",
         "localization.curve_thresholds=10", "localization.num_overlays=4"]
QUIET = ["callbacks=quiet", "trainer.enable_progress_bar=false", "logger=none"]


def test_wsol_cub_small_trains_and_infocam_eval_scores_its_checkpoint(tmp_path, make_cfg):
    from infocam.data.standins.cub_layout import write_cub_layout
    from infocam.run import train

    data = tmp_path / "data"
    write_cub_layout(data, num_images=60, seed=1, min_side=40, max_side=64)
    train_dir = tmp_path / "train"
    trained = train(make_cfg(["experiment=wsol_cub_small", f"data.root={data}", "data.num_classes=10", *SMALL, *QUIET],
                             output_dir=train_dir))
    base = data / "CUB_200_2011"
    official_test = {line.split()[0] for line in (base / "train_test_split.txt").read_text().splitlines() if line.endswith(" 0")}
    per_class = Counter(line.split()[1] for line in (base / "image_class_labels.txt").read_text().splitlines()
                        if line.split()[0] in official_test)
    assert trained["test/num_images"] == sum(n - round(n / 2) for n in per_class.values())  # the test half only
    ckpt = next((train_dir / "checkpoints").glob("epoch_*.ckpt"))
    # the README's command: resolution, classes and the val/test halves come from the checkpoint
    eval_dir = tmp_path / "eval"
    run_cli("eval", [f"ckpt_path={ckpt}", "data=cub", f"data.root={data}", "data.num_workers=0", "cam=infocam",
                     "cam.region_size=5", "localization.curve_thresholds=10", "localization.num_overlays=4",
                     "trainer.enable_progress_bar=false", f"hydra.run.dir={eval_dir}"], cwd=tmp_path, check=True)
    evaluated = json.loads((eval_dir / "metrics.json").read_text())
    for key in ("test/gt_known_loc", "test/top1_loc", "test/top1_cls", "test/top5_cls", "test/maxboxacc_v2", "test/num_images"):
        assert evaluated[key] == pytest.approx(trained[key]), key  # same checkpoint, split, resolution and CAM
    report = (eval_dir / "reports" / "wsol_eval.md").read_text()
    assert "| infocam | 5 | same | mean |" in report
    # the stand-in says what it is (issue 28): never a "CUB-200-2011" table, and its overlay grid is collected
    assert "### Table 4: localisation on CUB-layout digits stand-in (not CUB-200-2011)" in report
    assert "localisation on CUB-200-2011\n" not in report
    assert "## Overlays" in report and (eval_dir / "reports" / "wsol_eval_overlays" / "run.png").is_file()
    assert "image_size: 32" in (eval_dir / "config.yaml").read_text()


def test_wsol_on_the_tiny_imagenet_fixture(tmp_path, make_cfg):
    from infocam.run import train

    make_tiny_imagenet(tmp_path / "data")
    cfg = make_cfg(["data=tiny_imagenet", f"data.root={tmp_path / 'data'}", "data.num_classes=3", "data.batch_size=4",
                    "data.eval_batch_size=4", "model=gap_cnn", "task=wsol", "cam=infocam", "cam.region_size=3",
                    "localization=default", *SMALL, *QUIET])
    metrics = train(cfg)
    assert metrics["test/num_images"] == 6  # the test half of 12 official val images
    for key in ("test/gt_known_loc", "test/top1_loc", "test/maxboxacc_v2", "val/acc"):
        assert 0.0 <= metrics[key] <= 1.0
    assert "test/top5_cls" not in metrics  # only 3 classes
    assert (tmp_path / "overlays" / "wsol_overlays.png").is_file()
