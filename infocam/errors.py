"""User-facing errors: the CLI prints these as one line and exits 1, without a traceback."""

from __future__ import annotations


class InfocamError(Exception):
    """Base class for errors caused by the user's input rather than by a bug."""


class ConfigError(InfocamError):
    """A bad config value or an unknown registry name."""


class DataError(InfocamError):
    """A missing or malformed dataset; the message names the file (and line)."""


class NonFiniteLossError(InfocamError):
    """Training produced a NaN/inf loss; the message names the step."""


class OutputError(InfocamError):
    """The output directory cannot be written."""


class RunTerminated(InfocamError):
    """The run got SIGTERM (``kill``, a scheduler's pre-emption) before it finished: no metrics.json.

    Exits 143 (128 + SIGTERM) and stops a whole multirun, not just its cell.
    """

    exit_status = 143


class RunInterrupted(RunTerminated):
    """The run got SIGINT (Ctrl-C) before it finished: no metrics.json.

    Exits 130 (128 + SIGINT) and, like SIGTERM, stops a whole multirun.
    """

    exit_status = 130
