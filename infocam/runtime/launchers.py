"""Which Hydra launcher runs this job, and what Lightning needs to know about it.

Hydra's basic launcher runs multirun jobs one after another inside one process, so a job with
``trainer.strategy=ddp`` would re-run the whole command line for each extra rank and start a new
sweep there (Lightning #11300). The submitit launchers (``hydra/launcher=slurm|local``) run every
job in processes of its own, one process per task, so DDP inside a multirun works there:

- on SLURM, ``tasks_per_node`` = GPUs and Lightning's own ``SLURMEnvironment`` reads the ranks;
- with submitit's local executor, :class:`SubmititLocalEnvironment` tells Lightning the ranks
  submitit gave the job's processes (Lightning does not know submitit's variables).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from lightning.fabric.plugins.environments import ClusterEnvironment
from lightning.fabric.utilities.rank_zero import rank_zero_only

from infocam.errors import ConfigError

SUBMITIT_LAUNCHERS = "hydra_plugins.hydra_submitit_launcher"


def launcher_target() -> str:
    """The ``_target_`` of the Hydra launcher of this job ('' outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return ""
    return str(HydraConfig.get().launcher.get("_target_", ""))


def runs_jobs_in_own_processes() -> bool:
    """True under the submitit launchers, where each multirun job has its own process group."""
    return launcher_target().startswith(SUBMITIT_LAUNCHERS)


class SubmititLocalEnvironment(ClusterEnvironment):
    """The ranks of a job that submitit's local executor started as ``tasks_per_node`` processes."""

    def __init__(self) -> None:
        super().__init__()
        self._world_size = int(os.environ["SUBMITIT_LOCAL_NTASKS"])
        self._global_rank = int(os.environ["SUBMITIT_LOCAL_GLOBALID"])

    @property
    def creates_processes_externally(self) -> bool:
        return True

    @property
    def main_address(self) -> str:
        return "127.0.0.1"

    @property
    def main_port(self) -> int:
        # one port per job, the same in all its tasks: the job id is the pid of submitit's controller
        return 20000 + int(os.environ["SUBMITIT_LOCAL_JOB_ID"]) % 40000

    @staticmethod
    def detect() -> bool:
        return os.environ.get("SUBMITIT_EXECUTOR") == "local" and int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1")) > 1

    def world_size(self) -> int:
        return self._world_size

    def set_world_size(self, size: int) -> None:
        self._world_size = size

    def global_rank(self) -> int:
        return self._global_rank

    def set_global_rank(self, rank: int) -> None:
        self._global_rank = rank
        rank_zero_only.rank = rank

    def local_rank(self) -> int:
        return int(os.environ["SUBMITIT_LOCAL_LOCALID"])

    def node_rank(self) -> int:
        return 0


def cluster_plugins(trainer_cfg: Mapping[str, Any]) -> list[ClusterEnvironment]:
    """Lightning plugins for the launcher this process runs under (none for the basic launcher).

    Under submitit's local executor a DDP job needs one task per device; any other count would
    make Lightning start ranks of its own inside a submitit task, so it is refused in one line.
    """
    if os.environ.get("SUBMITIT_EXECUTOR") != "local":
        return []
    tasks = int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1"))
    strategy = str(trainer_cfg.get("strategy", ""))
    devices = trainer_cfg.get("devices", 1)
    if strategy == "ddp" and tasks != devices:
        raise ConfigError(
            f"trainer.strategy=ddp under the submitit local launcher needs hydra.launcher.tasks_per_node="
            f"trainer.devices ({devices}), got {tasks}"
        )
    if tasks > 1 and strategy != "ddp":
        raise ConfigError(f"hydra.launcher.tasks_per_node={tasks} starts {tasks} ranks: use trainer.strategy=ddp")
    return [SubmititLocalEnvironment()] if SubmititLocalEnvironment.detect() else []
