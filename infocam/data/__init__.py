"""LightningDataModules shared by the tasks."""

from infocam.data.gmm import GaussianMixtureDataModule

__all__ = ["GaussianMixtureDataModule"]
