"""torchmetrics Metrics and reference estimators."""

from infocam.metrics.localization import BoxAccuracy, MaxBoxAccV2, PxAP
from infocam.metrics.ink import InkSurvival
from infocam.metrics.mutual_information import VariationalMIBound

__all__ = ["BoxAccuracy", "InkSurvival", "MaxBoxAccV2", "PxAP", "VariationalMIBound"]
