"""Failed multirun cells reach the launching process under the submitit launchers too.

Under Hydra's basic launcher every cell runs in the launching process, which collects the failed
ones in :data:`FAILED_CELLS` and exits 1 with their list (:mod:`infocam.entry.failed_cells`).
Under hydra-submitit-launcher (``hydra/launcher=local|slurm``) each cell runs in processes of its
own, so that list stayed empty and the command exited 0. :class:`FailedCellsCallback` (a Hydra
callback, conf/hydra/default.yaml) names a folder for this sweep in the environment the cells
inherit; a failed cell writes its error there, and the callback adds those to ``FAILED_CELLS``
when the sweep ends. A finished cell leaves its ``[k/N]`` line there as well, which the callback
prints in cell order (those cells' own stdout goes to submitit's log files, so the command showed
nothing per cell). (Launchers must live in Hydra's plugin namespace; a callback may live here.)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from infocam.runtime.io import atomic_write_text

#: the folder the cells of this sweep report failures into (set only under the submitit launchers)
ENV = "INFOCAM_FAILED_CELLS_DIR"
SUBMITIT = "hydra_plugins.hydra_submitit_launcher"

#: (run directory, one-line error) of each multirun cell that failed in this command
FAILED_CELLS: list[tuple[str, str]] = []


def report_to_launcher(run_dir: str, message: str) -> Path | None:
    """In a cell whose launching process is another one, leave its error for that process."""
    folder = os.environ.get(ENV)
    if not folder:
        return None
    from hydra.core.hydra_config import HydraConfig

    num = HydraConfig.get().job.num if HydraConfig.initialized() else uuid.uuid4().hex
    return atomic_write_text(Path(folder) / f"{num}.json", json.dumps({"run_dir": run_dir, "message": message}))


def report_finished_to_launcher(line: str) -> Path | None:
    """In a cell whose launching process is another one, leave its ``[k/N]`` line for that process."""
    folder = os.environ.get(ENV)
    if not folder:
        return None
    from hydra.core.hydra_config import HydraConfig

    num = HydraConfig.get().job.num if HydraConfig.initialized() else uuid.uuid4().hex
    return atomic_write_text(Path(folder) / f"{num}.line", line + "\n")


def _by_cell(paths: Any) -> list[Path]:
    return sorted(paths, key=lambda p: (len(p.stem), p.stem))


class FailedCellsCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.launcher.get("_target_", "")).startswith(SUBMITIT):
            folder = Path(str(config.hydra.sweep.dir)) / ".submitit" / f"failed-cells-{uuid.uuid4().hex[:12]}"
            os.environ[ENV] = str(folder)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = os.environ.pop(ENV, None)
        if not folder or not Path(folder).is_dir():
            return
        for path in _by_cell(Path(folder).glob("*.line")):
            print(path.read_text(encoding="utf-8").rstrip("\n"), flush=True)
        for path in _by_cell(Path(folder).glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            FAILED_CELLS.append((record["run_dir"], record["message"]))
        shutil.rmtree(folder, ignore_errors=True)
