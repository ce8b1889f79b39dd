"""Hydra's composition errors as one line, with a did-you-mean from Hydra's own lists.

A mistyped group option (``experiment=wsol_cub_smal``) or key (``trainer.max_epoch=2``) makes
Hydra print several lines, and for a key it suggests ``+trainer.max_epoch=2``, which then fails
as an unexpected keyword argument. The console scripts run Hydra with ``HYDRA_FULL_ERROR`` set
so that these errors reach :func:`run_hydra` as exceptions: the group's option list
(``MissingConfigException.options``) or the keys of the node the override missed
(``parent_node`` of OmegaConf's error) give the nearest names (:mod:`difflib`, as Python's own
"Did you mean" does). Other errors print as Hydra prints them.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from typing import Any, Callable

from hydra.errors import CompactHydraException, ConfigCompositionException, MissingConfigException
from omegaconf.errors import OmegaConfBaseException

from infocam.entry.messages import PREFIX


def did_you_mean(word: str, options: list[str], prefix: str = "") -> str:
    """``did you mean X?`` for the nearest names, else the list of names."""
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"{prefix}{name}" for name in close) + "?"
    shown = sorted(options)[:16]
    return f"options: {', '.join(shown)}{', ...' if len(options) > len(shown) else ''}"


def _arg_for(key: str, argv: list[str]) -> str:
    for arg in argv:
        if arg.lstrip("+~").split("=", 1)[0] == key:
            return arg
    return key


def one_line(err: CompactHydraException, argv: list[str]) -> str | None:
    """The error as one line with a did-you-mean, or None for an error of another kind."""
    if isinstance(err, MissingConfigException) and err.options and err.missing_cfg_file and "/" in err.missing_cfg_file:
        group, option = err.missing_cfg_file.rsplit("/", 1)
        return f"Could not find '{group}/{option}'; {did_you_mean(option, list(err.options), f'{group}=')}"
    cause = err.__cause__
    node = getattr(cause, "parent_node", None)
    full_key = getattr(cause, "full_key", None)
    if isinstance(err, ConfigCompositionException) and str(err).startswith("Could not override") and \
            node is not None and full_key and hasattr(node, "keys"):
        path, _, key = str(full_key).rpartition(".")
        where = path or "the config"
        keys = [str(k) for k in node.keys()]
        return f"Could not override '{full_key}' ({_arg_for(str(full_key), argv)}): no key {key!r} in {where}; " + \
            did_you_mean(key, keys, f"{path}." if path else "")
    return None


def run_hydra(main: Callable[[], Any], argv: list[str]) -> None:
    """Call a ``@hydra.main`` function; its composition errors print as :func:`one_line`."""
    user_set = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except Exception as err:  # noqa: BLE001  (printed below as Hydra would, or as one line)
        if user_set:
            raise
        if isinstance(err, CompactHydraException):
            line = one_line(err, argv)
            if line is not None:
                print(f"{PREFIX}{line}", file=sys.stderr)
            else:  # as Hydra prints a compact error
                sys.stderr.write(str(err) + os.linesep)
                if isinstance(err.__cause__, OmegaConfBaseException):
                    sys.stderr.write(str(err.__cause__) + os.linesep)
        else:  # a bug: its traceback
            traceback.print_exc()
        sys.exit(1)
    finally:
        if user_set is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
