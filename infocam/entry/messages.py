"""The one-line form of an error, shared by the console scripts and the run lifecycle."""

from __future__ import annotations

from infocam.errors import InfocamError

PREFIX = "infocam: error: "


def user_error(err: BaseException | None) -> InfocamError | None:
    """The InfocamError behind ``err`` (Hydra wraps errors raised during instantiate)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, InfocamError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def one_line(err: InfocamError) -> str:
    """The message alone: a DataLoader worker re-raises our error with its traceback inside."""
    message = str(err)
    if "Original Traceback" in message:
        last = message.strip().splitlines()[-1]
        message = last.split(": ", 1)[1] if last.startswith(type(err).__module__) else last
    return message


def summary_line(err: BaseException) -> str:
    """The last line of a message: wrapped errors (Hydra, DataLoader workers) end with the cause."""
    text = str(err).strip()
    return text.splitlines()[-1] if text else type(err).__name__
