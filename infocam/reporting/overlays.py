"""The WSOL report's overlay section: each eval run's ``overlays/wsol_overlays.png`` (drawn by
:mod:`infocam.plotting` in the test step), copied beside the report and shown under its row's
settings, so the report reads on its own (and travels to W&B) without the run directories."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from infocam.runtime.io import atomic_write_bytes

#: where the WSOL test step writes its grid, relative to the run directory
RUN_OVERLAYS = Path("overlays") / "wsol_overlays.png"


def _slug(run: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run).strip("._") or "run"  # "." (the sweep is the run): run.png


def collect_overlays(rows: Iterable[dict[str, Any]], sweep_dir: str | Path, out_dir: str | Path,
                     stem: str) -> tuple[list[str], list[Path]]:
    """(Markdown lines of the ``Overlays`` section, the PNGs copied to ``<out>/<stem>_overlays/``);
    runs without a grid (``localization.num_overlays=0``) are left out, and no grid: no section."""
    root, out = Path(sweep_dir), Path(out_dir)
    lines: list[str] = []
    written: list[Path] = []
    seen: set[str] = set()
    for row in rows:
        source = (root / row["run"]) / RUN_OVERLAYS
        if row["run"] in seen or not source.is_file():
            continue
        seen.add(row["run"])
        name = f"{stem}_overlays/{_slug(row['run'])}.png"
        written.append(atomic_write_bytes(out / name, source.read_bytes()))
        label = f"{row['cam']}, R = {row['region_size']}, {row['dataset']}, {row['backbone']}"
        lines += [f"**{row['run']}** ({label})", "", f"![overlays of {row['run']}]({name})", ""]
    if not lines:
        return [], []
    heading = ["## Overlays", "", "The first test images of each run under their ground-truth-class map: "
               "green the predicted box, red the ground truth; each panel gives label, prediction and IoU.", ""]
    return heading + lines, written
