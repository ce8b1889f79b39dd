"""LightningDataModules shared by the tasks."""

from infocam.data import imbalance  # noqa: F401  (registers the index transforms)
from infocam.data.cub import CUBDataModule
from infocam.data.gmm import GaussianMixtureDataModule
from infocam.data.mnist import MNISTDataModule
from infocam.data.synthetic_loc import SyntheticLocalizationDataModule
from infocam.data.tiny_imagenet import TinyImageNetDataModule

__all__ = ["CUBDataModule", "GaussianMixtureDataModule", "MNISTDataModule", "SyntheticLocalizationDataModule", "TinyImageNetDataModule"]
