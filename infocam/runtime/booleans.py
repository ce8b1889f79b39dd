"""Boolean settings take real booleans only.

Hydra parses ``true``/``false`` (any case) as booleans; any other word (``no``, ``off``, ``0``)
stays a string, and a string is truthy, so ``multi_contour_eval=no`` used to run as ``true``.
Which keys are boolean is read from the shipped configs (every key that some YAML file sets to
true/false), so a new boolean option is checked without anyone listing it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from omegaconf import DictConfig, OmegaConf

from infocam.errors import ConfigError
from infocam.runtime.shipped_conf import config_dir

#: boolean options that also take another value (Lightning's own signatures): what else they take
ALSO_TAKE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "trainer.fast_dev_run": (lambda v: isinstance(v, int) and v >= 0, "a number of batches"),
    "trainer.deterministic": (lambda v: v == "warn", "warn"),
    "logger.wandb.log_model": (lambda v: v == "all", "all"),
}

_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)", re.MULTILINE)


def _package(path: Path, root: Path) -> str:
    """The dotted package a config file's keys land in (Hydra's default: its group path)."""
    header = _PACKAGE.search(path.read_text(encoding="utf-8")[:2000])
    if header:
        package = header.group(1)
        return "" if package == "_global_" else package.replace("_global_.", "")
    return ".".join(path.relative_to(root).parent.parts)


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "defaults" and not prefix:
                continue
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, node


@lru_cache(maxsize=2)
def boolean_keys(trainer: bool = True) -> tuple[frozenset[str], frozenset[str]]:
    """(every dotted key a shipped config sets to a boolean, those of them some config sets to null),
    with the Trainer's boolean arguments when ``trainer`` (importing Lightning takes seconds)."""
    root = config_dir()
    booleans, nulls = set(), set()
    for path in sorted(root.rglob("*.yaml")):
        if path.relative_to(root).parts[0] == "hydra":
            continue  # Hydra's own settings
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        if not isinstance(raw, dict):
            continue
        for key, value in _leaves(raw, _package(path, root)):
            if isinstance(value, bool):
                booleans.add(key)
            elif value is None:
                nulls.add(key)
    trainer_booleans, trainer_nullable = _trainer_booleans() if trainer else (set(), set())
    return frozenset(booleans | trainer_booleans), frozenset((booleans & nulls) | trainer_nullable)


def _trainer_booleans() -> tuple[set[str], set[str]]:
    """Lightning Trainer arguments typed ``bool`` (or ``Optional[bool]``), as ``trainer.<name>``: the
    trainer configs set only some of them."""
    import inspect

    from lightning.pytorch import Trainer

    booleans, nullable = set(), set()
    for name, parameter in inspect.signature(Trainer.__init__).parameters.items():
        annotation = str(parameter.annotation)
        if name == "logger" or not (annotation == "<class 'bool'>" or "bool" in annotation):
            continue
        booleans.add(f"trainer.{name}")
        if "None" in annotation or "Optional" in annotation:
            nullable.add(f"trainer.{name}")
    return booleans, nullable


def check_booleans(cfg: DictConfig) -> None:
    """Refuse, in one line naming the key, a boolean option given anything but true/false."""
    booleans, nullable = boolean_keys(trainer="trainer" in cfg)
    for key in sorted(booleans):
        try:
            value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False)
        except Exception:  # noqa: BLE001  (an interpolation that fails here is reported where it is used)
            continue
        if value is _ABSENT or isinstance(value, bool) or (value is None and key in nullable):
            continue
        takes, other = ALSO_TAKE.get(key, (lambda v: False, ""))
        if takes(value):
            continue
        raise ConfigError(f"{key}={value!r} must be true or false{f' or {other}' if other else ''}")


_ABSENT = object()


def require_bool(name: str, value: Any) -> bool:
    """``value`` as a bool when it is one (numpy's ``bool_`` included); any other value, a word
    like ``'no'`` above all (truthy in Python), is one ``ConfigError`` line naming ``name``.
    The Python API's counterpart of :func:`check_booleans`."""
    if isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise ConfigError(f"{name}={value!r} must be True or False")
