"""Ground-truth box sanity (infocam.data.boxed_images): wholly outside is one line naming file and
line, partly outside is clamped with one warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import QUIET
from fixtures.classification import make_cub

from infocam.errors import DataError

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




def _cub_with_box(root: Path, line: int, box: str) -> Path:
    make_cub(root)
    boxes = root / "CUB_200_2011" / "bounding_boxes.txt"
    lines = boxes.read_text().splitlines()
    lines[line - 1] = f"{line} {box}"
    boxes.write_text("\n".join(lines) + "\n")
    return boxes


def _cub_module(root: Path):
    from infocam.data.cub import CUBDataModule

    return CUBDataModule(str(root), num_classes=4, image_size=32, num_workers=0, summary_path=None)


def test_a_cub_box_wholly_outside_its_image_names_file_and_line(tmp_path):
    boxes = _cub_with_box(tmp_path, 7, "100 100 20 20")  # the fixture's images are 48x32
    with pytest.raises(DataError, match=rf"{boxes}:7 \(image Bird_1_0006.jpg\): box \(100, 100, 120, 120\).* wholly outside its 48x32 image"):
        _cub_module(tmp_path).setup("fit")


def test_cub_boxes_partly_outside_are_clamped_with_one_warning(tmp_path, caplog):
    boxes = _cub_with_box(tmp_path, 3, "40 20 20 20")
    datamodule = _cub_module(tmp_path)
    with caplog.at_level(logging.WARNING, logger="infocam.data.boxed_images"):
        datamodule.setup("fit")
    warnings = [r.getMessage() for r in caplog.records if r.name == "infocam.data.boxed_images"]
    assert warnings == [f"{boxes}: 1 of 40 boxes reach past their image and were clamped to it"]
    item = next(i for i in datamodule.splits["train"].items if i.image_id == 3)
    assert item.boxes == ((40.0, 20.0, 48.0, 32.0),)  # (x0, y0, x1, y1) clamped to the 48x32 image


# -- 6. file modes -------------------------------------------------------------------------
