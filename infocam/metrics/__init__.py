"""torchmetrics Metrics and reference estimators."""

from infocam.metrics.localization import BoxAccuracy, MaxBoxAccV2, PxAP
from infocam.metrics.mutual_information import VariationalMIBound

__all__ = ["BoxAccuracy", "MaxBoxAccV2", "PxAP", "VariationalMIBound"]
