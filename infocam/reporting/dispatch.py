"""``infocam-report kind=...``: one builder per report kind."""

from __future__ import annotations

from typing import Callable

from omegaconf import DictConfig

from infocam.errors import ConfigError
from infocam.reporting.classification import write_classification_report
from infocam.reporting.infomask import write_infomask_report
from infocam.reporting.mi_table import write_mi_table2
from infocam.reporting.mi_zoo import write_mi_zoo
from infocam.reporting.wsol import write_wsol_table

REPORTS: dict[str, Callable[[str, str], list]] = {
    "mi_table2": write_mi_table2,
    "classification": write_classification_report,
    "wsol": write_wsol_table,
    "infomask": write_infomask_report,
    "mi_zoo": write_mi_zoo,
}


def build_report(cfg: DictConfig) -> list:
    if cfg.kind not in REPORTS:
        raise ConfigError(f"unknown report kind {cfg.kind!r}. Known: {', '.join(sorted(REPORTS))}")
    written = REPORTS[cfg.kind](str(cfg.sweep_dir), str(cfg.out_dir))
    for path in written:
        print(f"wrote {path}")
    settings = cfg.get("report") or {}
    if settings.get("wandb"):
        from infocam.reporting.wandb_push import push_report

        print(f"wandb run {push_report(written, cfg.sweep_dir, cfg.kind, settings, cfg.out_dir)}")
    return written
