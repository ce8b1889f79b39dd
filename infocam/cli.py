"""The console scripts: thin ``@hydra.main`` wrappers around :mod:`infocam.run`.

Which checks each one runs before Hydra starts (:func:`infocam.entry.preflight.preflight`), and why:

- ``infocam-train``: launcher counts, ``--config-dir`` files, ``hydra.run.dir``/``sweep.dir``,
  the default log directory; it quiets the launcher's per-cell start lines (a multirun prints
  one line per finished cell) and exits 1 at the end if any multirun cell failed.
- ``infocam-eval``: the same (an eval sweeps too), and ``ckpt_path`` is required: alone it prints
  its usage (exit 2). A key of the checkpoint's own ``data``/``cam`` group without the group
  (``data.root=DIR``) takes the group from the checkpoint's run.
- ``infocam-report``: the same checks but no cells: one job that reads a sweep, so no launcher
  quieting and no failed-cell summary.
- ``infocam-eval-maps``: launcher counts, config files and output overrides; the default log
  directory is not checked (as before this split; its job writes only the saved-map scores).

Every job runs in :func:`infocam.entry.guard.guarded` (one-line errors, signals, the closing
outputs line); Hydra's composition errors print as one line with a did-you-mean
(:mod:`infocam.entry.hydra_errors`).
"""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from infocam.entry.failed_cells import exit_if_cells_failed
from infocam.entry.guard import guarded, objective
from infocam.entry.hydra_errors import run_hydra
from infocam.entry.messages import one_line
from infocam.entry.preflight import inherited_group_args, preflight
from infocam.runtime.shipped_conf import config_dir
from infocam.runtime.console import quiet_launcher
from infocam.runtime.failed_cells import FAILED_CELLS

CONFIG_DIR = str(config_dir())

__all__ = ["FAILED_CELLS", "train_main", "eval_main", "report_main", "eval_maps_main"]

_one_line = one_line  # the name tests and older callers import


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@guarded("train")
def _train(cfg: DictConfig) -> float | None:
    from infocam.run import train

    return objective(train(cfg), cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@guarded("eval")
def _eval(cfg: DictConfig) -> None:
    from infocam.run import evaluate

    evaluate(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="report")
@guarded("report")
def _report(cfg: DictConfig) -> None:
    from infocam.reporting import build_report
    from infocam.runtime.rundir import write_hydra_record

    write_hydra_record(cfg, HydraConfig.get().runtime.output_dir)
    build_report(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval_maps")
@guarded("eval_maps")
def _eval_maps(cfg: DictConfig) -> None:
    from infocam.runtime.rundir import write_hydra_record
    from infocam.localization.wsoleval.saved_maps import evaluate_maps

    write_hydra_record(cfg, HydraConfig.get().runtime.output_dir)
    evaluate_maps(cfg)


def train_main() -> None:
    argv = sys.argv[1:]
    preflight(argv)
    quiet_launcher(argv)
    run_hydra(_train, argv)
    exit_if_cells_failed()


def eval_main() -> None:
    argv = sys.argv[1:]
    preflight(argv, required="ckpt_path", config_name="eval")
    quiet_launcher(argv)
    sys.argv[1:] = argv = [*inherited_group_args(argv), *argv]
    run_hydra(_eval, argv)
    exit_if_cells_failed()


def report_main() -> None:
    argv = sys.argv[1:]
    preflight(argv)
    run_hydra(_report, argv)


def eval_maps_main() -> None:
    argv = sys.argv[1:]
    preflight(argv, log_dir=False)
    run_hydra(_eval_maps, argv)
