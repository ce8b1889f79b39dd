"""Registered CAM methods (``cam=NAME``): ``CAMS.create(NAME)`` or ``CAMS.from_spec(cfg.cam)``.

Importing this package registers every method; ``infocam.registry.CAMS`` imports it on first use.
"""

from infocam.cams import cam, gradcam, infocam, infocam_plus  # noqa: F401  (imports register the entries)
from infocam.cams import pytorch_gradcam  # noqa: F401  (registers cam=pytorch_grad_cam; grad-cam loads on use)
from infocam.cams.base import ActivationCam, CamMethod, CamResult, region_sum

__all__ = ["ActivationCam", "CamMethod", "CamResult", "region_sum"]
