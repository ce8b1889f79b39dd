"""Annotation paths (infocam.data.formats.paths): every path an annotation file names stays
inside its root; a line that climbs out (``..``) or is absolute is one line naming the file and
line, and nothing outside is read. (infocam-eval-maps' ids and mask paths: tests/wsoleval/test_saved_maps.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.classification import make_cub
from fixtures.wsol import make_tiny_imagenet

from infocam.data.formats.cub import read_cub
from infocam.data.formats.paths import stays_inside
from infocam.data.formats.tiny_imagenet import read_tiny_imagenet
from infocam.errors import DataError


@pytest.mark.parametrize("relpath,ok", [
    ("a/b.jpg", True), ("./a/../b.jpg", True), ("a..b/c", True),
    ("../x", False), ("a/../../x", False), ("..", False), ("/etc/passwd", False), ("", False),
    ("C:/x", False), ("..\\x", False), ("a\x00b", False),
])
def test_stays_inside(relpath, ok):
    assert stays_inside(relpath) is ok


def _plant_secret(tmp_path: Path, source: Path) -> Path:
    """A readable image outside the dataset root: what a climbing line would train on."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(source, outside / "secret.JPEG")
    return outside / "secret.JPEG"


def _replace_line(path: Path, number: int, line: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = line
    path.write_text("\n".join(lines) + "\n")


def test_tiny_imagenet_val_image_outside_root(tmp_path):
    root = make_tiny_imagenet(tmp_path / "data")
    base = root / "tiny-imagenet-200"
    _plant_secret(tmp_path, base / "val" / "images" / "val_0.JPEG")
    annotations = base / "val" / "val_annotations.txt"
    _replace_line(annotations, 2, "\t".join(["../../../../outside/secret.JPEG", "n01443537", "10", "12", "50", "40"]))
    with pytest.raises(DataError, match=rf"^{annotations}:2: image '\.\./\.\./\.\./\.\./outside/secret\.JPEG' must be a relative path inside"):
        read_tiny_imagenet(root)


def test_tiny_imagenet_absolute_train_image(tmp_path):
    root = make_tiny_imagenet(tmp_path / "data")
    boxes = root / "tiny-imagenet-200" / "train" / "n01629819" / "n01629819_boxes.txt"
    secret = _plant_secret(tmp_path, boxes.parent / "images" / "n01629819_0.JPEG")
    _replace_line(boxes, 3, "\t".join([str(secret), "8", "4", "31", "35"]))
    with pytest.raises(DataError, match=rf"^{boxes}:3: image '{secret}' must be a relative path inside"):
        read_tiny_imagenet(root)


def test_tiny_imagenet_wnid_outside_train(tmp_path):
    root = make_tiny_imagenet(tmp_path / "data")
    wnids = root / "tiny-imagenet-200" / "wnids.txt"
    (tmp_path / "tiny_outside").mkdir()
    _replace_line(wnids, 2, "../../../tiny_outside")
    with pytest.raises(DataError, match=rf"^{wnids}:2: wnid '\.\./\.\./\.\./tiny_outside' must be a relative path inside"):
        read_tiny_imagenet(root)


@pytest.mark.parametrize("relpath", ["../../outside/secret.JPEG", "/etc/hostname"])
def test_cub_images_txt_outside_images(tmp_path, relpath):
    root = make_cub(tmp_path / "data")
    images = root / "CUB_200_2011" / "images.txt"
    _replace_line(images, 5, f"5 {relpath}")
    with pytest.raises(DataError, match=rf"^{images}:5: image '{relpath}' must be a relative path inside"):
        read_cub(root)


def test_symlinked_dataset_still_reads(tmp_path):
    """The check is lexical: a dataset whose files are symlinks into other storage keeps working."""
    root = make_cub(tmp_path / "store")
    linked = tmp_path / "linked" / "CUB_200_2011"
    linked.mkdir(parents=True)
    for entry in (root / "CUB_200_2011").iterdir():
        (linked / entry.name).symlink_to(entry)
    items, _ = read_cub(tmp_path / "linked")
    assert len(items) == 40 and items[0].path.is_file()
