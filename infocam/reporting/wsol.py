"""WSOL report (``infocam-report kind=wsol``) from the metrics.json + config.yaml of *eval* runs
(``infocam-eval``; training runs are skipped), laid out like the paper's Tables 4-6 beside its
numbers, then every run in one table.

- Table 4 (per dataset): backbone x method (CAM; infoCAM and infoCAM+ with R > 1) x ADL:
  GT-known / Top-1 Loc at the run's box threshold, MaxBoxAccV2 and the map threshold it chose
  at IoU 0.5, the paper's fixed-threshold numbers.
- Table 5: Top-1 / Top-5 classification per dataset x backbone x ADL (one checkpoint gives the
  same classification for every CAM method).
- Table 6 (ablation): region sum R (N: R = 1) x the subtraction term of Eq. 14, per ADL.

Runs that share a row (seeds, repeated evals) are averaged; ``runs`` counts them. Rows are
identified from config.yaml: ``data._target_`` (dataset), ``model.name`` (backbone; the paper's
are ``vgg16_gap`` and ``resnet50_wsol``), ``model.adl.enabled``, ``cam`` (method, R, subtraction),
``localization`` (threshold, IoU).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from omegaconf import OmegaConf

from infocam.runtime.io import atomic_write_text
from infocam.localization.settings import default_localization
from infocam.reporting.overlays import collect_overlays
from infocam.reporting.collect import Collected, RunRecord, collect_runs, require_rows, rows_to_csv, skipped_markdown
from infocam.reporting.wsol_paper import (
    BACKBONES,
    DATASET_TITLES,
    DATASETS,
    PAPER_R,
    PAPER_TABLE4,
    PAPER_TABLE5,
    PAPER_TABLE6,
)

CAM_ORDER = {"cam": 0, "infocam": 1, "infocam_plus": 2, "gradcam": 3}
METHOD_TITLES = {"cam": "CAM", "infocam": "infoCAM", "infocam_plus": "infoCAM+"}
SETTINGS = ["cam", "region_size", "alignment", "subtract"]
METRICS = [
    "gt_known_loc",
    "top1_loc",
    "top1_cls",
    "top5_cls",
    "maxboxacc_v2",
    "maxboxacc_v2_iou30",
    "maxboxacc_v2_iou50",
    "maxboxacc_v2_iou70",
    "maxboxacc_v2_iou50_threshold",
    "pxap",
    "num_images",
]
CONTEXT = ["dataset", "backbone", "model", "adl", "threshold", "iou_threshold", "settings"]
COLUMNS = SETTINGS + METRICS + CONTEXT + ["seconds", "run"]
#: averaged within a row of Tables 4-6
AVERAGED = ["gt_known_loc", "top1_loc", "top1_cls", "top5_cls", "maxboxacc_v2", "maxboxacc_v2_iou50_threshold"]


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def is_eval_run(run: RunRecord) -> bool:
    """``infocam-eval`` writes config.yaml without the ``train`` key that ``infocam-train`` has."""
    return "train" not in run.config and "test/gt_known_loc" in run.metrics


def _run_row(run: RunRecord, root: Path) -> dict[str, Any]:
    config, m = run.config, run.metrics
    # the eval's cam=..., else the cam the checkpoint was trained with
    cam = dict(_plain(config.get("cam") or (config.get("task") or {}).get("cam")) or {})
    name = cam.get("name", "checkpoint default")
    subtract = cam.get("subtract")
    if subtract is None:
        subtract = {"cam": False, "infocam": "mean", "infocam_plus": "least likely", "gradcam": False}.get(name)
    elif name == "infocam":
        subtract = "mean" if subtract else False
    if cam.get("method"):  # cam=pytorch_grad_cam: the package's method names the row
        name, subtract = f"{name}:{cam['method']}", False if subtract is None else subtract
    model = dict(_plain(config.get("model")) or {})
    data = dict(_plain(config.get("data")) or {})
    target = str(data.get("_target_", "")).rsplit(".", 1)[-1]
    loc = {**default_localization(), **dict(_plain(config.get("localization") or (config.get("task") or {}).get("localization")) or {})}
    dataset = DATASETS.get(target, target or "unknown")
    title = run.dataset_title(DATASET_TITLES.get(dataset, dataset))
    if title != DATASET_TITLES.get(dataset, dataset):  # a stand-in: its own tables, never beside the paper's
        dataset = title
    return {
        "cam": name,
        "region_size": int(cam.get("region_size", 1) or 1),
        # R = 1 has no region sum, so no alignment: both settings give the same maps (one row)
        "alignment": cam.get("alignment", "same") if int(cam.get("region_size", 1) or 1) > 1 else "none",
        "subtract": subtract,
        **{k: m.get(f"test/{k}") for k in METRICS},
        "dataset": dataset,
        "model": model.get("name"),
        "backbone": BACKBONES.get(model.get("name"), model.get("name")),
        "adl": bool((model.get("adl") or {}).get("enabled", False)),
        "threshold": float(loc["threshold"]),
        "iou_threshold": float(loc["iou_threshold"]),
        "settings": settings_label(loc),
        "seconds": m.get("seconds"),
        "run": str(run.directory.relative_to(root)) if run.directory != root else ".",
        "checkpoint": str(config["ckpt_path"]) if config.get("ckpt_path") else None,  # pairs evals (wsol_paired)
    }


def wsol_rows(sweep_dir: str | Path) -> Collected:
    """One row per eval run below ``sweep_dir``, sorted by dataset, backbone, ADL, method, R;
    broken runs (unreadable files, a null headline metric) are named and skipped."""
    root = Path(sweep_dir)
    runs = collect_runs(sweep_dir)
    rows = Collected(skipped=runs.skipped)
    for run in runs:
        if not is_eval_run(run):
            continue
        if run.metrics["test/gt_known_loc"] is None:
            rows.skip(run.directory, "test/gt_known_loc is null (not finite)")
            continue
        rows.append(_run_row(run, root))
    rows.sort(key=lambda r: (r["dataset"], str(r["backbone"]), r["adl"], CAM_ORDER.get(r["cam"], 9), r["cam"],
                             r["region_size"], str(r["subtract"]), r["alignment"], r["run"]))
    return require_rows(rows, "WSOL run (an infocam-eval metrics.json with test/gt_known_loc)", sweep_dir)


def settings_label(loc: dict[str, Any]) -> str:
    """The localisation settings a row's numbers depend on, as text: rows of different settings
    are never averaged together (an IoU list of [1.5] scores 0)."""
    ious = loc["iou_thresholds"]
    ious = "/".join(f"{float(v):g}" for v in ious) if isinstance(ious, (list, tuple)) else str(ious)
    curve = loc["curve_thresholds"]
    curve = f"{len(curve)} listed" if isinstance(curve, (list, tuple)) else f"{curve}"
    return (f"box {float(loc['threshold']):g}, IoU {float(loc['iou_threshold']):g}, V2 IoUs {ious}, "
            f"{curve} map thresholds, {loc['protocol']}, {loc['connectivity']}-connected")


def _runs_cell(runs: int, settings: str, rows: list[dict]) -> str:
    """``runs``, naming the settings when the report holds rows of more than one."""
    return f"{runs} ({settings})" if len({r["settings"] for r in rows}) > 1 else str(runs)


# -- grouping into the paper's tables -------------------------------------------------------
def table4_method(row: dict) -> str | None:
    """CAM (R = 1, no subtraction), infoCAM / infoCAM+ (R > 1); other variants are ablations."""
    if row["cam"] in ("cam", "infocam") and not row["subtract"] and row["region_size"] == 1:
        return "cam"
    if row["cam"] == "infocam" and row["subtract"] and row["region_size"] > 1:
        return "infocam"
    if row["cam"] == "infocam_plus" and row["region_size"] > 1:
        return "infocam_plus"
    return None


def table6_flags(row: dict) -> tuple[bool, bool] | None:
    """(region sum used, subtraction used) for CAM/infoCAM maps with the mean subtraction or none."""
    if row["cam"] not in ("cam", "infocam"):
        return None
    return row["region_size"] > 1, bool(row["subtract"])


def _average(rows: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(rows)}
    for key in AVERAGED:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    return out


def _group(rows: Iterable[dict], key) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        k = key(row)
        if k is not None:
            groups[k].append(row)
    return groups


def _pct(value, digits: int = 2) -> str:
    return "" if value is None else f"{100 * value:.{digits}f}"


def _num(value, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _paper(pair, index: int) -> str:
    return "" if pair is None else f"{pair[index]:.2f}"


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def table4_markdown(rows: list[dict], dataset: str) -> list[str]:
    groups = _group((r for r in rows if r["dataset"] == dataset),
                    lambda r: (str(r["backbone"]), table4_method(r), r["adl"], r["region_size"], r["alignment"], r["settings"])
                    if table4_method(r) else None)
    lines = [
        f"### Table 4: localisation on {DATASET_TITLES.get(dataset, dataset)}",
        "",
        "| backbone | method | ADL | R | alignment | GT-known Loc | Top-1 Loc | MaxBoxAccV2 | its threshold (IoU 50) | paper GT-known Loc | paper Top-1 Loc | runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (backbone, method, adl, region, alignment, settings), members in sorted(groups.items(), key=lambda kv: (kv[0][0], CAM_ORDER[kv[0][1]], *kv[0][2:])):
        avg = _average(members)
        paper_r = PAPER_R.get((dataset, backbone))
        same_r = method == "cam" or region == paper_r
        paper = PAPER_TABLE4.get((dataset, backbone, method, adl)) if same_r else None
        lines.append(
            f"| {backbone} | {METHOD_TITLES[method]} | {_yn(adl)} | {region} | {alignment} | {_pct(avg['gt_known_loc'])} | "
            f"{_pct(avg['top1_loc'])} | {_pct(avg['maxboxacc_v2'])} | {_num(avg['maxboxacc_v2_iou50_threshold'])} | "
            f"{_paper(paper, 0)} | {_paper(paper, 1)} | {_runs_cell(avg['runs'], settings, rows)} |"
        )
    return lines + [""]


def table5_markdown(rows: list[dict]) -> list[str]:
    # one classification per checkpoint: de-duplicate the evals of the same trained run
    groups = _group(rows, lambda r: (r["dataset"], str(r["backbone"]), r["adl"]))
    lines = [
        "### Table 5: classification",
        "",
        "| dataset | backbone | ADL | Top-1 Cls | Top-5 Cls | paper Top-1 Cls | paper Top-5 Cls | eval runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, backbone, adl), members in sorted(groups.items()):
        avg = _average(members)
        paper = PAPER_TABLE5.get((dataset, backbone, adl))
        lines.append(
            f"| {DATASET_TITLES.get(dataset, dataset)} | {backbone} | {_yn(adl)} | {_pct(avg['top1_cls'])} | "
            f"{_pct(avg['top5_cls'])} | {_paper(paper, 0)} | {_paper(paper, 1)} | {avg['runs']} |"
        )
    return lines + [""]


def table6_markdown(rows: list[dict]) -> list[str]:
    groups = _group(rows, lambda r: (r["dataset"], str(r["backbone"]), r["adl"], *table6_flags(r), r["region_size"], r["alignment"],
                                     r["settings"]) if table6_flags(r) else None)
    lines = [
        "### Table 6: ablation of the region sum R and the subtraction term (Eq. 14)",
        "",
        "| dataset | backbone | ADL | R | alignment | region sum | subtraction | GT-known Loc | Top-1 Loc | MaxBoxAccV2 | its threshold (IoU 50) | paper GT-known Loc | paper Top-1 Loc | runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, backbone, adl, use_r, use_sub, region, alignment, settings), members in sorted(groups.items()):
        avg = _average(members)
        right_r = not use_r or region == PAPER_R.get((dataset, backbone))
        if use_r and use_sub:  # the full infoCAM is Table 4's row
            paper = PAPER_TABLE4.get((dataset, backbone, "infocam", adl))
        else:
            paper = PAPER_TABLE6.get((dataset, backbone, adl, use_r, use_sub))
        paper = paper if right_r else None
        lines.append(
            f"| {DATASET_TITLES.get(dataset, dataset)} | {backbone} | {_yn(adl)} | {region} | {alignment} | {_yn(use_r)} | {_yn(use_sub)} | "
            f"{_pct(avg['gt_known_loc'])} | {_pct(avg['top1_loc'])} | {_pct(avg['maxboxacc_v2'])} | "
            f"{_num(avg['maxboxacc_v2_iou50_threshold'])} | {_paper(paper, 0)} | {_paper(paper, 1)} | "
            f"{_runs_cell(avg['runs'], settings, rows)} |"
        )
    return lines + [""]


def settings_sentence(rows: list[dict]) -> str:
    """The runs' actual box threshold and IoU (from their config.yaml), not the defaults."""
    thresholds = sorted({r["threshold"] for r in rows})
    ious = sorted({r["iou_threshold"] for r in rows})

    def listing(values: list[float]) -> str:
        return ", ".join(f"{v:g}" for v in values)

    if len(thresholds) == 1 and len(ious) == 1:
        return (f"GT-known / Top-1 Loc: box of the largest component above {100 * thresholds[0]:g}% of the map's range, "
                f"hit at IoU >= {ious[0]:g} with any ground-truth box (every run).")
    return (f"GT-known / Top-1 Loc: the runs differ -- box thresholds {listing(thresholds)}, IoU thresholds "
            f"{listing(ious)}; see the threshold and IoU columns of the table of all runs.")


def all_runs_markdown(rows: list[dict]) -> list[str]:
    lines = [
        "### All eval runs",
        "",
        "| cam | R | alignment | subtract | GT-known Loc | Top-1 Loc | Top-1 Cls | Top-5 Cls | MaxBoxAccV2 | @30 | @50 | @70 | "
        "threshold @50 | PxAP | dataset | model | ADL | box threshold | IoU | images | seconds | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cam']} | {r['region_size']} | {r['alignment']} | {r['subtract']} | {_pct(r['gt_known_loc'])} | "
            f"{_pct(r['top1_loc'])} | {_pct(r['top1_cls'])} | {_pct(r['top5_cls'])} | {_pct(r['maxboxacc_v2'])} | "
            f"{_pct(r['maxboxacc_v2_iou30'])} | {_pct(r['maxboxacc_v2_iou50'])} | {_pct(r['maxboxacc_v2_iou70'])} | "
            f"{_num(r['maxboxacc_v2_iou50_threshold'])} | {_pct(r['pxap'])} | {r['dataset']} | {r['model']} | {_yn(r['adl'])} | "
            f"{r['threshold']:g} | {r['iou_threshold']:g} | {_num(r['num_images'], 0)} | {_num(r['seconds'], 1)} | {r['run']} |"
        )
    return lines + [""]


def rows_to_markdown(rows: list[dict], source: str) -> str:
    lines = [
        "# Weakly-supervised localisation: CAM vs infoCAM vs infoCAM+",
        "",
        f"Built by `infocam-report kind=wsol` from the metrics.json and config.yaml of the eval runs under `{source}`.",
        f"Accuracies in %. {settings_sentence(rows)} MaxBoxAccV2: mean over IoU 30/50/70 of the best map",
        "threshold's accuracy, boxes of all components (Choe et al., CVPR 2020); `its threshold` is the map",
        "threshold it chose at IoU 0.5 (the paper's numbers use a fixed 0.2). `paper` columns: Tables 4-6 of the",
        "paper (R = 5 for VGG and 4 for ResNet on CUB, 3 on Tiny-ImageNet; shown only for that R). The paper's",
        "Tiny-ImageNet numbers come from code that read the box files' corners as (x, y, width, height); its",
        "Table 6b is captioned CUB/ResNet50 but repeats Table 4's Tiny-ImageNet ResNet CAM rows, so it is",
        "shown beside Tiny-ImageNet. Backbones other than vgg16_gap / resnet50_wsol have no paper numbers.",
        "`alignment`: the region sum's border -- `same` (window centred, the map keeps its size), `full` (the",
        "authors' zero-padded sum: the map grows to h + R - 1 and is stretched over the image), `none` (R = 1).",
        "The paper's numbers come from `full` (their released CUB code used R = 4 for both backbones).",
        "",
    ]
    if not rows:
        return "\n".join(lines + ["No eval run (infocam-eval) with localisation metrics was found.", ""])
    for dataset in sorted({r["dataset"] for r in rows}):
        lines += table4_markdown(rows, dataset)
    lines += table5_markdown(rows)
    lines += table6_markdown(rows)
    lines += all_runs_markdown(rows)
    return "\n".join(lines)


def write_wsol_table(sweep_dir: str, out_dir: str, stem: str = "wsol_eval") -> list[Path]:
    """``<stem>.csv`` and ``<stem>.md`` (with each run's overlay grid copied to ``<stem>_overlays/``); with per-image results of a CAM eval and another eval of the
    same checkpoint, also ``<stem>_paired.csv`` and the paired sections of the Markdown."""
    from infocam.reporting.wsol_paired import PAIRED_COLUMNS, paired_markdown, paired_rows, seed_rows

    rows = wsol_rows(sweep_dir)
    out = Path(out_dir)
    paired = paired_rows(rows, sweep_dir)
    overlays, pictures = collect_overlays(rows, sweep_dir, out, stem)
    markdown = rows_to_markdown(rows, sweep_dir) + "\n".join(paired_markdown(paired, seed_rows(paired)))
    markdown += ("\n" + "\n".join(overlays)) if overlays else ""
    texts = {f"{stem}.csv": rows_to_csv(rows, COLUMNS), f"{stem}.md": markdown + skipped_markdown(rows)}
    if paired:
        texts[f"{stem}_paired.csv"] = rows_to_csv(paired, PAIRED_COLUMNS)
    return [atomic_write_text(out / name, text) for name, text in texts.items()] + pictures
