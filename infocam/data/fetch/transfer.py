"""One file from a list of mirrors, checksum-verified, with a time-out on every socket.

The transfer is torchvision's ``download_url`` (redirects, its User-Agent, its progress bar)
and the checksum torchvision's ``calculate_md5``. Around it, by hand, what it lacks: a
time-out (its ``urlopen`` has none, so a silent server would hang the job; the process-wide
default socket time-out is set for the call and restored), the next mirror when one cannot be
reached, and one line instead of ``RuntimeError("File not found or corrupted.")``: which file,
the expected and actual md5 and size, with the bad file removed. A transfer cut short (the
server closes before Content-Length bytes) ends quietly in ``http.client``, so it is this
checksum that catches it.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
from pathlib import Path

from infocam.errors import DataError
from infocam.runtime.network import offline_requested, socket_timeout

#: seconds a connect or a read may wait (INFOCAM_FETCH_TIMEOUT overrides it in fetch_dataset)
DEFAULT_TIMEOUT = 60.0


class Unreachable(DataError):
    """No mirror answered (refused, time-out, DNS, HTTP error)."""


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timed out"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def download(urls: list[str], folder: Path, filename: str, md5: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """``folder/filename`` from the first mirror that answers, checked against ``md5``."""
    from torchvision.datasets.utils import calculate_md5, download_url

    path = folder / filename
    failures = []
    if offline_requested():
        raise Unreachable(f"cannot download {urls[0]} (offline: INFOCAM_OFFLINE/HF_HUB_OFFLINE is set)")
    for url in urls:
        path.unlink(missing_ok=True)
        try:
            with socket_timeout(timeout):
                download_url(url, str(folder), filename, md5=None)  # the checksum is ours, below
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
            path.unlink(missing_ok=True)
            failures.append(f"{url} ({_reason(err)})")
            continue
        actual = calculate_md5(path)
        if actual != md5:
            size = path.stat().st_size
            path.unlink(missing_ok=True)
            raise DataError(
                f"{filename} from {url}: md5 {actual} ({size:,} bytes) but expected {md5}; the file was removed "
                "(a transfer cut short, or another file: for a mirror of another archive give its md5=)"
            )
        return path
    raise Unreachable("cannot download " + "; ".join(failures))
