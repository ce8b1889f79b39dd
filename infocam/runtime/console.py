"""What a run prints on the terminal; everything else goes to the run's log file.

- Always: no line twice (Lightning's own console handlers repeat what Hydra's root handlers print)
  and no advertisement (Lightning's "Tip: ... litlogger").
- A multirun cell prints one line when it finishes (:func:`cell_line`: k/N, its overrides, the
  headline metric, seconds); on the terminal it shows warnings only, each once; the full log
  (INFO, model summary, test metrics) is in ``<cell>/<task_name>.log``. No progress bar, model
  summary or test table per cell.
- A single run keeps the progress bar, the model summary and the test table.
- ``verbose=true`` (conf/train.yaml, conf/eval.yaml) restores everything in a multirun too.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

#: metrics shown on a finished cell's line, the first one present (optimized_metric before them)
HEADLINE_METRICS = ("test/mi_estimate", "test/top1_loc", "test/gt_known_loc", "test/acc", "test/loss")

#: words of messages that are advertisements, not information
_ADVERTS = ("litlogger", "litmodels", "💡 Tip")
_LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
#: Hydra's basic launcher announces each cell when it starts: the finished-cell line replaces it
_HYDRA_LAUNCHER_LOGGER = "hydra._internal.core_plugins.basic_launcher"
#: hydra-submitit-launcher's logger: its ``#k : overrides`` start lines too (hydra/launcher=local|slurm)
_SUBMITIT_LAUNCHER_LOGGER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"


class NoAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "py.warnings" and isinstance(record.msg, str):
            record.msg = record.msg.rstrip()  # a captured warning ends in a newline: no blank line after it
        message = record.getMessage()
        return not any(word in message for word in _ADVERTS)


class WarningsOnce(logging.Filter):
    """The terminal of a quiet multirun: warnings and errors only, each distinct one once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


class NoCellStartLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().lstrip().startswith("#")


_WARNINGS_ONCE = WarningsOnce()  # one per process: "once" spans the cells of a sweep
_NO_ADVERTS = NoAdverts()


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and str(HydraConfig.get().mode).endswith("MULTIRUN")


def is_quiet_cell(cfg: DictConfig | Mapping[str, Any] | None) -> bool:
    """A multirun cell without ``verbose=true``: one line on the terminal, the rest in its log."""
    return is_multirun() and not bool((cfg or {}).get("verbose", False))


def quiet_launcher(argv: list[str]) -> None:
    """Before Hydra starts: drop the launchers' per-cell start lines unless ``verbose=true``."""
    for name in (_HYDRA_LAUNCHER_LOGGER, _SUBMITIT_LAUNCHER_LOGGER):
        launcher_logger = logging.getLogger(name)
        for old in [f for f in launcher_logger.filters if isinstance(f, NoCellStartLines)]:
            launcher_logger.removeFilter(old)  # a previous command in this process chose for itself
        if not any(arg.lstrip("+~").lower() == "verbose=true" for arg in argv):
            launcher_logger.addFilter(NoCellStartLines())


#: warnings that concern the installed versions of two libraries, not the user: Lightning 2.6's
#: pytree helper uses torch's LeafSpec, which newer torch deprecates; it fires on every fit/test
_LIBRARY_WARNINGS = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)


def configure_console(cfg: DictConfig | Mapping[str, Any] | None) -> bool:
    """Set up this job's logging as the module docstring says; True for a quiet multirun cell."""
    for pattern in _LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in _LIGHTNING_LOGGERS:  # Hydra's root handlers print (and file) these already
        lightning_logger = logging.getLogger(name)
        for handler in list(lightning_logger.handlers):
            if type(handler) is logging.StreamHandler:
                lightning_logger.removeHandler(handler)
        lightning_logger.propagate = True
    quiet = is_quiet_cell(cfg)
    for handler in logging.getLogger().handlers:
        if _NO_ADVERTS not in handler.filters:
            handler.addFilter(_NO_ADVERTS)
        is_console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
        if is_console and quiet and _WARNINGS_ONCE not in handler.filters:
            handler.addFilter(_WARNINGS_ONCE)
    if quiet:
        logging.captureWarnings(True)  # Python warnings into the log file, and once on the terminal
    return quiet


def cell_progress() -> tuple[int, int | None, list[str]]:
    """(k, N, the overrides of this cell that vary over the sweep) for a multirun cell.

    N and the varying keys come from the sweep's own definition (``multirun.yaml`` that the
    sweeper writes before launching: its command-line overrides and ``hydra.sweeper.params``).
    """
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    k = int(hydra_cfg.job.num) + 1
    own = [str(o) for o in hydra_cfg.overrides.task]
    record = Path(str(hydra_cfg.sweep.dir)) / "multirun.yaml"
    try:
        sweep = OmegaConf.load(record).hydra
        params = sweep.sweeper.get("params") or {}
        if "n_trials" in sweep.sweeper:  # Optuna: the trials it will run, over the keys it searches
            return k, int(sweep.sweeper.n_trials), _pick(own, set(params))
        sweeps = sweep_axes(dict(params), [str(o) for o in sweep.overrides.task])
    except Exception:  # noqa: BLE001  (no record, or one another sweeper wrote: count unknown)
        return k, None, own
    return k, math.prod(sweeps.values()), _pick(own, set(sweeps))


def sweep_axes(params: Mapping[str, Any], command_line: list[str]) -> dict[str, int]:
    """The keys a basic sweep varies and how many values each takes: the sweep file's
    ``hydra.sweeper.params``, then the command line, which wins as in Hydra's own sweeper (a key
    pinned there to one value, ``data.dim=10`` over params' ``2,5,10``, is no axis)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides([f"{key}={value}" for key, value in params.items()] + command_line)
    last = {o.get_key_element(): o for o in parsed}
    return {key: len(list(o.sweep_string_iterator())) for key, o in last.items() if o.is_sweep_override()}


def _pick(overrides: list[str], keys: set[str]) -> list[str]:
    return [o for o in overrides if o.split("=", 1)[0] in keys or o.split("=", 1)[0].lstrip("+~") in keys]


def is_fraction(name: str) -> bool:
    """Whether a logged metric is an accuracy held as a fraction in [0, 1] (``metrics.json``,
    W&B and the Python API keep torchmetrics' unit; what people read shows it in percent)."""
    last = name.rsplit("/", 1)[-1]
    if last.endswith("_threshold"):
        return False
    return last in ("acc", "pxap", "top1_loc", "gt_known_loc", "top1_cls", "top5_cls") or last.startswith(("acc_", "maxboxacc"))


def headline(metrics: Mapping[str, Any], cfg: DictConfig | Mapping[str, Any] | None) -> str:
    """``name=value`` of the first headline metric present: accuracies in percent with a ``%``."""
    names = [str((cfg or {}).get("optimized_metric") or ""), *HEADLINE_METRICS]
    for name in names:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{name}={100 * value:.2f} %" if is_fraction(name) else f"{name}={value:.4g}"
    return ""


def cell_line(metrics: Mapping[str, Any], cfg: DictConfig | Mapping[str, Any] | None, seconds: float) -> str:
    """``[k/N] data.dim=2 loss=softmax  test/mi_estimate=0.6967  1.2 s`` for a finished cell."""
    k, n, overrides = cell_progress()
    parts = [f"[{k}/{n if n is not None else '?'}]", " ".join(overrides) or "(no overrides)"]
    metric = headline(metrics, cfg)
    if metric:
        parts.append(metric)
    parts.append(f"{seconds:.1f} s")
    return "  ".join(parts)
