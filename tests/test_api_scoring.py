"""infocam.evaluate_scoremaps on maps in memory equals infocam-eval-maps on the same maps saved
in wsolevaluation's layout (boxes and masks); raw CAMs are prepared as the WSOL test step does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import infocam
from infocam.errors import DataError
from infocam.localization.wsoleval.protocol import prepare_scoremaps
from infocam.localization.wsoleval.saved_maps import evaluate_maps

RNG_SEED = 0


def random_maps(count: int, seed: int = RNG_SEED):
    """Blob score maps at 224 x 224, image sizes, boxes (original pixels) and object masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:224, 0:224]
    maps, sizes, boxes, masks = [], [], [], []
    for i in range(count):
        cy, cx, r = *rng.uniform(50, 170, 2), rng.uniform(15, 50)
        m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) + 0.3 * np.exp(-((yy - 40) ** 2 + (xx - 180) ** 2) / 300.0)
        maps.append((m - m.min()) / (m - m.min()).max())
        w, h = int(rng.integers(200, 500)), int(rng.integers(200, 500))
        sizes.append((w, h))
        image_boxes = []
        for _ in range(1 + i % 2):
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            image_boxes.append([x0, y0, x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))])
        boxes.append(np.array(image_boxes))
        masks.append((((yy - cy) ** 2 + (xx - cx) ** 2) < (r * 1.2) ** 2).astype(np.uint8))
    return np.stack(maps), sizes, boxes, masks


def write_layout(root: Path, maps, sizes, boxes, masks=None) -> tuple[Path, Path]:
    meta, maproot = root / "metadata", root / "scoremaps"
    meta.mkdir(parents=True)
    maproot.mkdir()
    lines = {"image_ids": [], "class_labels": [], "image_sizes": [], "localization": []}
    for i, m in enumerate(maps):
        image_id = f"img_{i}.jpg"
        np.save(maproot / f"{image_id}.npy", m)
        lines["image_ids"].append(image_id)
        lines["class_labels"].append(f"{image_id},0")
        lines["image_sizes"].append(f"{image_id},{sizes[i][0]},{sizes[i][1]}")
        if masks is None:
            lines["localization"] += [f"{image_id},{','.join(map(str, b))}" for b in boxes[i].tolist()]
        else:
            Image.fromarray(masks[i] * 255).save(root / f"mask_{i}.png")
            lines["localization"].append(f"{image_id},mask_{i}.png,")
    for name, content in lines.items():
        (meta / f"{name}.txt").write_text("".join(f"{line}\n" for line in content))
    return meta, maproot


def test_boxes_equal_infocam_eval_maps(tmp_path, make_cfg):
    maps, sizes, boxes, _ = random_maps(10)
    meta, maproot = write_layout(tmp_path, maps, sizes, boxes)
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maproot}", "progress=false"],
                   config_name="eval_maps", output_dir=tmp_path / "run")
    saved = evaluate_maps(cfg)
    in_memory = infocam.evaluate_scoremaps(maps, boxes, image_sizes=sizes)
    keys = [k for k in saved if k.startswith("maxboxacc")]
    assert len(keys) == 9 and {k: in_memory[k] for k in keys} == {k: saved[k] for k in keys}
    assert in_memory["num_images"] == saved["num_images"] == 10
    # torch input, and a list of maps, give the same numbers
    assert infocam.evaluate_scoremaps(torch.from_numpy(maps), boxes, image_sizes=sizes)["maxboxacc_v2"] == saved["maxboxacc_v2"]
    assert infocam.evaluate_scoremaps(list(maps), boxes, image_sizes=sizes)["maxboxacc"] == saved["maxboxacc"]


def test_masks_equal_infocam_eval_maps(tmp_path, make_cfg):
    maps, sizes, boxes, masks = random_maps(6, seed=1)
    meta, maproot = write_layout(tmp_path, maps, sizes, boxes, masks)
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maproot}", f"mask_root={tmp_path}", "progress=false"],
                   config_name="eval_maps", output_dir=tmp_path / "run")
    saved = evaluate_maps(cfg)
    assert infocam.evaluate_scoremaps(maps, masks=masks)["pxap"] == saved["pxap"]
    assert infocam.evaluate_scoremaps(maps, masks=[m.astype(bool) for m in masks])["pxap"] == saved["pxap"]


def test_raw_cams_are_prepared_as_the_wsol_test_step():
    rng = np.random.default_rng(2)
    raw = torch.from_numpy(rng.normal(size=(4, 7, 7)))
    boxes = [np.array([[1, 1, 4, 5]])] * 4
    prepared = prepare_scoremaps(raw, (224, 224)).numpy()
    expected = infocam.evaluate_scoremaps(prepared, boxes, image_sizes=(7, 7))
    assert infocam.evaluate_scoremaps(raw, boxes, prepare=True) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"scoremaps": np.full((2, 8, 8), 2.0), "gt_boxes": [[0, 0, 3, 3]] * 2}, r"scoremaps\[0\]: score map values must lie in \[0, 1\]"),
    ({"scoremaps": np.zeros((2, 8, 8)), "gt_boxes": [[0, 0, 3, 3]]}, "2 score maps but 1 gt_boxes entries"),
    ({"scoremaps": np.zeros((1, 8, 8)), "gt_boxes": [[[3, 0, 1, 3]]]}, r"gt_boxes\[0\]: boxes need 0 <= x0 <= x1"),
    ({"scoremaps": np.zeros((1, 8, 8))}, "needs gt_boxes"),
    ({"scoremaps": np.zeros((1, 8, 8)), "masks": np.zeros((1, 4, 4))}, r"masks\[0\] is \(4, 4\), its score map \(8, 8\)"),
    ({"scoremaps": np.zeros((1, 8, 8)), "masks": np.full((1, 8, 8), 7)}, "must hold 0 .background., 1 .object. and 255"),
])
def test_bad_input_is_one_line(kwargs, message):
    with pytest.raises(DataError, match=message):
        infocam.evaluate_scoremaps(**kwargs)
