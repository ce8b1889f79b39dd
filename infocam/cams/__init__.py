"""Registered CAM methods (``cam=NAME``): ``CAMS.create(NAME)`` or ``CAMS.from_spec(cfg.cam)``.

Importing this package registers every method; ``infocam.registry.CAMS`` imports it on first use.

Each method is one class in its own file, and that class is its only definition: its
``__init__`` signature is the config's option list, and ``infocam.api.cams`` builds the public
class (``infocam.InfoCAM``) from it.

- ``base.py``: :class:`CamMethod` (the interface), :class:`CamResult`, target resolution and the
  region sum shared by every method;
- ``hooks.py``: finding and tapping the feature map and the linear head of any ``nn.Module``;
- ``weights.py``: :class:`WeightCamMethod`, the weight-based methods' forward pass and head check;
- ``cam.py``, ``infocam.py``, ``infocam_plus.py``: CAM (Eq. 12), infoCAM (Eq. 14), infoCAM+ (Eq. 15);
- ``gradcam.py``: Grad-CAM for any head; ``pytorch_gradcam.py``: the grad-cam package's methods;
- ``diagnostics.py``: how much infoCAM's subtraction changes a map.

Adding a method (one file plus its config):

1. ``infocam/cams/NAME.py``: a class decorated with ``@CAMS.register("NAME")``, with
   ``name = "NAME"`` and, for a public class ``infocam.PublicName``, ``public_name = "PublicName"``.
   A weight-based method subclasses :class:`WeightCamMethod` and implements
   ``class_weights(weight[M, K], logits[B, M], target[B]) -> [B, K]`` (the region sum is added
   after); any other method subclasses :class:`CamMethod` and implements
   ``compute(model, images, targets) -> CamResult``. Its ``__init__`` keyword defaults are the
   method's defaults; add to ``describe()`` what a figure title should say.
   Importing this package imports every module in it, which registers the class.
2. ``conf/cam/NAME.yaml``: ``name: NAME`` and the same options with the same defaults
   (``tests/test_cams.py`` checks that every config matches its class).
3. Optional: ``infocam.api.cams.PUBLIC`` holds the new public class at once; ``infocam.PublicName``
   also needs its name in ``infocam/api/__init__.py`` and in the lazy table of ``infocam/__init__.py``.
"""

import importlib
import pkgutil

from infocam.cams.base import CamMethod, CamResult, region_sum
from infocam.cams.weights import WeightCamMethod

__all__ = ["CamMethod", "CamResult", "WeightCamMethod", "region_sum"]

# every module of the package, so a new method's file registers itself (grad-cam itself loads on use)
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
