"""LightningModules: they wire a registered model, loss and metrics; the science lives there."""

from infocam.tasks.mi import MIEstimationModule
from infocam.tasks.wsol import WSOLModule

__all__ = ["MIEstimationModule", "WSOLModule"]
