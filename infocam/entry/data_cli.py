"""``infocam-data dataset=cub|tiny_imagenet|mnist root=DIR [url=... md5=... local=PATH timeout=S]``.

Stages a dataset ahead of a job (on clusters the login node often has internet, the compute
nodes do not): the same fetch ``data.download=true`` runs in ``prepare_data``
(:mod:`infocam.data.fetch`). Data already complete under ``root`` is checked and nothing is
downloaded. Prints one line of status; an error is one line and exit status 1.
"""

from __future__ import annotations

import logging
import sys

from infocam.errors import ConfigError, InfocamError

KEYS = ("dataset", "root", "url", "md5", "local", "timeout")
USAGE = "usage: infocam-data dataset=cub|tiny_imagenet|mnist root=DIR [url=URL] [md5=SUM] [local=PATH] [timeout=SECONDS]"


def parse(argv: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.removeprefix("data.").removeprefix("download_")  # data.root=, data.download_url= work too
        if not sep or key not in KEYS:
            raise ConfigError(f"{arg!r}: expected one of {', '.join(k + '=' for k in KEYS)} ({USAGE})")
        values[key] = value
    for key in ("dataset", "root"):
        if not values.get(key):
            raise ConfigError(f"{key}= is required ({USAGE})")
    return values


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    logging.basicConfig(level=logging.INFO, format="infocam-data: %(message)s", stream=sys.stderr)
    try:
        from infocam.data.fetch import fetch_dataset

        values = parse(argv)
        timeout = values.get("timeout")
        try:
            seconds = float(timeout) if timeout else None
        except ValueError:
            raise ConfigError(f"timeout={timeout!r} must be a number of seconds") from None
        status = fetch_dataset(values["dataset"], values["root"], values.get("url") or None, values.get("md5") or None,
                               values.get("local") or None, seconds)
    except InfocamError as err:
        print(f"infocam: error: {err}", file=sys.stderr)
        return 1
    print(f"{status.folder}: {status.detail}")
    return 0


def data_main() -> None:
    sys.exit(main())
