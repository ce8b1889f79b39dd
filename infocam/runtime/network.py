"""What the downloaders share: an offline switch, a socket time-out, a reachability probe.

``INFOCAM_OFFLINE=1`` (or Hugging Face's ``HF_HUB_OFFLINE=1``, which timm's downloads obey
too) means: never open a connection, say what is missing instead. Python's ``urlopen`` waits
forever by default; torchvision's and torch.hub's downloaders call it without a time-out, so
:func:`socket_timeout` sets the process-wide default for the length of a call.
"""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.error
import urllib.request
from typing import Iterator

TRUE_WORDS = ("1", "true", "yes", "on")


def offline_requested() -> bool:
    return any(os.environ.get(k, "").strip().lower() in TRUE_WORDS for k in ("INFOCAM_OFFLINE", "HF_HUB_OFFLINE"))


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Every socket opened inside waits at most ``seconds`` per connect or read."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def reachable(url: str, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers a HEAD request (any HTTP status below 400), else the reason."""
    if offline_requested():
        return "offline (INFOCAM_OFFLINE/HF_HUB_OFFLINE is set)"
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "infocam"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except urllib.error.HTTPError as err:
        return None if err.code < 400 or err.code == 405 else f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return "timed out" if isinstance(reason, (socket.timeout, TimeoutError)) else str(reason).splitlines()[0]
