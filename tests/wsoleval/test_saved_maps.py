"""infocam-eval-maps on wsolevaluation's metadata/scoremap layouts: numbers equal the OpenCV
oracle's, outputs exist, and each bad input is one line naming its file (and line) with no output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli_in_process
from infocam.errors import DataError
from infocam.localization.wsoleval.saved_maps import evaluate_maps
from infocam.localization.wsoleval.protocol import cam_thresholds, multiple_iou, resize_box
from fixtures.wsol_oracle import boxes_at


def eval_maps(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``infocam-eval-maps ARGS`` through its entry function, in this process."""
    return run_cli_in_process("eval-maps", args, cwd)


def write_box_layout(root: Path, count: int = 12, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    meta, maps = root / "metadata", root / "scoremaps"
    meta.mkdir(parents=True)
    ids, sizes, boxes, labels = [], [], [], []
    yy, xx = np.mgrid[0:224, 0:224]
    for i in range(count):
        image_id = f"test/{i % 3:03d}.Bird/img_{i}.jpg"
        w, h = int(rng.integers(200, 500)), int(rng.integers(200, 500))
        cy, cx, r = rng.uniform(50, 170, 3)[:2].tolist() + [rng.uniform(15, 50)]
        scoremap = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) + 0.3 * np.exp(-((yy - 40) ** 2 + (xx - 180) ** 2) / 300.0)
        scoremap = (scoremap - scoremap.min()) / (scoremap - scoremap.min()).max()
        (maps / image_id).parent.mkdir(parents=True, exist_ok=True)
        np.save(maps / f"{image_id}.npy", scoremap)
        ids.append(image_id)
        labels.append(f"{image_id},{i % 3}")
        sizes.append(f"{image_id},{w},{h}")
        for _ in range(1 + i % 2):
            x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
            boxes.append(f"{image_id},{x0},{y0},{x0 + int(rng.integers(20, w // 2))},{y0 + int(rng.integers(20, h // 2))}")
    for name, lines in (("image_ids", ids), ("class_labels", labels), ("image_sizes", sizes), ("localization", boxes)):
        (meta / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return meta, maps


def oracle_scores(meta: Path, maps: Path, interval: float) -> dict[str, float]:
    """Their BoxEvaluator, per image and threshold, with OpenCV (V1 and V2 at once)."""
    ids = meta.joinpath("image_ids.txt").read_text().split()
    sizes = {l.split(",")[0]: tuple(map(int, l.split(",")[1:])) for l in meta.joinpath("image_sizes.txt").read_text().split()}
    gts: dict[str, list] = {}
    for line in meta.joinpath("localization.txt").read_text().split():
        image_id, *box = line.split(",")
        gts.setdefault(image_id, []).append(resize_box(list(map(int, box)), sizes[image_id], (224, 224)))
    thresholds = cam_thresholds(interval)
    v1 = np.zeros(len(thresholds))
    v2 = np.zeros((3, len(thresholds)))
    for image_id in ids:
        quantized = (np.load(maps / f"{image_id}.npy") * 255).astype(np.uint8)
        for t, tau in enumerate(thresholds):
            level = int(tau * np.max(quantized))
            single = multiple_iou(boxes_at(quantized, level, False), np.array(gts[image_id])).max()
            multi = multiple_iou(boxes_at(quantized, level, True), np.array(gts[image_id])).max()
            v1[t] += single >= 0.5
            for d, delta in enumerate((30, 50, 70)):
                v2[d, t] += multi >= delta / 100
    n = float(len(ids))
    best = [(row * 100.0 / n).max() for row in v2]
    return {"maxboxacc": (v1 * 100.0 / n).max(), "maxboxacc_v2": float(np.average(best)),
            "maxboxacc_v2_iou30": best[0], "maxboxacc_v2_iou50": best[1], "maxboxacc_v2_iou70": best[2]}


def test_box_metadata_scores_equal_the_oracle(tmp_path):
    meta, maps = write_box_layout(tmp_path)
    run = tmp_path / "run"
    proc = eval_maps([f"metadata_root={meta}", f"scoremap_root={maps}", "cam_curve_interval=0.01", f"hydra.run.dir={run}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    expected = oracle_scores(meta, maps, 0.01)
    for key, value in expected.items():  # metrics.json holds fractions: the oracle's percent / 100
        assert metrics[key] == value / 100, key
    assert 0 <= metrics["maxboxacc_v2_iou50_threshold"] < 1 and metrics["num_images"] == 12
    curve = (run / "accuracy_curve.csv").read_text().splitlines()
    assert curve[0] == "threshold,v1,iou30,iou50,iou70" and len(curve) == 101
    assert (run / "accuracy_curve.png").stat().st_size > 5_000


def test_mask_metadata_gives_pxap(tmp_path, make_cfg):
    rng = np.random.default_rng(1)
    meta, maps, masks = tmp_path / "metadata", tmp_path / "scoremaps", tmp_path / "masks"
    for d in (meta, maps, masks):
        d.mkdir()
    ids, loc = [], []
    for i in range(3):
        image_id = f"val/img{i}.jpg"
        (maps / "val").mkdir(exist_ok=True)
        np.save(maps / f"{image_id}.npy", rng.random((224, 224)))
        Image.fromarray(((rng.random((100, 120)) < 0.3) * 255).astype(np.uint8)).save(masks / f"m{i}.png")
        Image.fromarray(((rng.random((100, 120)) < 0.2) * 255).astype(np.uint8)).save(masks / f"ig{i}.png")
        ids.append(image_id)
        loc.append(f"{image_id},m{i}.png,ig{i}.png")
    loc.append(f"{ids[0]},m1.png,")  # a second instance mask for the first image
    for name, lines in (("image_ids", ids), ("class_labels", [f"{i},0" for i in ids]), ("image_sizes", [f"{i},120,100" for i in ids]), ("localization", loc)):
        (meta / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    run = tmp_path / "run"
    overrides = [f"metadata_root={meta}", f"scoremap_root={maps}", f"mask_root={masks}", "progress=false"]
    evaluate_maps(make_cfg(overrides, config_name="eval_maps", output_dir=run))
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 < metrics["pxap"] < 1 and "maxboxacc_v2" not in metrics
    assert (run / "accuracy_curve.csv").read_text().splitlines()[0] == "threshold,precision,recall"
    # their get_mask + MaskEvaluator on the same files, by hand
    from infocam.localization.wsoleval.protocol import resize_nearest
    from infocam.localization.wsoleval.metrics import WsolPxAP

    expected = WsolPxAP(0.01)
    for i, image_id in enumerate(ids):
        names = [f"m{i}.png"] + (["m1.png"] if i == 0 else [])
        obj = np.any([resize_nearest(np.asarray(Image.open(masks / n), dtype=np.float32), 224) > 0.5 for n in names], axis=0)
        ignore = (resize_nearest(np.asarray(Image.open(masks / f"ig{i}.png"), dtype=np.float32), 224) > 0.5) & ~obj
        expected.update(np.load(maps / f"{image_id}.npy")[None], (obj.astype(np.uint8) + 255 * ignore.astype(np.uint8))[None])
    assert metrics["pxap"] == float(expected.compute()) / 100  # a fraction in metrics.json


BAD_INPUTS = [
    (lambda meta, maps: (maps / "test/000.Bird/img_0.jpg.npy").unlink(), r"img_0\.jpg\.npy: no score map"),
    (lambda meta, maps: np.save(maps / "test/000.Bird/img_0.jpg.npy", np.zeros((2, 224, 224))), "2-D"),
    (lambda meta, maps: np.save(maps / "test/000.Bird/img_0.jpg.npy", np.full((224, 224), 1.5)), r"\[0, 1\]"),
    (lambda meta, maps: (meta / "localization.txt").write_text("test/000.Bird/img_0.jpg,1,2,3\n"), r"localization\.txt:1: expected"),
    (lambda meta, maps: (meta / "localization.txt").write_text("test/000.Bird/img_0.jpg,10,2,3,40\n"), r"localization\.txt:1: box must have x0 <= x1"),
    (lambda meta, maps: (meta / "image_sizes.txt").write_text("test/000.Bird/img_0.jpg,2x\n"), r"image_sizes\.txt:1"),
]


@pytest.mark.parametrize("damage,message", BAD_INPUTS)
def test_bad_input_names_the_file_and_writes_nothing(tmp_path, make_cfg, damage, message):
    meta, maps = write_box_layout(tmp_path, count=3)
    damage(meta, maps)
    run = tmp_path / "run"
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maps}", "progress=false"], config_name="eval_maps", output_dir=run)
    with pytest.raises(DataError, match=message):
        evaluate_maps(cfg)
    assert not (run / "metrics.json").exists() and not (run / "accuracy_curve.csv").exists()


def test_cli_prints_one_line(tmp_path):
    meta, maps = write_box_layout(tmp_path, count=3)
    (meta / "localization.txt").write_text("test/000.Bird/img_0.jpg,10,2,3,40\n")
    run = tmp_path / "run"
    proc = eval_maps([f"metadata_root={meta}", f"scoremap_root={maps}", f"hydra.run.dir={run}", "progress=false"], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"infocam: error: {meta / 'localization.txt'}:1: box must have x0 <= x1 and y0 <= y1, got "
                     "'test/000.Bird/img_0.jpg,10,2,3,40'"], proc.stderr[-2000:]
    assert not (run / "metrics.json").exists()


# -- issue 21: paths inside their roots (item 6), metadata their validation refuses (item 8) --
def _set_first_id(meta: Path, new_id: str) -> None:
    """Rename image 0 everywhere in the metadata (its map keeps its file)."""
    for name in ("image_ids", "class_labels", "image_sizes", "localization"):
        path = meta / f"{name}.txt"
        path.write_text(path.read_text().replace("test/000.Bird/img_0.jpg", new_id))


def _set_first_box(meta: Path, line: str) -> None:
    lines = (meta / "localization.txt").read_text().splitlines()
    (meta / "localization.txt").write_text("\n".join([line, *lines[1:]]) + "\n")


METADATA_REFUSED = [
    (lambda meta, maps, tmp: _set_first_id(meta, "../../outside/secret"), r"image_ids\.txt:1: image id '\.\./\.\./outside/secret' must be a relative path"),
    (lambda meta, maps, tmp: _set_first_id(meta, str(tmp / "outside" / "secret")), r"image_ids\.txt:1: image id '/.*' must be a relative path"),
    (lambda meta, maps, tmp: (meta / "image_ids.txt").write_text(
        "test/000.Bird/img_0.jpg\ntest/001.Bird/img_1.jpg\ntest/000.Bird/img_0.jpg\n"),
     r"image_ids\.txt:3: duplicate image id 'test/000\.Bird/img_0\.jpg' \(first on line 1\)"),
    (lambda meta, maps, tmp: np.save(maps / "test/001.Bird/img_1.jpg.npy", np.full((28, 28), 0.5)),
     r"img_1\.jpg\.npy: map is 28x28, boxes are scored at 224x224"),
    (lambda meta, maps, tmp: _set_first_box(meta, "test/000.Bird/img_0.jpg,9000,9000,9100,9100"),
     r"localization\.txt:1: box \(9000, 9000, 9100, 9100\) lies outside its \d+x\d+ image"),
]


@pytest.mark.parametrize("damage,message", METADATA_REFUSED, ids=["dotdot_id", "absolute_id", "duplicate_id", "small_map", "box_outside"])
def test_metadata_their_validation_refuses_is_one_line(tmp_path, make_cfg, damage, message):
    meta, maps = write_box_layout(tmp_path, count=3)
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "secret.npy", np.full((224, 224), 0.5))  # what a climbing id would read
    damage(meta, maps, tmp_path)
    run = tmp_path / "run"
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maps}", "progress=false"], config_name="eval_maps", output_dir=run)
    with pytest.raises(DataError, match=message):
        evaluate_maps(cfg)
    assert not (run / "metrics.json").exists()


@pytest.mark.parametrize("bad", ["../outside/m.png", "/etc/hostname"])
def test_mask_paths_stay_inside_mask_root(tmp_path, make_cfg, bad):
    meta, maps = write_box_layout(tmp_path, count=1)
    (meta / "localization.txt").write_text(f"test/000.Bird/img_0.jpg,{bad},\n")
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maps}", f"mask_root={tmp_path}", "progress=false"],
                   config_name="eval_maps", output_dir=tmp_path / "run")
    with pytest.raises(DataError, match=r"localization\.txt:1: mask path '.*' must be a relative path inside mask_root"):
        evaluate_maps(cfg)


def test_box_past_the_border_is_scored_with_one_warning(tmp_path, make_cfg, caplog):
    meta, maps = write_box_layout(tmp_path, count=3)
    sizes = dict(line.split(",", 1) for line in (meta / "image_sizes.txt").read_text().split())
    w, h = map(int, sizes["test/000.Bird/img_0.jpg"].split(","))
    _set_first_box(meta, f"test/000.Bird/img_0.jpg,10,10,{w + 40},{h + 40}")
    cfg = make_cfg([f"metadata_root={meta}", f"scoremap_root={maps}", "progress=false"], config_name="eval_maps", output_dir=tmp_path / "run")
    evaluate_maps(cfg)
    assert [r.message for r in caplog.records if "border" in r.message] == [
        f"{meta / 'localization.txt'}: 1 box(es) reach past their image's border (image_sizes.txt)"]


@pytest.mark.parametrize("args,message", [
    ([], "metadata_root and scoremap_root must be set; usage: infocam-eval-maps metadata_root=DIR scoremap_root=DIR"),
    (["cam_curve_interval=abc"], "cam_curve_interval must be a number, got 'abc'"),
    (["iou_threshold_list=[a]"], "iou_threshold_list must hold numbers (percent or fraction), got 'a'"),
    (["batch_size=abc"], "batch_size must be an integer, got 'abc'"),
    (["batch_size=0"], "batch_size must be at least 1, got 0"),
])
def test_bad_settings_are_one_line(tmp_path, args, message):
    if args:
        meta, maps = write_box_layout(tmp_path, count=1)
        args = [f"metadata_root={meta}", f"scoremap_root={maps}", *args]
    proc = eval_maps([*args, f"hydra.run.dir={tmp_path / 'run'}", "progress=false"], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"infocam: error: {message}"), proc.stderr[-2000:]
