"""infocam: a softmax classifier is a mutual-information estimator.

Registries (``infocam.registry``) hold the science plug-ins; ``infocam.run`` runs a composed
Hydra config; ``infocam-train`` / ``infocam-eval`` / ``infocam-report`` are the CLIs.

From Python (docs/getting-started.md, "Use infocam from Python"; docs/api.md): ``estimate_mi``, ``CAM``, ``InfoCAM``,
``InfoCAMPlus``, ``GradCAM``, ``cams_to_boxes``, ``evaluate_scoremaps``, ``overlay``. They are imported
on first use (module ``__getattr__``), so ``import infocam`` loads neither torch nor Lightning.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing alone costs ~10 ms

__version__ = "0.1.0"

#: public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "estimate_mi": "infocam.api.mi",
    "MIResult": "infocam.api.mi",
    "CAM": "infocam.api.cams",
    "InfoCAM": "infocam.api.cams",
    "InfoCAMPlus": "infocam.api.cams",
    "GradCAM": "infocam.api.cams",
    "cams_to_boxes": "infocam.localization.boxes",
    "evaluate_scoremaps": "infocam.api.scoring",
    "overlay": "infocam.api.overlay",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # static checkers and IDEs see the real objects
    from infocam.api.cams import CAM, GradCAM, InfoCAM, InfoCAMPlus  # noqa: F401
    from infocam.api.mi import MIResult, estimate_mi  # noqa: F401
    from infocam.api.overlay import overlay  # noqa: F401
    from infocam.api.scoring import evaluate_scoremaps  # noqa: F401
    from infocam.localization.boxes import cams_to_boxes  # noqa: F401


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'infocam' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
