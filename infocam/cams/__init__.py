"""Registered CAM methods (``cam=NAME``). Importing this package registers every method."""

from infocam.cams import cam, gradcam, infocam, infocam_plus  # noqa: F401  (imports register the entries)
from infocam.cams import pytorch_gradcam  # noqa: F401  (registers cam=pytorch_grad_cam; grad-cam loads on use)
from infocam.cams.base import ActivationCam, CamMethod, CamResult, region_sum
from infocam.registry import CAMS


def create_cam(name: str, **kwargs) -> CamMethod:
    """``CAMS.create`` with the package imported; unknown names list the registered ones."""
    return CAMS.create(name, **kwargs)


__all__ = ["ActivationCam", "CamMethod", "CamResult", "create_cam", "region_sum"]
