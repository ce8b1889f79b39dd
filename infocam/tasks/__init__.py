"""LightningModules: they wire a registered model, loss and metrics; the science lives there."""

from infocam.tasks.classify import ClassificationModule
from infocam.tasks.mi import MIEstimationModule

__all__ = ["ClassificationModule", "MIEstimationModule"]
