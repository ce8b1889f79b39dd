"""Reports (reports/*.csv|md|png) built only from the metrics.json files runs wrote."""

from infocam.reporting.dispatch import build_report

__all__ = ["build_report"]
