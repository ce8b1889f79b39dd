"""Reading checkpoints without running code: every load in infocam goes through here."""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from infocam.errors import ConfigError

# torch's weights-only unpickler names the global (function/class) it would have had to import
NEEDS_CODE = re.compile(r"GLOBAL|[Uu]nsupported (global|class)|is blocked")


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with one-line errors.

    A file that needs code to unpickle (a ``__reduce__`` payload, a pickled module) is refused
    before anything in it runs; a file that is not a torch checkpoint at all says so.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        if NEEDS_CODE.search(str(err)):
            raise ConfigError(f"{path}: not a plain checkpoint; refusing to unpickle code") from None
        raise ConfigError(f"{path} is not a torch checkpoint ({_first_line(err)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError, TypeError,
            AttributeError) as err:  # a text or random file trips the legacy unpickler in assorted ways
        reason = _first_line(err) if zipfile.is_zipfile(path) else "not a file written by torch.save"
        raise ConfigError(f"{path} is not a torch checkpoint ({reason})") from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"{path} is not a Lightning checkpoint (holds a {type(checkpoint).__name__}, not a dict)")
    return checkpoint


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


#: the task classes a checkpoint's ``infocam_task`` record may name (what RegistryTask writes there):
#: a fixed list, checked before anything is imported, so a crafted record cannot import a module
TASK_CLASSES = (
    "infocam.tasks.mi.MIEstimationModule",
    "infocam.tasks.classify.ClassificationModule",
    "infocam.tasks.infomask.InfoMaskModule",
    "infocam.tasks.wsol.WSOLModule",
)


def recorded_task_class(name: object, path: str | os.PathLike) -> type:
    """The project task class that a checkpoint's ``infocam_task`` record names.

    The name is looked up in :data:`TASK_CLASSES` as a plain string first; only a listed name is
    imported (an import is code running, and a module may act on import).
    """
    if not isinstance(name, str) or name not in TASK_CLASSES:
        raise ConfigError(
            f"{path}: records task {str(name)[:200]!r}, which is not an infocam task "
            f"(one of: {', '.join(n.rsplit('.', 1)[1] for n in TASK_CLASSES)})"
        )
    import importlib

    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)
