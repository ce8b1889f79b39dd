"""Counts given to the submitit launchers on the command line, checked before Hydra starts them.

submitit asserts on a zero or negative count deep inside its job controller ("Nothing to do!",
an IndexError in a child process), long after the sweep was announced.
"""

from __future__ import annotations

from infocam.errors import ConfigError

#: hydra.launcher options that count something and must be whole numbers >= 1
COUNTS = ("tasks_per_node", "nodes", "gpus_per_node", "cpus_per_task", "timeout_min", "array_parallelism")


def check_launcher_counts(argv: list[str]) -> None:
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or not key.startswith("hydra.launcher.") or key.rsplit(".", 1)[-1] not in COUNTS:
            continue
        if value.strip() in ("null", "~", "") or "${" in value:
            continue
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < 1:
            raise ConfigError(f"{key}={value} must be a whole number >= 1")
