"""LightningModules: they wire a registered model, loss and metrics; the science lives there."""

from infocam.tasks.classify import ClassificationModule
from infocam.tasks.mi import MIEstimationModule
from infocam.tasks.wsol import WSOLModule

__all__ = ["ClassificationModule", "MIEstimationModule", "WSOLModule"]
