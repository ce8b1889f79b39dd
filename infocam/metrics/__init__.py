"""torchmetrics Metrics and reference estimators."""

from infocam.metrics.mutual_information import VariationalMIBound

__all__ = ["VariationalMIBound"]
