"""Registered networks. Importing this package registers every model."""

from infocam.models import flat_cnn, gap_cnn, gap_cnn_dropout, mi_cnn, mlp, mnist_cnn, timm_backbones, wsol_backbones  # noqa: F401  (imports register the entries)
