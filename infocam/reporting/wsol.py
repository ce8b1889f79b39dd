"""WSOL table (``infocam-report kind=wsol``) from the metrics.json of eval runs: one row per
(cam, region_size, ...) run, e.g. a multirun over ``cam=cam,infocam,infocam_plus`` x
``cam.region_size=1,3,5``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from infocam.io import atomic_write_text
from infocam.reporting.collect import Collected, collect_runs, require_rows, rows_to_csv, skipped_markdown

CAM_ORDER = {"cam": 0, "infocam": 1, "infocam_plus": 2, "gradcam": 3}
SETTINGS = ["cam", "region_size", "alignment", "subtract"]
METRICS = [
    "gt_known_loc",
    "top1_loc",
    "top1_cls",
    "maxboxacc_v2",
    "maxboxacc_v2_iou30",
    "maxboxacc_v2_iou50",
    "maxboxacc_v2_iou70",
    "pxap",
    "num_images",
]
COLUMNS = SETTINGS + METRICS + ["seconds", "run"]


def wsol_rows(sweep_dir: str | Path) -> Collected:
    runs = collect_runs(sweep_dir)
    rows = Collected(skipped=runs.skipped)
    root = Path(sweep_dir)
    for run in runs:
        m = run.metrics
        if "test/gt_known_loc" not in m:
            continue
        if m["test/gt_known_loc"] is None:
            rows.skip(run.directory, "test/gt_known_loc is null (not finite)")
            continue
        # the eval's cam=..., else the cam the checkpoint was trained with
        node = run.config.get("cam") or (run.config.get("task") or {}).get("cam")
        cam = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node or {})
        name = cam.get("name", "checkpoint default")
        subtract = cam.get("subtract")
        if subtract is None:
            subtract = {"cam": False, "infocam": "mean", "infocam_plus": "least likely", "gradcam": False}.get(name)
        elif name == "infocam":
            subtract = "mean" if subtract else False
        row = {
            "cam": name,
            "region_size": cam.get("region_size"),
            "alignment": cam.get("alignment", "same"),
            "subtract": subtract,
            **{k: m.get(f"test/{k}") for k in METRICS},
            "seconds": m.get("seconds"),
            "run": str(run.directory.relative_to(root)) if run.directory != root else ".",
        }
        rows.append(row)
    rows.sort(key=lambda r: (CAM_ORDER.get(r["cam"], 9), r["cam"], r["region_size"] or 0, r["alignment"], r["run"]))
    return require_rows(rows, "WSOL run (metrics.json with test/gt_known_loc)", sweep_dir)


def _fmt(value, percent: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{100 * value:.2f}" if percent else f"{value:.1f}"
    return str(value)


def rows_to_markdown(rows: list[dict], source: str) -> str:
    lines = [
        "# Weakly-supervised localisation: CAM vs infoCAM vs infoCAM+",
        "",
        f"Built by `infocam-report kind=wsol` from the metrics.json files under `{source}`.",
        "Accuracies in %. GT-known/Top-1 Loc: box of the largest component above 20% of the map's range,",
        "hit at IoU >= 0.5 with any ground-truth box. MaxBoxAccV2: mean over IoU 30/50/70 of the best",
        "map threshold's accuracy, boxes of all components (Choe et al., CVPR 2020).",
        "",
        "| cam | R | alignment | subtract | GT-known Loc | Top-1 Loc | Top-1 Cls | MaxBoxAccV2 | @30 | @50 | @70 | PxAP | images | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cam']} | {_fmt(r['region_size'])} | {r['alignment']} | {_fmt(r['subtract'])} | "
            f"{_fmt(r['gt_known_loc'])} | {_fmt(r['top1_loc'])} | {_fmt(r['top1_cls'])} | {_fmt(r['maxboxacc_v2'])} | "
            f"{_fmt(r['maxboxacc_v2_iou30'])} | {_fmt(r['maxboxacc_v2_iou50'])} | {_fmt(r['maxboxacc_v2_iou70'])} | "
            f"{_fmt(r['pxap'])} | {_fmt(r['num_images'], percent=False)} | {_fmt(r['seconds'], percent=False)} |"
        )
    return "\n".join(lines) + "\n"


def write_wsol_table(sweep_dir: str, out_dir: str, stem: str = "wsol_eval") -> list[Path]:
    rows = wsol_rows(sweep_dir)
    out = Path(out_dir)
    csv_text, markdown = rows_to_csv(rows, COLUMNS), rows_to_markdown(rows, sweep_dir) + skipped_markdown(rows)
    return [atomic_write_text(out / f"{stem}.csv", csv_text), atomic_write_text(out / f"{stem}.md", markdown)]
