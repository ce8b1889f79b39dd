"""The WSOL table reads metrics.json + config.yaml of each run (what `infocam-eval` writes)."""

from __future__ import annotations

from omegaconf import OmegaConf

from infocam.runtime.io import atomic_write_text, write_metrics
from infocam.reporting.wsol import write_wsol_table


def _run(directory, cam, task_cam, gt_known):
    cfg = OmegaConf.create({"cam": cam, "task": {"cam": task_cam}})
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    write_metrics(directory / "metrics.json", {"test/gt_known_loc": gt_known, "test/top1_loc": 0.25, "seconds": 1.0})


def test_table_rows_sorted_by_method_and_region_with_checkpoint_cam_fallback(tmp_path):
    _run(tmp_path / "0", {"name": "infocam_plus", "region_size": 3}, None, 0.5)
    _run(tmp_path / "1", {"name": "infocam", "region_size": 5, "subtract": False}, None, 0.125)
    _run(tmp_path / "2", None, {"name": "cam", "region_size": 1}, 0.375)  # eval without cam=...
    csv_path, md_path = write_wsol_table(str(tmp_path), str(tmp_path / "reports"))
    lines = csv_path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["cam", "infocam", "infocam_plus"]
    md = md_path.read_text()
    assert "| cam | 1 | none | False | 37.50 |" in md
    assert "| infocam | 5 | same | False | 12.50 |" in md
    assert "| infocam_plus | 3 | same | least likely | 50.00 |" in md


def _eval_run(directory, dataset, model, adl, cam, region, metrics, subtract=None, threshold=0.2, iou=0.5,
              alignment="same"):
    """A fabricated infocam-eval run directory: config.yaml (no ``train`` key) + metrics.json."""
    cam_cfg = {"name": cam, "region_size": region, "alignment": alignment, **({"subtract": subtract} if subtract is not None else {})}
    targets = {"cub": "infocam.data.cub.CUBDataModule", "tiny": "infocam.data.tiny_imagenet.TinyImageNetDataModule"}
    cfg = OmegaConf.create({
        "ckpt_path": f"/ckpts/{dataset}_{model}_{adl}.ckpt",
        "data": {"_target_": targets[dataset]},
        "model": {"name": model, "adl": {"enabled": adl}},
        "cam": cam_cfg,
        "localization": {"threshold": threshold, "iou_threshold": iou},
    })
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    write_metrics(directory / "metrics.json", {f"test/{k}": v for k, v in metrics.items()} | {"seconds": 2.0})


def _m(gt, top1=0.3, cls=0.7, top5=0.9, box=0.6, thr=0.35):
    return {"gt_known_loc": gt, "top1_loc": top1, "top1_cls": cls, "top5_cls": top5, "maxboxacc_v2": box,
            "maxboxacc_v2_iou50_threshold": thr, "num_images": 100}


def _section(md: str, title: str) -> list[str]:
    """The table rows of the markdown section whose heading starts with ``title``."""
    block = md.split(f"### {title}", 1)[1].split("###", 1)[0]
    return [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| backbone") and
            not line.startswith("| dataset")]


def test_tables_4_5_6_beside_the_paper(tmp_path):
    sweep = tmp_path / "sweep"
    _eval_run(sweep / "0", "cub", "vgg16_gap", False, "cam", 1, _m(0.40, thr=0.45))
    _eval_run(sweep / "1", "cub", "vgg16_gap", False, "infocam", 5, _m(0.50))
    _eval_run(sweep / "2", "cub", "vgg16_gap", False, "infocam_plus", 5, _m(0.55))
    _eval_run(sweep / "3", "cub", "vgg16_gap", True, "cam", 1, _m(0.70, cls=0.6, top5=0.8))
    _eval_run(sweep / "4", "cub", "vgg16_gap", False, "infocam", 1, _m(0.45))                  # ablation: no R
    _eval_run(sweep / "5", "cub", "vgg16_gap", False, "infocam", 5, _m(0.52), subtract=False)  # ablation: no subtraction
    _eval_run(sweep / "6", "cub", "vgg16_gap", False, "infocam", 3, _m(0.60))                  # not the paper's R
    _eval_run(sweep / "7", "tiny", "resnet50_wsol", False, "infocam", 3, _m(0.56, top1=0.4))
    _eval_run(sweep / "8", "tiny", "resnet50_wsol", False, "infocam", 3, _m(0.58, top1=0.5))  # a second seed: averaged
    train_run = sweep / "train"  # a training run (config has `train`) is not an eval row
    atomic_write_text(train_run / "config.yaml", OmegaConf.to_yaml(OmegaConf.create({"train": True, "cam": {"name": "cam"}})))
    write_metrics(train_run / "metrics.json", {"test/gt_known_loc": 0.99})

    csv_path, md_path = write_wsol_table(str(sweep), str(tmp_path / "reports"))
    md = md_path.read_text()
    assert "above 20% of the map's range, hit at IoU >= 0.5" in md
    cub4 = _section(md, "Table 4: localisation on CUB-200-2011")
    assert cub4 == [
        "| vgg | CAM | N | 1 | none | 40.00 | 30.00 | 60.00 | 0.45 | 42.49 | 31.38 | 1 |",
        "| vgg | CAM | Y | 1 | none | 70.00 | 30.00 | 60.00 | 0.35 | 71.59 | 53.01 | 1 |",
        "| vgg | infoCAM | N | 3 | same | 60.00 | 30.00 | 60.00 | 0.35 |  |  | 1 |",  # R=3: no paper number
        "| vgg | infoCAM | N | 5 | same | 50.00 | 30.00 | 60.00 | 0.35 | 52.96 | 39.79 | 1 |",
        "| vgg | infoCAM+ | N | 5 | same | 55.00 | 30.00 | 60.00 | 0.35 | 59.43 | 44.40 | 1 |",
    ]
    tiny4 = _section(md, "Table 4: localisation on Tiny-ImageNet")
    assert tiny4 == ["| resnet | infoCAM | N | 3 | same | 57.00 | 45.00 | 60.00 | 0.35 | 57.79 | 43.34 | 2 |"]
    table5 = _section(md, "Table 5")
    assert "| CUB-200-2011 | vgg | N | 70.00 | 90.00 | 73.97 | 91.83 | 6 |" in table5
    assert "| CUB-200-2011 | vgg | Y | 60.00 | 80.00 | 71.05 | 90.20 | 1 |" in table5
    assert "| Tiny-ImageNet | resnet | N | 70.00 | 90.00 | 66.45 | 86.22 | 2 |" in table5
    table6 = _section(md, "Table 6")
    assert "| CUB-200-2011 | vgg | N | 1 | none | N | N | 40.00 | 30.00 | 60.00 | 0.45 | 42.49 | 31.38 | 1 |" in table6
    assert "| CUB-200-2011 | vgg | N | 1 | none | N | Y | 45.00 | 30.00 | 60.00 | 0.35 | 47.59 | 35.01 | 1 |" in table6
    assert "| CUB-200-2011 | vgg | N | 5 | same | Y | N | 52.00 | 30.00 | 60.00 | 0.35 | 53.40 | 40.19 | 1 |" in table6
    assert "| CUB-200-2011 | vgg | N | 5 | same | Y | Y | 50.00 | 30.00 | 60.00 | 0.35 | 52.96 | 39.79 | 1 |" in table6
    rows = csv_path.read_text().splitlines()
    assert len(rows) == 1 + 9 and "0.99" not in csv_path.read_text()
    assert rows[0].startswith("cam,region_size,alignment,subtract,gt_known_loc,")


def test_rows_are_told_apart_by_alignment(tmp_path):
    """Same checkpoint, method and R, two alignments: two rows in Tables 4 and 6, each naming its
    alignment; R = 1 has no region sum, so its two runs are one row (``none``, 2 runs)."""
    for k, alignment in enumerate(("same", "full")):
        _eval_run(tmp_path / f"cam{k}", "cub", "resnet50_wsol", False, "cam", 1, _m(0.40), alignment=alignment)
        _eval_run(tmp_path / f"info{k}", "cub", "resnet50_wsol", False, "infocam", 4, _m(0.50 + 0.25 * k),
                  alignment=alignment)
    md = write_wsol_table(str(tmp_path), str(tmp_path / "out"))[1].read_text()
    assert _section(md, "Table 4: localisation on CUB-200-2011") == [
        "| resnet | CAM | N | 1 | none | 40.00 | 30.00 | 60.00 | 0.35 | 61.66 | 50.84 | 2 |",
        "| resnet | infoCAM | N | 4 | full | 75.00 | 30.00 | 60.00 | 0.35 | 64.78 | 53.22 | 1 |",
        "| resnet | infoCAM | N | 4 | same | 50.00 | 30.00 | 60.00 | 0.35 | 64.78 | 53.22 | 1 |",
    ]
    table6 = _section(md, "Table 6")
    assert any("| 4 | full | Y | Y | 75.00 |" in row for row in table6)
    assert any("| 4 | same | Y | Y | 50.00 |" in row for row in table6)
    assert "`full` (the" in md  # the header says what each alignment is


def test_header_states_the_runs_actual_threshold_and_iou(tmp_path):
    _eval_run(tmp_path / "a", "cub", "gap_cnn", False, "cam", 1, _m(0.4), threshold=0.35, iou=0.7)
    md = write_wsol_table(str(tmp_path), str(tmp_path / "out"))[1].read_text()
    assert "above 35% of the map's range, hit at IoU >= 0.7" in md and "20%" not in md
    assert "| gap_cnn | CAM | N | 1 | none | 40.00 | 30.00 | 60.00 | 0.35 |  |  | 1 |" in md  # no paper number for gap_cnn
    _eval_run(tmp_path / "b", "cub", "gap_cnn", False, "cam", 1, _m(0.4), threshold=0.2, iou=0.5)
    md = write_wsol_table(str(tmp_path), str(tmp_path / "out"))[1].read_text()
    assert "the runs differ -- box thresholds 0.2, 0.35, IoU thresholds 0.5, 0.7" in md


def test_a_stand_in_is_named_for_what_it_is_and_kept_away_from_the_papers_numbers(tmp_path):
    """Before: a run on the CUB-layout digits stand-in was reported as 'CUB-200-2011', beside the paper."""
    import json

    sweep = tmp_path / "sweep"
    _eval_run(sweep / "real", "cub", "vgg16_gap", False, "cam", 1, _m(0.40))
    _eval_run(sweep / "standin", "cub", "vgg16_gap", False, "cam", 1, _m(0.90))
    (sweep / "real" / "data_summary.json").write_text(json.dumps({"dataset": "cub", "display_name": "CUB-200-2011"}))
    name = "CUB-layout digits stand-in (not CUB-200-2011)"
    (sweep / "standin" / "data_summary.json").write_text(json.dumps({"dataset": "cub", "display_name": name}))
    md = write_wsol_table(str(sweep), str(tmp_path / "reports"))[1].read_text()
    assert _section(md, "Table 4: localisation on CUB-200-2011\n") == [
        "| vgg | CAM | N | 1 | none | 40.00 | 30.00 | 60.00 | 0.35 | 42.49 | 31.38 | 1 |"]
    assert _section(md, f"Table 4: localisation on {name}") == [
        "| vgg | CAM | N | 1 | none | 90.00 | 30.00 | 60.00 | 0.35 |  |  | 1 |"]  # no paper number beside a stand-in


def test_the_report_collects_each_runs_overlay_grid(tmp_path):
    sweep = tmp_path / "sweep"
    _eval_run(sweep / "a" / "0", "cub", "vgg16_gap", False, "cam", 1, _m(0.40))
    _eval_run(sweep / "a" / "1", "cub", "vgg16_gap", False, "infocam", 5, _m(0.50))
    (sweep / "a" / "0" / "overlays").mkdir()
    (sweep / "a" / "0" / "overlays" / "wsol_overlays.png").write_bytes(b"\x89PNG picture of run 0")
    written = write_wsol_table(str(sweep), str(tmp_path / "reports"))
    md = written[1].read_text()
    copied = tmp_path / "reports" / "wsol_eval_overlays" / "a_0.png"
    assert copied in written and copied.read_bytes() == b"\x89PNG picture of run 0"
    assert "## Overlays" in md and "![overlays of a/0](wsol_eval_overlays/a_0.png)" in md
    assert "overlays of a/1" not in md  # a run without a grid is left out


def test_the_cub_layout_stand_in_records_its_name_and_the_datamodule_reports_it(tmp_path):
    import json

    from infocam.data.cub import CUBDataModule
    from infocam.data.standins.cub_layout import DISPLAY_NAME, write_cub_layout

    write_cub_layout(tmp_path / "data", num_images=20, seed=1, min_side=32, max_side=40)
    summary = tmp_path / "data_summary.json"
    dm = CUBDataModule(str(tmp_path / "data"), num_classes=10, image_size=32, num_workers=0, summary_path=str(summary))
    dm.setup("fit")
    assert DISPLAY_NAME == "CUB-layout digits stand-in (not CUB-200-2011)"
    assert json.loads(summary.read_text())["display_name"] == DISPLAY_NAME


def test_a_report_of_one_run_directory_names_its_grid_run_png(tmp_path):
    """infocam-eval reports its own directory (row run '.'): the copy is run.png, not '..png'."""
    _eval_run(tmp_path, "cub", "vgg16_gap", False, "cam", 1, _m(0.40))
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "wsol_overlays.png").write_bytes(b"\x89PNG")
    md = write_wsol_table(str(tmp_path), str(tmp_path / "reports"))[1].read_text()
    assert "![overlays of .](wsol_eval_overlays/run.png)" in md
    assert (tmp_path / "reports" / "wsol_eval_overlays" / "run.png").read_bytes() == b"\x89PNG"
