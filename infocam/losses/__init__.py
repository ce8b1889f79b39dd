"""Registered training objectives. Importing this package registers every loss."""

from infocam.losses import bounds, mine, softmax  # noqa: F401  (imports register the entries)
from infocam.losses.base import ClassificationLoss

__all__ = ["ClassificationLoss"]
