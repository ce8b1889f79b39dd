"""Fetch the public datasets into ``data.root``: official archives, checksums, safe unpacking.

``fetch_dataset("cub", root)`` is what ``data.download=true`` runs in a DataModule's
``prepare_data`` and what ``infocam-data dataset=cub root=DIR`` runs on a login node;
``dataset_status`` is the check both run first (and ``infocam-doctor`` runs alone).
"""

from infocam.data.fetch.complete import dataset_status
from infocam.data.fetch.sources import SOURCES, Source, source_for
from infocam.data.fetch.stage import fetch_dataset

__all__ = ["SOURCES", "Source", "dataset_status", "fetch_dataset", "source_for"]
