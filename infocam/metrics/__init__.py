"""torchmetrics Metrics and reference estimators. The localisation metrics live with their
protocol in :mod:`infocam.localization` (``paper_metrics``, ``wsoleval.metrics``)."""

from infocam.metrics.ink import InkSurvival
from infocam.metrics.mutual_information import VariationalMIBound

__all__ = ["InkSurvival", "VariationalMIBound"]
