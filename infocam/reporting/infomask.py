"""Info-masking results: ``reports/infomask.{csv,md}`` from metrics.json files, and the
picture grid (image, score map, info-masked and CAM-masked image; paper 2's Figure 2 shows
the first and third)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch

from infocam.errors import DataError
from infocam.runtime.io import atomic_write_text
from infocam.reporting.collect import collect_runs, rows_to_csv
from infocam.plotting.figures import figure_png

MASK_ROWS = (("infomask", "info-mask (§4)"), ("cammask", "CAM map"), ("randommask", "random, same area"))
SETTING_COLUMNS = ("patch_size", "threshold", "stride", "aggregate", "score", "gain_over_blank")
RUN_COLUMNS = [
    "target_digit", "seed", "cam", "patch_size", "threshold", "stride", "aggregate", "score", "gain_over_blank", "acc",
    *(f"{m}_{o}_ink" for m, _ in MASK_ROWS for o in ("target", "other")), "seconds", "directory",
]


def run_rows(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One row per run below ``sweep_dir`` that logged the info-mask scores."""
    rows = []
    for run in collect_runs(sweep_dir):
        if "test/infomask_target_ink" not in run.metrics:
            continue
        settings = run.config.get("infomask") or {}
        task = run.config.get("task") or {}
        cam = run.config.get("cam") or task.get("cam") or {}  # infocam-eval cam=... replaces the trained one
        row = {
            "target_digit": run.config.get("data", {}).get("target_digit"),
            "seed": run.config.get("seed"),
            "cam": cam.get("name"),
            **{key: settings.get(key, (task.get("infomask") or {}).get(key)) for key in SETTING_COLUMNS},
            "acc": run.metrics.get("test/acc"),
            "seconds": run.metrics.get("seconds"),
            "directory": str(run.directory),
        }
        for mask, _ in MASK_ROWS:
            for owner in ("target", "other"):
                row[f"{mask}_{owner}_ink"] = run.metrics.get(f"test/{mask}_{owner}_ink")
        rows.append(row)
    if not rows:
        raise DataError(f"no info-mask run (metrics.json with test/infomask_target_ink) below {sweep_dir}")
    return rows


def _cell(values: list[float | None]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f}" if len(values) < 2 else f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def _settings_line(row: dict[str, Any]) -> str:
    score = f"{row['score']}{' minus the blank image' if row['gain_over_blank'] else ''}"
    stride = row["stride"] if row["stride"] is not None else row["patch_size"]
    return f"score {score}, windows {row['patch_size']} px at stride {stride} ({row['aggregate']}), threshold {row['threshold']}"


def table_markdown(rows: list[dict[str, Any]], source: str) -> str:
    lines = [
        "# Info-masking: how much of each digit's ink survives the mask (%)",
        "",
        f"Built by `infocam-report kind=infomask` from the runs under `{source}`. Test split of the "
        "composites; ink is intensity-weighted and summed over all test images. Higher target ink and "
        "lower other ink is better. Mean (± sample std over runs).",
        "",
    ]
    # one table per target digit and info-mask setting: runs that differ in either are not averaged
    for digit, how in sorted({(r["target_digit"], _settings_line(r)) for r in rows}, key=lambda k: (str(k[0]), k[1])):
        subset = [r for r in rows if r["target_digit"] == digit and _settings_line(r) == how]
        cams = ", ".join(sorted({str(r["cam"]) for r in subset}))
        lines += [
            f"## target digit {digit} ({len(subset)} runs, test accuracy {_cell([r['acc'] for r in subset])} %)",
            "",
            f"Info-mask settings: {how}.",
            "",
            "| mask | target ink kept ↑ | other ink kept ↓ |",
            "|---|---|---|",
        ]
        for mask, title in MASK_ROWS:
            name = f"{title} (cam={cams})" if mask == "cammask" else title
            target, other = (_cell([r[f"{mask}_{owner}_ink"] for r in subset]) for owner in ("target", "other"))
            lines.append(f"| {name} | {target} | {other} |")
        lines.append("")
    total = sum(r["seconds"] or 0 for r in rows)
    lines.append(f"{len(rows)} runs, {total:.0f} s of run time in total.")
    return "\n".join(lines) + "\n"


def write_infomask_report(sweep_dir: str, out_dir: str) -> list[Path]:
    """``infomask.csv`` (one row per run) and ``infomask.md`` (per target digit, per mask)."""
    rows = sorted(run_rows(sweep_dir), key=lambda r: (str(r["target_digit"]), str(r["seed"]), r["directory"]))
    out = Path(out_dir)
    # both files are rendered before the first is written: a failure leaves nothing partial
    csv_text, markdown = rows_to_csv(rows, RUN_COLUMNS), table_markdown(rows, sweep_dir)
    return [atomic_write_text(out / "infomask.csv", csv_text), atomic_write_text(out / "infomask.md", markdown)]


def infomask_grid_png(examples: dict[str, torch.Tensor], title: str = "", fill: float | None = None) -> bytes:
    """Rows of (image, score map, info-masked image, CAM-masked image); the paper's Figure 2
    shows an image and its info-masked version.

    ``examples``: ``images [N, 1, H, W]``, ``pmi [N, H, W]``, ``infomask``/``cammask``
    ``[N, H, W]`` bool, ``labels [N]``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from infocam.infomask.masking import masked_images

    images = examples["images"].float()
    columns = [
        ("image", images[:, 0], "gray"),
        ("score (mean of windows)", examples["pmi"], "RdBu_r"),
        ("info-masked", masked_images(images, examples["infomask"], fill)[:, 0], "gray"),
        ("CAM-masked", masked_images(images, examples["cammask"], fill)[:, 0], "gray"),
    ]
    n = len(images)
    fig, axes = plt.subplots(n, len(columns), figsize=(2.4 * len(columns), 1.3 * n + 0.5), squeeze=False)
    for i in range(n):
        for j, (name, values, cmap) in enumerate(columns):
            ax = axes[i, j]
            if cmap == "RdBu_r":
                bound = float(values[i].abs().max()) or 1.0
                ax.imshow(values[i].numpy(), cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
            else:
                ax.imshow(values[i].numpy(), cmap=cmap, vmin=float(images[i].min()), vmax=float(images[i].max()),
                          interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"y={int(examples['labels'][i])}", fontsize=8)
    fig.suptitle(title, fontsize=8)
    return figure_png(fig, dpi=90)
