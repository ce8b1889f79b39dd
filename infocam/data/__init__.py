"""LightningDataModules shared by the tasks."""

from infocam.data.gmm import GaussianMixtureDataModule
from infocam.data.synthetic_loc import SyntheticLocalizationDataModule

__all__ = ["GaussianMixtureDataModule", "SyntheticLocalizationDataModule"]
