"""A user's config files (``--config-dir``) that YAML cannot read, as one line.

Hydra composes the configs before any of our code runs and prints a YAML error there (a
python tag such as ``!!python/object/apply:os.system``, which the safe loader refuses without
running it, or a syntax error) as a traceback; so the user's directory is read once first.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from infocam.errors import ConfigError


def config_dirs(argv: list[str]) -> list[Path]:
    """The directories given as ``--config-dir DIR``, ``--config-dir=DIR`` or ``-cd DIR``."""
    found = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            found.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            found.append(Path(arg.split("=", 1)[1]))
    return found


def describe(err: yaml.YAMLError, path: Path) -> str:
    """``file:line: problem`` from a YAML error's marks."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = getattr(err, "problem", None) or str(err).strip().splitlines()[0]
    if "could not determine a constructor for the tag" in problem:
        problem += " (configs are data: python tags are refused, nothing ran)"
    return f"{where}: {problem}"


def check_config_dirs(argv: list[str]) -> None:
    """Every ``*.yaml`` below the user's config directories parses as plain YAML."""
    for directory in config_dirs(argv):
        if not directory.is_dir():
            continue  # Hydra names a missing directory itself
        for path in sorted(directory.rglob("*.yaml")):
            try:
                yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                raise ConfigError(f"cannot read a config file: {describe(err, path)}") from None
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(f"cannot read a config file: {path}: {err}") from None
