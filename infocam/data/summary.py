"""What a DataModule served, saved beside the run's metrics (``data_summary.json``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from infocam.data.loading import distributed_context
from infocam.runtime.io import atomic_write_text

log = logging.getLogger(__name__)


def record_data_summary(path: str | Path | None, summary: Mapping[str, Any]) -> None:
    """Log ``summary`` and, on rank 0, write it as JSON to ``path`` (skipped when ``None``)."""
    log.info("data: %s", json.dumps(summary, sort_keys=True))
    if path and distributed_context()[0] == 0:
        atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True) + "\n")
