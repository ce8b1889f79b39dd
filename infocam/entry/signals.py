"""SIGTERM and Ctrl-C (SIGINT) end a run with one line: what happened, and how to resume.

Lightning ends ``fit``/``test`` on SIGTERM with ``SIGTERMException`` (a ``SystemExit`` of status
0), and on Ctrl-C with ``sys.exit(1)`` after its "Detected KeyboardInterrupt" line, having set
SIGINT to be ignored for its shutdown. Both become :class:`~infocam.errors.RunTerminated`
(exit 143) or :class:`~infocam.errors.RunInterrupted` (exit 130), which stop a whole multirun.
Once a run is stopping, a further Ctrl-C says so and exits at once (:func:`install_sigint`):
a process is never killed without a word.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

from infocam.errors import RunInterrupted, RunTerminated
from infocam.entry.messages import PREFIX
from infocam.runtime.console import is_multirun

_presses = {"count": 0}


def _on_sigint(signum: int, frame: Any) -> None:
    _presses["count"] += 1
    if _presses["count"] == 1:
        raise KeyboardInterrupt
    sys.stderr.write(f"{PREFIX}interrupted again (Ctrl-C) while stopping: exiting now, status 130\n")
    sys.stderr.flush()
    os._exit(130)


def install_sigint() -> Any:
    """Our Ctrl-C handler (the first press stops the run gracefully, a later one exits at once);
    returns the previous handler for :func:`restore_sigint`."""
    _presses["count"] = 0
    try:
        return signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        return None


def stopping_after_interrupt() -> None:
    """After Lightning's shutdown (SIGINT ignored): a further Ctrl-C is reported, not silent."""
    _presses["count"] = max(_presses["count"], 1)
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, _on_sigint)


def restore_sigint(previous: Any) -> None:
    if previous is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, previous)


def resume_hint(output_dir: Path, command: str) -> str:
    if command == "eval":
        return "run the same infocam-eval again"
    if is_multirun():
        return "rerun the same multirun (same hydra.sweep.dir) with ckpt_path=last"
    return f"rerun the same command with ckpt_path=last hydra.run.dir={output_dir}"


def interrupted(output_dir: Path, command: str) -> RunInterrupted:
    stopping_after_interrupt()
    return RunInterrupted(f"the run in {output_dir} was interrupted (Ctrl-C) before it finished, "
                          f"no metrics.json written; to resume, {resume_hint(output_dir, command)}")


@contextlib.contextmanager
def terminated_as_error(output_dir: Path, command: str) -> Iterator[None]:
    """SIGTERM or Ctrl-C inside ``fit``/``test`` as one line (module docstring).

    On SLURM, Lightning's requeue signal (SIGUSR1 with ``SLURMEnvironment(auto_requeue=True)``) has
    saved an ``hpc_ckpt_*.ckpt`` and requeued the job before SLURM's SIGTERM arrives (Lightning
    then only logs "Bypassing SIGTERM" beside the notifier that stops the loop); the requeued job
    restores that checkpoint by itself, so only the exit status changes here (a requeue ignores it).
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        yield
    except SIGTERMException:
        raise RunTerminated(f"the run in {output_dir} was terminated (SIGTERM) before it finished, "
                            f"no metrics.json written; to resume, {resume_hint(output_dir, command)}") from None
    except KeyboardInterrupt:
        raise interrupted(output_dir, command) from None
    except SystemExit as done:  # Lightning's sys.exit(1) after its graceful Ctrl-C shutdown
        if isinstance(done.__context__, KeyboardInterrupt):
            raise interrupted(output_dir, command) from None
        raise
