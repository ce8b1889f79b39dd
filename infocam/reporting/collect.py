"""Find the runs of a (multi)run directory and read what they wrote."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.runtime.io import read_metrics

log = logging.getLogger(__name__)


@dataclass
class RunRecord:
    directory: Path
    config: Any  # the run's DictConfig, every ``${...}`` kept as text (see read_config)
    metrics: dict[str, Any]

    @property
    def data_summary(self) -> dict[str, Any]:
        """The run's ``data_summary.json`` (what its DataModule served, with the data's
        ``display_name``), or ``{}`` when it has none or it cannot be read."""
        path = self.directory / "data_summary.json"
        try:
            summary = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError):
            return {}
        return summary if isinstance(summary, dict) else {}

    def dataset_title(self, default: str) -> str:
        """The data's own name for people: a stand-in's record says what it is; else ``default``."""
        name = self.data_summary.get("display_name")
        return name if isinstance(name, str) and name.strip() else default


def _literal(text: str) -> str:
    """``text`` escaped for OmegaConf so that it reads back as itself: each ``${`` after k
    backslashes gets 2k + 1 (OmegaConf's grammar: ``\\${`` is a literal ``${``)."""
    return re.sub(r"(\\*)\$\{", lambda m: m.group(1) * 2 + "\\${", text)


def _literals(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _literals(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_literals(value) for value in node]
    return _literal(node) if isinstance(node, str) and "${" in node else node


def read_config(path: str | Path) -> Any:
    """A run's ``config.yaml`` with no interpolation resolved: runs write it resolved, so any
    ``${...}`` left in one was put there by hand, and resolving it would run resolvers
    (``${oc.env:SECRET}`` would copy an environment secret into a report). It stays text."""
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    return OmegaConf.create(_literals(raw))


def non_number(metrics: Mapping[str, Any], path: Path) -> str | None:
    """Why ``metrics`` is unusable when a value is not a number or null (reports do arithmetic on every one)."""
    for key, value in metrics.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            return f"{path.name}: {key!r} holds {type(value).__name__} {shown}, not a number"
    return None


class Collected(list):
    """Runs (or report rows) found, with the broken runs skipped on the way: ``skipped`` holds
    ``(run directory, reason)``; reports list them under their table."""

    def __init__(self, items: Iterable[Any] = (), skipped: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(items)
        self.skipped: list[tuple[str, str]] = list(skipped)

    def skip(self, directory: str | Path, reason: str) -> None:
        log.warning("skipping run %s: %s", directory, reason)
        self.skipped.append((str(directory), reason))


def collect_runs(sweep_dir: str | Path) -> Collected:
    """Every run below ``sweep_dir`` with a readable metrics.json and config.yaml; runs whose
    files are corrupt or missing are named in ``.skipped`` instead of stopping the report."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise DataError(f"sweep directory {root} does not exist")
    records = Collected()
    for metrics_file in sorted(root.rglob("metrics.json")):
        config_file = metrics_file.with_name("config.yaml")
        if not config_file.is_file():
            records.skip(metrics_file.parent, "config.yaml is missing")
            continue
        try:
            metrics = read_metrics(metrics_file)
        except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            records.skip(metrics_file.parent, f"{metrics_file.name} is not valid JSON ({err})")
            continue
        if not isinstance(metrics, dict):
            records.skip(metrics_file.parent, f"{metrics_file.name} holds a {type(metrics).__name__}, not an object")
            continue
        reason = non_number(metrics, metrics_file)
        if reason:
            records.skip(metrics_file.parent, reason)
            continue
        try:
            config = read_config(config_file)
        except Exception as err:  # noqa: BLE001  (any YAML or OmegaConf failure)
            records.skip(metrics_file.parent, f"config.yaml cannot be read ({str(err).splitlines()[0] if str(err) else err!r})")
            continue
        records.append(RunRecord(metrics_file.parent, config, metrics))
    if not records:
        broken = "".join(f"; {d}: {reason}" for d, reason in records.skipped[:5])
        raise DataError(f"no run with metrics.json and config.yaml below {root}{broken}")
    return records


def require_rows(rows: Collected, what: str, sweep_dir: str | Path) -> Collected:
    """Refuse a report with no run of its kind (nothing is written)."""
    if not rows:
        note = f" ({len(rows.skipped)} broken run(s) skipped)" if rows.skipped else ""
        raise DataError(f"no {what} below {sweep_dir}{note}; is this the right kind= for this sweep?")
    return rows


def skipped_markdown(rows: Any) -> str:
    """The 'Skipped runs' section listed under a table (empty when nothing was skipped)."""
    skipped = getattr(rows, "skipped", [])
    if not skipped:
        return ""
    lines = ["", "## Skipped runs", ""] + [f"- `{directory}`: {reason}" for directory, reason in skipped]
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text of ``rows`` restricted to ``columns``; floats to 6 significant digits, None empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()
