"""The one drawing module (bottom layer: numpy, matplotlib and PIL only).

* :mod:`.figures` - ``figure_png`` (a figure as PNG bytes, closed) and ``png_image``;
* :mod:`.overlays` - images with their score maps, predicted and ground-truth boxes, one panel
  or a captioned grid: what ``infocam.overlay``, the WSOL test step, W&B views and reports draw.

Arrays come in as numpy (CPU tensors convert through ``np.asarray``), so nothing here imports
torch.
"""

from infocam.plotting.figures import figure_png, png_image
from infocam.plotting.overlays import batch_overlay_png, batch_panels, display_images, overlay_figure, overlay_panels

__all__ = ["batch_overlay_png", "batch_panels", "display_images", "figure_png", "overlay_figure", "overlay_panels", "png_image"]
