"""Find the runs of a (multi)run directory and read what they wrote."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.io import read_metrics


@dataclass
class RunRecord:
    directory: Path
    config: Any  # resolved DictConfig of the run
    metrics: dict[str, Any]


def collect_runs(sweep_dir: str | Path) -> list[RunRecord]:
    """Every run below ``sweep_dir`` that has both metrics.json and config.yaml."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise DataError(f"sweep directory {root} does not exist")
    records = []
    for metrics_file in sorted(root.rglob("metrics.json")):
        config_file = metrics_file.with_name("config.yaml")
        if not config_file.is_file():
            continue
        records.append(RunRecord(metrics_file.parent, OmegaConf.load(config_file), read_metrics(metrics_file)))
    if not records:
        raise DataError(f"no run with metrics.json and config.yaml below {root}")
    return records


def rows_to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text of ``rows`` restricted to ``columns``; floats to 6 significant digits, None empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()
