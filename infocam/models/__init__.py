"""Registered networks. Importing this package registers every model."""

from infocam.models import cnn, dropout_cnn, gap_cnn, mi_cnn, mlp, timm_backbones, wsol_backbones  # noqa: F401  (imports register the entries)
