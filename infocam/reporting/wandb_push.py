"""``infocam-report ... report.wandb=true``: the report's files as one wandb run beside the sweep's runs.

The run joins the group the sweep's runs were logged in (``<task_name>-<sweep dir name>`` for a
multirun, ``<task_name>`` for single runs; see :mod:`infocam.runtime.wandb_logger`), so the dashboard
shows the grid's runs and its table together. CSV files become ``wandb.Table``s, PNG files
``wandb.Image``s, keyed ``report/<name>`` and ``report/<name>_png``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Mapping

from infocam.reporting.collect import read_config


def sweep_group(sweep_dir: Path) -> str:
    """The wandb group of the runs below ``sweep_dir`` (read from their ``config.yaml``)."""
    configs = sorted(Path(sweep_dir).glob("**/config.yaml"))
    task_name = str(read_config(configs[0]).get("task_name", "report")) if configs else "report"
    if (Path(sweep_dir) / "multirun.yaml").is_file():
        return f"{task_name}-{Path(sweep_dir).name}"
    return task_name


def _cell(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def push_report(written: Iterable[str | Path], sweep_dir: str | Path, kind: str, settings: Mapping[str, Any],
                out_dir: str | Path) -> str:
    """Log every CSV/PNG of ``written`` to a new wandb run; returns the run's directory."""
    import wandb

    run = wandb.init(
        project=settings.get("project", "infocam"),
        group=sweep_group(Path(sweep_dir)),
        name=f"report-{kind}",
        job_type="report",
        tags=["report", f"report:{kind}"],
        dir=str(out_dir),
        mode="offline" if settings.get("offline", True) else None,
        config={"kind": kind, "sweep_dir": str(sweep_dir)},
    )
    try:
        payload: dict[str, Any] = {}
        for path in map(Path, written):
            key = f"report/{path.stem}"
            if path.suffix == ".csv":
                with path.open(newline="") as handle:
                    rows = list(csv.reader(handle))
                payload[key] = wandb.Table(columns=rows[0], data=[[_cell(v) for v in row] for row in rows[1:]])
            elif path.suffix == ".png":
                payload[f"{key}_png"] = wandb.Image(str(path), caption=path.name)
        run.log(payload)
        return str(run.dir)
    finally:
        run.finish()
