"""Command-line entry points: thin ``@hydra.main`` wrappers around :mod:`infocam.run`.

User errors (:class:`infocam.errors.InfocamError`) print as one line and exit with status 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from infocam.configs import config_dir
from infocam.errors import ConfigError, InfocamError


CONFIG_DIR = str(config_dir())


def _user_error(err: BaseException) -> InfocamError | None:
    """The InfocamError behind ``err`` (Hydra wraps errors raised during instantiate)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InfocamError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _one_line(err: InfocamError) -> str:
    """The message alone: a DataLoader worker re-raises our error with its traceback inside."""
    message = str(err)
    if "Original Traceback" in message:
        last = message.strip().splitlines()[-1]
        message = last.split(": ", 1)[1] if last.startswith(type(err).__module__) else last
    return message


def guarded(job: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    def wrapper(cfg: DictConfig) -> Any:
        try:
            _reject_multirun_ddp(cfg)
            return job(cfg)
        except (InfocamError, InstantiationException, RuntimeError, ValueError) as err:
            user_error = _user_error(err)
            if user_error is None or os.environ.get("INFOCAM_FULL_ERROR"):
                raise
            print(f"infocam: error: {_one_line(user_error)}", file=sys.stderr)
            sys.exit(1)
        finally:
            _close_wandb()

    return wrapper


def _reject_multirun_ddp(cfg: DictConfig) -> None:
    """Multirun children with strategy=ddp each start a new sweep (Lightning #11300)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    mode = str(HydraConfig.get().mode)
    strategy = str(cfg.get("trainer", {}).get("strategy", ""))
    if mode.endswith("MULTIRUN") and strategy == "ddp":
        raise ConfigError(
            "trainer.strategy=ddp cannot run inside a multirun (each rank would start a new sweep); "
            "use trainer=ddp_cpu/ddp_spawn, or run each grid cell as its own single run"
        )


def _close_wandb() -> None:
    """Close a wandb run between multirun jobs so the next job starts a new one."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _objective(metrics: dict[str, float], cfg: DictConfig) -> float | None:
    """The value an Optuna sweep optimises (``optimized_metric``), if one is set."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        raise ConfigError(f"optimized_metric {name!r} was not logged; logged: {', '.join(sorted(metrics))}")
    return metrics[name]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@guarded
def _train(cfg: DictConfig) -> float | None:
    from infocam.run import train

    return _objective(train(cfg), cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@guarded
def _eval(cfg: DictConfig) -> None:
    from infocam.run import evaluate

    evaluate(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="report")
@guarded
def _report(cfg: DictConfig) -> None:
    from infocam.reporting import build_report

    build_report(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval_maps")
@guarded
def _eval_maps(cfg: DictConfig) -> None:
    from infocam.evaluate_maps import evaluate_maps

    evaluate_maps(cfg)


def _check_output_overrides(argv: list[str]) -> None:
    """Refuse an unusable ``hydra.run.dir``/``hydra.sweep.dir`` before Hydra tries to create it.

    Hydra makes the run directory before our code runs and reports a failure there with a
    traceback; this turns the common cases (a path through a file, a read-only place) into one line.
    """
    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        if key not in ("hydra.run.dir", "hydra.sweep.dir") or not value or "${" in value:
            continue
        path = Path(value).absolute()
        ancestor = path
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
            print(f"infocam: error: {key}={value} is not writable ({ancestor} is not a writable directory)", file=sys.stderr)
            sys.exit(1)


def train_main() -> None:
    _check_output_overrides(sys.argv[1:])
    _train()


def eval_main() -> None:
    _check_output_overrides(sys.argv[1:])
    _eval()


def report_main() -> None:
    _check_output_overrides(sys.argv[1:])
    _report()


def eval_maps_main() -> None:
    _check_output_overrides(sys.argv[1:])
    _eval_maps()
