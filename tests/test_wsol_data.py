"""Synthetic localisation data and the WSOL configs (compose + instantiate, no training)."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from infocam.data.synthetic_loc import SyntheticLocalizationDataModule, generate, tight_boxes
from infocam.errors import ConfigError
from infocam.tasks.wsol import WSOLModule


def test_generation_is_seeded_and_boxes_are_tight():
    a = generate(40, 4, 32, torch.Generator().manual_seed(7))
    b = generate(40, 4, 32, torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    images, labels, boxes, counts, masks = a
    assert images.shape == (40, 3, 32, 32) and boxes.shape == (40, 2, 4) and masks.shape == (40, 32, 32)
    assert set(counts.tolist()) <= {1, 2}
    for i in range(40):
        real = boxes[i, : counts[i]]
        assert (real[:, 2] > real[:, 0]).all() and (real[:, 3] > real[:, 1]).all()
        assert (boxes[i, counts[i] :] == 0).all()  # padding rows
    one = counts == 1
    torch.testing.assert_close(tight_boxes(masks[one]), boxes[one, 0])  # one object: box of the mask


def test_tight_boxes_convention():
    m = torch.zeros(2, 6, 8, dtype=torch.bool)
    m[0, 1:3, 2:7] = True
    assert tight_boxes(m).tolist() == [[2, 1, 7, 3], [0, 0, 0, 0]]


def test_datamodule_batches_carry_boxes_counts_and_masks():
    dm = SyntheticLocalizationDataModule(num_classes=3, image_size=32, num_train=20, num_val=8, num_test=9, eval_batch_size=4)
    dm.setup("test")
    batches = list(dm.test_dataloader())
    assert [len(b[0]) for b in batches] == [4, 4, 1]
    images, labels, boxes, counts, masks = batches[0]
    assert boxes.shape == (4, 2, 4) and counts.shape == (4,) and masks.dtype == torch.bool
    assert dm.train_class_counts.sum() == 20
    with pytest.raises(ConfigError, match="num_classes"):
        SyntheticLocalizationDataModule(num_classes=9)


@pytest.mark.parametrize("cam", ["cam", "infocam", "infocam_plus", "gradcam"])
def test_experiment_composes_with_every_cam(make_cfg, cam):
    cfg = make_cfg(["experiment=wsol_synthetic", f"cam={cam}"])
    task = instantiate(cfg.task)
    assert isinstance(task, WSOLModule) and task.cam_method.name == cam
    eval_cfg = make_cfg([f"cam={cam}", "cam.region_size=3", "ckpt_path=x.ckpt"], config_name="eval")
    assert eval_cfg.cam.region_size == 3 and eval_cfg.localization.threshold == 0.2


def test_a_model_without_gap_head_asked_for_cam_is_a_config_error(make_cfg):
    cfg = make_cfg(["experiment=wsol_synthetic", "model=gap_cnn", "cam=infocam"])
    task_cfg = dict(cfg.task)
    with pytest.raises(ConfigError, match="use cam=gradcam"):
        WSOLModule(
            model={"name": "flat_cnn", "image_size": 64},
            loss=task_cfg["loss"],
            optimizer=task_cfg["optimizer"],
            num_classes=4,
            cam={"name": "infocam"},
        )
