"""A multirun's failed cells: each writes its error into its run directory, the sweep goes on,
and the command exits 1 at the end with their list.

The list itself, :data:`infocam.runtime.failed_cells.FAILED_CELLS`, lives in the lower layer,
where the Hydra callback that collects the submitit launchers' failures appends to it too.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from omegaconf import DictConfig

from infocam.errors import InfocamError
from infocam.entry.messages import PREFIX
from infocam.runtime.failed_cells import FAILED_CELLS, report_to_launcher
from infocam.runtime.io import atomic_write_text


def record_failed_cell(cfg: DictConfig, run_dir: str, message: str, refused: bool = False) -> float | None:
    """Write the cell's error into its run directory and remember it for the closing summary;
    the sweep goes on (an Optuna sweeper sees NaN, i.e. a failed trial)."""
    try:
        if not refused:  # a directory this cell may not use belongs to another run: write nothing there
            atomic_write_text(Path(run_dir) / "error.txt", message + "\n")
    except InfocamError:
        pass  # an unwritable cell directory is reported in the summary all the same
    FAILED_CELLS.append((run_dir, message))
    print(f"{PREFIX}{run_dir}: {message}", file=sys.stderr)
    report_to_launcher(run_dir, message)  # under submitit the launching process is another one
    return math.nan if cfg.get("optimized_metric") else None


def exit_if_cells_failed() -> None:
    if not FAILED_CELLS:
        return
    lines = [f"{PREFIX}{len(FAILED_CELLS)} multirun cell(s) failed (each wrote error.txt):"]
    lines += [f"  {run_dir}: {message}" for run_dir, message in FAILED_CELLS]
    print("\n".join(lines), file=sys.stderr)
    sys.exit(1)
