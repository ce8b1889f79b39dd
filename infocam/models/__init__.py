"""Registered networks. Importing this package registers every model."""

from infocam.models import gap_cnn, mlp  # noqa: F401  (imports register the entries)
