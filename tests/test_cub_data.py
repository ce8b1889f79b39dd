"""CUB-200-2011 from the archive layout: parsing, samples with boxes, splits, bad inputs."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import REPO_ROOT
from fixtures.classification import make_cub
from omegaconf import OmegaConf

from infocam.data.cub import CUBDataModule
from infocam.data.formats.cub import read_cub
from infocam.errors import ConfigError, DataError

OPTIONS = {"balanced": None, "unbalanced": {"name": "drop_fraction_of_classes", "fraction": 0.5, "class_fraction": 0.5}}


def datamodule(root, **kwargs):
    kwargs = {"image_size": 32, "num_workers": 0, "num_classes": 4, "balance_options": OPTIONS, **kwargs}
    dm = CUBDataModule(str(root), **kwargs)
    dm.setup("fit")
    return dm


def test_read_cub_parses_every_file(tmp_path):
    make_cub(tmp_path)
    items, classes = read_cub(tmp_path)
    assert classes == [f"{c:03d}.Bird_{c}" for c in range(1, 5)]
    assert len(items) == 40 and [i.image_id for i in items] == list(range(1, 41))
    assert items[0].label == 0 and items[-1].label == 3
    assert sum(i.is_train for i in items) == 24
    assert items[0].box == (8.0, 4.0, 16.0, 12.0)
    assert items[0].path == tmp_path / "CUB_200_2011" / "images" / "001.Bird_1" / "Bird_1_0000.jpg"


def test_sample_format_and_boxes_follow_the_resize(tmp_path):
    make_cub(tmp_path, size=(48, 32))
    dm = datamodule(tmp_path, image_size=32)
    sample = dm.splits["test"][0]
    assert sample["image"].shape == (3, 32, 32) and sample["image"].dtype == torch.float32
    assert sample["orig_size"].tolist() == [32, 48]
    # box (x=8, y=4, w=16, h=12) in a 48x32 image, resized to 32x32: x scales by 32/48
    expected = torch.tensor([[8 * 32 / 48, 4.0, 24 * 32 / 48, 16.0]])
    assert torch.allclose(sample["boxes"], expected, atol=1e-4)
    batch = next(iter(dm.test_dataloader()))
    assert batch["image"].shape[1:] == (3, 32, 32) and batch["boxes"].shape[1:] == (1, 4)
    assert batch["label"].dtype == torch.int64


def test_training_boxes_stay_inside_the_crop(tmp_path):
    make_cub(tmp_path)
    dataset = datamodule(tmp_path).splits["train"]
    torch.manual_seed(0)
    for k in range(len(dataset)):
        boxes = dataset[k]["boxes"]
        assert boxes.shape == (1, 4) and (boxes >= 0).all() and (boxes <= 32).all()


def test_splits_val_and_test_halves(tmp_path):
    make_cub(tmp_path)
    dm = datamodule(tmp_path, val_fraction=0.5)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 24, "val": 8, "test": 8}
    val_ids = {i.image_id for i in dm.splits["val"].items}
    test_ids = {i.image_id for i in dm.splits["test"].items}
    assert not val_ids & test_ids
    same = datamodule(tmp_path, val_fraction=0)
    assert same.splits["val"].items == same.splits["test"].items and len(same.splits["test"]) == 16


def test_unbalanced_halves_half_of_the_classes_and_records_them(tmp_path):
    make_cub(tmp_path, train_per_class=(6, 7, 6, 6))
    summary = tmp_path / "run" / "data_summary.json"
    dm = datamodule(tmp_path, balance="unbalanced", seed=5, summary_path=str(summary))
    recorded = json.loads(summary.read_text())
    reduced = recorded["reduced_classes"]
    assert len(reduced) == 2
    full = [6, 7, 6, 6]
    expected = [n - n // 2 if c in reduced else n for c, n in enumerate(full)]
    assert dm.train_class_counts.tolist() == expected == recorded["train_class_counts"]
    assert len(dm.splits["test"]) + len(dm.splits["val"]) == 16  # evaluation untouched
    again = datamodule(tmp_path, balance="unbalanced", seed=5)
    assert [i.image_id for i in again.splits["train"].items] == [i.image_id for i in dm.splits["train"].items]


def _edit(tmp_path, name, transform):
    path = tmp_path / "CUB_200_2011" / name
    lines = path.read_text().splitlines()
    path.write_text("\n".join(transform(lines)) + "\n")
    return path


@pytest.mark.parametrize(
    "name, transform, needle",
    [
        ("images.txt", lambda ls: ls[:2] + [ls[2] + " extra"] + ls[3:], "images.txt:3: expected 2 fields"),
        ("bounding_boxes.txt", lambda ls: ls[:4] + ["5 1.0 2.0 3.0"] + ls[5:], "bounding_boxes.txt:5: expected 5 fields"),
        ("bounding_boxes.txt", lambda ls: ls[:1] + ["2 1.0 2.0 abc 4.0"] + ls[2:], "bounding_boxes.txt:2: bad value"),
        ("bounding_boxes.txt", lambda ls: ls[:1] + ["2 1.0 2.0 0.0 4.0"] + ls[2:], "bounding_boxes.txt:2: box"),
        ("image_class_labels.txt", lambda ls: ls + ["999 1"], "image_class_labels.txt:41: image id 999 is not in images.txt"),
        ("image_class_labels.txt", lambda ls: ls[:6] + ["7 9"] + ls[7:], "image_class_labels.txt:7: class id 9 is not in classes.txt"),
        ("train_test_split.txt", lambda ls: ls[:-1], "train_test_split.txt: no entry for image id 40"),
        ("train_test_split.txt", lambda ls: ls[:2] + ["3 2"] + ls[3:], "train_test_split.txt:3: bad value"),
        ("images.txt", lambda ls: ls + [ls[0]], "images.txt:41: duplicate id 1"),
        ("classes.txt", lambda ls: ["1 a", "3 c"], "classes.txt: class ids must be 1..2"),
    ],
)
def test_malformed_metadata_names_file_and_line(tmp_path, name, transform, needle):
    make_cub(tmp_path)
    _edit(tmp_path, name, transform)
    with pytest.raises(DataError, match=needle):
        datamodule(tmp_path)


@pytest.mark.parametrize("name", ["images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt"])
def test_missing_metadata_file_is_named(tmp_path, name):
    make_cub(tmp_path)
    (tmp_path / "CUB_200_2011" / name).unlink()
    with pytest.raises(DataError, match=f"{name}: file not found"):
        datamodule(tmp_path)


def test_missing_dataset_names_the_expected_layout(tmp_path):
    with pytest.raises(DataError, match="CUB-200-2011 not found under .*CUB_200_2011/ with images.txt"):
        datamodule(tmp_path)


def test_missing_image_is_named_in_setup(tmp_path):
    make_cub(tmp_path)
    image = tmp_path / "CUB_200_2011" / "images" / "002.Bird_2" / "Bird_2_0003.jpg"
    image.unlink()
    with pytest.raises(DataError, match=f"{image}: image id 14 listed in images.txt does not exist"):
        datamodule(tmp_path)


def test_corrupt_image_fails_in_setup_naming_the_file(tmp_path):
    make_cub(tmp_path)
    image = tmp_path / "CUB_200_2011" / "images" / "003.Bird_3" / "Bird_3_0001.jpg"
    image.write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError, match=f"{image}: not a readable image"):
        datamodule(tmp_path)


def test_truncated_image_fails_on_decode_naming_the_file(tmp_path):
    make_cub(tmp_path)
    image = tmp_path / "CUB_200_2011" / "images" / "001.Bird_1" / "Bird_1_0000.jpg"
    image.write_bytes(image.read_bytes()[:300])  # header intact, pixels cut
    dm = datamodule(tmp_path, verify_images=False)  # the lazy decode path in __getitem__
    with pytest.raises(DataError, match=f"{image}: cannot decode image id 1"):
        dm.splits["train"][0]


def _paint_objects(root):
    """Rewrite every CUB fixture image as a dark picture whose object fills its box (8, 4, 24, 16)."""
    from fixtures.wsol import boxed_picture

    for k, path in enumerate(sorted((root / "CUB_200_2011" / "images").rglob("*.jpg"))):
        boxed_picture((48, 32), (8, 4, 24, 16), seed=k).save(path, quality=95)


@pytest.mark.parametrize(
    "train_transform, eval_transform",
    [("resize_random_crop", "resize"), ("random_resized_crop", "resize_center_crop")],
)
def test_boxes_follow_the_object_through_every_transform(tmp_path, train_transform, eval_transform):
    from test_tiny_imagenet_data import bright_box

    make_cub(tmp_path, size=(48, 32))
    _paint_objects(tmp_path)
    dm = datamodule(tmp_path, image_size=28, train_transform=train_transform, eval_transform=eval_transform, min_crop_scale=0.6)
    torch.manual_seed(0)
    flipped = 0
    for split in ("train", "val", "test"):
        for k in range(len(dm.splits[split])):
            sample = dm.splits[split][k]
            assert sample["image"].shape == (3, 28, 28)
            box = sample["boxes"][0]
            if (box[2:] - box[:2]).prod() < 4:  # cropped (almost) away: nothing to compare
                continue
            assert torch.allclose(box, bright_box(sample["image"]), atol=1.5), (split, k, box)
            flipped += split == "train" and bool(box[0] > 28 - box[2] + 1)  # object now right of centre
    assert flipped > 0  # the random flip happened and the box went with it


def test_eval_geometry_is_selectable(tmp_path):
    make_cub(tmp_path, size=(48, 32))
    # box (8, 4, 24, 16) of a 48x32 image
    resized = datamodule(tmp_path, image_size=28, eval_transform="resize").splits["test"][0]["boxes"][0]
    assert torch.allclose(resized, torch.tensor([8 * 28 / 48, 4 * 28 / 32, 24 * 28 / 48, 16 * 28 / 32]), atol=1e-4)
    cropped = datamodule(tmp_path, image_size=28, eval_transform="resize_center_crop").splits["test"][0]["boxes"][0]
    side = round(28 * 256 / 224)  # 32: resize to 32x32, then the centre 28x28 (offset 2)
    expected = torch.tensor([8 * side / 48 - 2, 4 * side / 32 - 2, 24 * side / 48 - 2, 16 * side / 32 - 2])
    assert side == 32 and torch.allclose(cropped, expected, atol=1e-4)
    with pytest.raises(ConfigError, match="data.train_transform must be one of"):
        CUBDataModule(str(tmp_path), train_transform="flip")


def test_val_and_test_halves_partition_the_official_test_set(tmp_path):
    make_cub(tmp_path, test_per_class=(4, 6, 4, 4))
    dm = datamodule(tmp_path, seed=7)
    val = [i.image_id for i in dm.splits["val"].items]
    test = [i.image_id for i in dm.splits["test"].items]
    official = {i.image_id for i in read_cub(tmp_path)[0] if not i.is_train}
    assert not set(val) & set(test) and set(val) | set(test) == official
    assert torch.bincount(torch.tensor([i.label for i in dm.splits["val"].items])).tolist() == [2, 3, 2, 2]
    assert [i.image_id for i in datamodule(tmp_path, seed=7).splits["val"].items] == val


def test_balance_splits_all_reduces_the_same_classes_in_val_and_test(tmp_path):
    make_cub(tmp_path)
    summary = tmp_path / "run" / "data_summary.json"
    dm = datamodule(tmp_path, balance="unbalanced", balance_splits="all", seed=5, val_fraction=0.5,
                    summary_path=str(summary))
    recorded = json.loads(summary.read_text())
    reduced = recorded["reduced_classes"]
    # 6 training, 2 val and 2 test images per class; the reduced classes lose half of each
    assert recorded["class_counts"] == {
        split: [n // 2 if c in reduced else n for c in range(4)] for split, n in (("train", 6), ("val", 2), ("test", 2))
    } and len(reduced) == 2
    assert not {i.image_id for i in dm.splits["val"].items} & {i.image_id for i in dm.splits["test"].items}
    same = datamodule(tmp_path, balance="unbalanced", balance_splits="all", seed=5, val_fraction=0)
    assert same.splits["val"].items == same.splits["test"].items and len(same.splits["test"]) == 12  # 4+4+2+2


def test_authors_splits_reproduce_the_released_code(tmp_path):
    """The authors entry of conf/data/cub.yaml on a fixture with 12 training and 20 test images per
    class: even labels keep their first 10 / 5, odd ones all 12 / the first 15, in images.txt order."""
    options = OmegaConf.to_container(OmegaConf.load(REPO_ROOT / "conf" / "data" / "cub.yaml").balance_options)
    make_cub(tmp_path, train_per_class=(12,) * 4, test_per_class=(20,) * 4, size=(16, 16))
    summary = tmp_path / "run" / "data_summary.json"
    dm = datamodule(tmp_path, balance="authors", balance_options=options, verify_images=False,
                    summary_path=str(summary))
    items, _ = read_cub(tmp_path)  # images.txt order

    def first(is_train, label, start, count):
        ids = [i.image_id for i in items if i.is_train == is_train and i.label == label]
        return ids[start:start + count]

    ids = {split: sorted(i.image_id for i in dm.splits[split].items) for split in ("train", "val", "test")}
    assert ids["train"] == sorted(i for c in range(4) for i in first(True, c, 0, 10 if c % 2 == 0 else 12))
    assert ids["test"] == sorted(i for c in range(4) for i in first(False, c, 0, 5 if c % 2 == 0 else 15))
    # validation: the test images left out, by the test rule (the next 5 / the remaining 5)
    assert ids["val"] == sorted(i for c in range(4) for i in first(False, c, 5 if c % 2 == 0 else 15, 5))
    recorded = json.loads(summary.read_text())
    assert recorded["class_counts"] == {"train": [10, 12, 10, 12], "val": [5, 5, 5, 5], "test": [5, 15, 5, 15]}
    assert recorded["balance"] == "authors" and recorded["balance_splits"] == "all"
