"""Tiny-ImageNet from the official tiny-imagenet-200 layout: parsing (corner boxes), RGB
conversion, boxes through the transforms, disjoint val/test halves, bad inputs named by file:line."""

from __future__ import annotations

import pytest
import torch
from fixtures.wsol import make_tiny_imagenet

from infocam.data.boxed_images import IMAGENET_MEAN, IMAGENET_STD
from infocam.data.formats.tiny_imagenet import read_tiny_imagenet
from infocam.data.tiny_imagenet import TinyImageNetDataModule
from infocam.errors import ConfigError, DataError

WNIDS = ("n01443537", "n01629819", "n01641577")


def datamodule(root, **kwargs):
    kwargs = {"num_workers": 0, "num_classes": 3, "batch_size": 4, "eval_batch_size": 4, **kwargs}
    dm = TinyImageNetDataModule(str(root), **kwargs)
    dm.setup("fit")
    return dm


def bright_box(image: torch.Tensor) -> torch.Tensor:
    """Tight (x0, y0, x1, y1), x1/y1 exclusive, of the pixels brighter than mid-grey."""
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    bright = (image * std + mean).mean(0) > 0.5
    rows, cols = bright.any(1).nonzero().flatten(), bright.any(0).nonzero().flatten()
    return torch.tensor([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=torch.float32)


def test_reads_corners_as_corners_and_labels_by_wnid_order(tmp_path):
    make_tiny_imagenet(tmp_path)
    train, val, wnids = read_tiny_imagenet(tmp_path)
    assert wnids == list(WNIDS)
    assert len(train) == 12 and len(val) == 12
    first = train[0]
    assert first.path.name == "n01443537_0.JPEG" and first.label == 0
    # file line "n01443537_0.JPEG\t8\t4\t31\t35": inclusive corners -> exclusive edges 32, 36
    assert first.boxes == ((8.0, 4.0, 32.0, 36.0),)
    assert val[5].label == 1 and val[5].boxes == ((10.0, 13.0, 51.0, 42.0),)
    assert len({i.image_id for i in train + val}) == 24


def test_samples_are_rgb_dicts_whose_box_covers_the_object(tmp_path):
    make_tiny_imagenet(tmp_path)
    dm = datamodule(tmp_path)
    gray = next(i for i, item in enumerate(dm.splits["train"].items) if item.path.name == "n01443537_0.JPEG")
    sample = dm.splits["train"][gray]  # the grayscale file
    assert sample["image"].shape == (3, 64, 64) and sample["orig_size"].tolist() == [64, 64]
    assert set(sample) == {"image", "label", "boxes", "orig_size", "image_id"}
    for split in ("train", "val", "test"):
        torch.manual_seed(0)
        for k in range(len(dm.splits[split])):
            sample = dm.splits[split][k]
            assert sample["boxes"].shape == (1, 4)
            assert torch.allclose(sample["boxes"][0], bright_box(sample["image"]), atol=1.5)
    batch = next(iter(dm.test_dataloader()))
    assert batch["image"].shape == (4, 3, 64, 64) and batch["boxes"].shape == (4, 1, 4)


def test_val_and_test_halves_are_disjoint_balanced_and_seeded(tmp_path):
    make_tiny_imagenet(tmp_path)
    dm = datamodule(tmp_path, seed=3)
    val = [i.image_id for i in dm.splits["val"].items]
    test = [i.image_id for i in dm.splits["test"].items]
    official = {i.image_id for i in read_tiny_imagenet(tmp_path)[1]}
    assert not set(val) & set(test) and set(val) | set(test) == official
    assert torch.bincount(torch.tensor([i.label for i in dm.splits["val"].items])).tolist() == [2, 2, 2]
    assert [i.image_id for i in datamodule(tmp_path, seed=3).splits["val"].items] == val
    assert [i.image_id for i in datamodule(tmp_path, seed=4).splits["val"].items] != val or len(val) < 2


def _rewrite(path, transform):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(transform(lines)) + "\n")


@pytest.mark.parametrize(
    "relative, transform, needle",
    [
        ("train/n01629819/n01629819_boxes.txt", lambda ls: ls[:1] + ["n01629819_1.JPEG\t8\t4\t31"] + ls[2:],
         r"n01629819_boxes.txt:2: expected 5 fields"),
        ("train/n01629819/n01629819_boxes.txt", lambda ls: ls[:2] + ["n01629819_2.JPEG\t8\tfour\t31\t35"] + ls[3:],
         r"n01629819_boxes.txt:3: box corners must be numbers"),
        ("train/n01629819/n01629819_boxes.txt", lambda ls: ls[:2] + ["n01629819_2.JPEG\t30\t4\t10\t35"] + ls[3:],
         r"n01629819_boxes.txt:3: box corners need 0 <= x0 <= x1"),
        ("train/n01629819/n01629819_boxes.txt", lambda ls: ls + ["missing.JPEG\t1\t1\t5\t5"],
         r"n01629819_boxes.txt:5: image .*missing.JPEG does not exist"),
        ("val/val_annotations.txt", lambda ls: ls[:3] + ["val_3.JPEG\tn99999999\t10\t12\t50\t40"] + ls[4:],
         r"val_annotations.txt:4: unknown wnid 'n99999999'"),
        ("val/val_annotations.txt", lambda ls: ls[:6] + ["val_6.JPEG\tn01629819\t10\t12\t50"] + ls[7:],
         r"val_annotations.txt:7: expected 6 fields"),
        ("wnids.txt", lambda ls: ls + [ls[0]], r"wnids.txt:4: duplicate wnid n01443537"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, relative, transform, needle):
    make_tiny_imagenet(tmp_path)
    _rewrite(tmp_path / "tiny-imagenet-200" / relative, transform)
    with pytest.raises(DataError, match=needle):
        datamodule(tmp_path)


def test_missing_layout_and_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="Tiny-ImageNet not found under .*tiny-imagenet-200/ with wnids.txt"):
        datamodule(tmp_path)
    make_tiny_imagenet(tmp_path)
    with pytest.raises(DataError, match="wnids.txt: 3 classes, data.num_classes is 200"):
        datamodule(tmp_path, num_classes=200)
    (tmp_path / "tiny-imagenet-200" / "val" / "images" / "val_0.JPEG").unlink()
    with pytest.raises(DataError, match=r"val_annotations.txt:1: image .*val_0.JPEG does not exist"):
        datamodule(tmp_path)
    with pytest.raises(ConfigError, match="data.eval_transform must be one of resize, resize_center_crop"):
        TinyImageNetDataModule(str(tmp_path), eval_transform="crop")
