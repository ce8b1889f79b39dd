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


# -- issue 28: the seams between the CAM classes, cams_to_boxes and the scorer -----------------


def test_results_are_fractions_as_metrics_json_holds_them():
    maps = np.zeros((4, 32, 32))
    maps[:, 8:16, 8:16] = 1.0
    boxes = [np.array([[8, 8, 16, 16]])] * 3 + [np.array([[20, 20, 30, 30]])]  # 3 hits, 1 miss
    out = infocam.evaluate_scoremaps(maps, boxes)
    assert out["maxboxacc"] == 0.75 and out["maxboxacc_v2"] == 0.75 and out["num_images"] == 4
    assert 0 <= out["maxboxacc_threshold"] < 1  # a map threshold, not an accuracy: unchanged


def test_the_box_convention_round_trips_a_planted_2x2_box():
    """cams_to_boxes' boxes (x1 = x0 + width) go into the scorer as they are: IoU 1 with the map's
    own box, and one pixel off on each end is not the same box."""
    maps = torch.zeros(1, 16, 16)
    maps[0, 5:7, 9:11] = 1.0  # rows 5..6, cols 9..10
    boxes = infocam.cams_to_boxes(maps, 0.5)
    assert boxes.tolist() == [[9, 5, 11, 7]]
    assert infocam.evaluate_scoremaps(maps, boxes[:, None], iou_thresholds=(70,))["maxboxacc_v2"] == 1.0
    shifted = boxes + torch.tensor([2.0, 2.0, 2.0, 2.0])
    assert infocam.evaluate_scoremaps(maps, shifted[:, None], iou_thresholds=(30,))["maxboxacc_v2"] == 0.0


def test_torchvision_cam_maps_flow_through_cams_to_boxes_into_the_scorer():
    """InfoCAM maps of a torchvision resnet18 (random weights, 128 px input, 4 x 4 features) ->
    cams_to_boxes at the input size -> evaluate_scoremaps(prepare=True): every image's own box
    is found at IoU >= 70 %; a box planted in the opposite corner is a miss at IoU 30 %."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    images = torch.zeros(2, 3, 128, 128)
    images[0, :, 16:48, 72:104] = 1.0
    images[1, :, 80:112, 8:40] = 1.0
    maps = infocam.InfoCAM(model)(images)  # raw maps at the input size, as the CAM classes return them
    with pytest.raises(DataError, match="need prepare=True"):
        infocam.evaluate_scoremaps(maps, [[0, 0, 8, 8]] * 2)
    boxes = infocam.cams_to_boxes(maps, 0.5)
    own = infocam.evaluate_scoremaps(maps, boxes[:, None], prepare=True)
    assert own["maxboxacc"] == 1.0 and own["maxboxacc_v2_iou70"] == 1.0
    far = torch.stack([128 - boxes[:, 2], 128 - boxes[:, 3], 128 - boxes[:, 0], 128 - boxes[:, 1]], dim=1)  # mirrored
    small = far.clone()
    small[:, 2:] = torch.minimum(far[:, 2:], far[:, :2] + 16)  # a 16 px box inside the mirrored one
    assert infocam.evaluate_scoremaps(maps, small[:, None], prepare=True, iou_thresholds=(30,))["maxboxacc_v2"] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    # 64 x 64 maps with boxes in 224-pixel coordinates: 0.0 silently before
    ({"scoremaps": np.zeros((3, 64, 64)), "gt_boxes": [[[50, 60, 180, 200]]] * 3},
     r"gt_boxes\[0\] box \[50, 60, 180, 200\] reaches past its 64x64 score map; boxes in the original image's pixels need image_sizes"),
    # a box wholly outside the map: the image became a miss silently before
    ({"scoremaps": np.zeros((2, 32, 32)), "gt_boxes": [[[0, 0, 8, 8]], [[40, 40, 50, 50]]]},
     r"gt_boxes\[1\] box \[40, 40, 50, 50\] reaches past its 32x32 score map"),
    ({"scoremaps": np.zeros((2, 32, 32)), "gt_boxes": [[[0, 0, 12, 12]]] * 2, "image_sizes": [(100, 100), (10, 10)]},
     r"gt_boxes\[1\] box \[0, 0, 12, 12\] reaches past its image_sizes\[1\] = 10x10"),
    ({"scoremaps": np.zeros((2, 8, 8)), "gt_boxes": [[0, 0, 3, 3]] * 2, "image_sizes": ["8x8", "8x8"]},
     r"image_sizes\[0\] must be a \(w, h\) pair of positive numbers, got '8x8'"),
    ({"scoremaps": np.zeros((2, 8, 8)), "gt_boxes": [[0, 0, 3, 3]] * 2, "image_sizes": "8"},
     "image_sizes must be one .w, h. pair or one per image, got '8'"),
    ({"scoremaps": np.zeros((2, 8, 8)), "gt_boxes": [[0, 0, 3, 3]] * 2, "image_sizes": [(8, 0)] * 2},
     r"image_sizes\[0\] must be a \(w, h\) pair of positive numbers"),
    ({"scoremaps": np.zeros((1, 8, 8)), "gt_boxes": [["a", 0, 3, 3]]}, r"gt_boxes\[0\] must hold numbers"),
    ({"scoremaps": np.full((1, 8, 8), 9.27), "gt_boxes": [[0, 0, 3, 3]]}, "raw CAMs .* need prepare=True"),
])
def test_inconsistent_sizes_and_bad_sizes_are_one_line(kwargs, message):
    with pytest.raises(DataError, match=message):
        infocam.evaluate_scoremaps(**kwargs)


def test_float_image_sizes_are_sizes():
    """(w, h) as floats scale like ints (before: '3 score maps but 2 image_sizes')."""
    maps, sizes, boxes, _ = random_maps(3)
    expected = infocam.evaluate_scoremaps(maps, boxes, image_sizes=sizes)
    assert infocam.evaluate_scoremaps(maps, boxes, image_sizes=[(float(w), float(h)) for w, h in sizes]) == expected
    square = [np.array([[10, 10, 100, 100]])] * 3
    assert (infocam.evaluate_scoremaps(maps, square, image_sizes=(300.0, 300.0))
            == infocam.evaluate_scoremaps(maps, square, image_sizes=(300, 300)))


@pytest.mark.parametrize("flag", ["prepare", "multi_contour"])
@pytest.mark.parametrize("word", ["no", "false", 0, None])
def test_boolean_flags_take_booleans_only(flag, word):
    from infocam.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{flag}={word!r} must be True or False"):
        infocam.evaluate_scoremaps(np.zeros((1, 8, 8)), [[0, 0, 3, 3]], **{flag: word})
