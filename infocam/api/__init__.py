"""infocam as a library: MI estimates, CAM maps and box scores on the user's own arrays and models.

* :mod:`.mi` - ``estimate_mi(X, y)`` -> :class:`~infocam.api.mi.MIResult`;
* :mod:`.cams` - ``CAM``/``InfoCAM``/``InfoCAMPlus``/``GradCAM`` bound to any CNN classifier;
* :mod:`.scoring` - ``evaluate_scoremaps`` (wsolevaluation's metrics on maps in memory);
* :mod:`.overlay` - ``overlay`` (images under their maps, with boxes: a picture, or a PNG).

Everything is re-exported lazily from the top-level package (``from infocam import InfoCAM``).
"""

from infocam.api.cams import CAM, GradCAM, InfoCAM, InfoCAMPlus
from infocam.api.mi import MIResult, estimate_mi
from infocam.api.overlay import overlay
from infocam.api.scoring import evaluate_scoremaps
from infocam.localization import cams_to_boxes

__all__ = ["CAM", "GradCAM", "InfoCAM", "InfoCAMPlus", "MIResult", "cams_to_boxes", "estimate_mi", "evaluate_scoremaps", "overlay"]
