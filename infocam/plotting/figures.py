"""A matplotlib figure as PNG bytes or a PIL image, so every report, task and evaluator writes
its pictures atomically (``infocam.runtime.io.atomic_write_bytes``) and closes the figure the
same way."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported on first use: tasks import this module
    from matplotlib.figure import Figure
    from PIL.Image import Image


def figure_png(fig: "Figure", dpi: int = 100) -> bytes:
    """Lay ``fig`` out, render it as PNG and close it (pyplot keeps open figures alive).

    A figure made with a layout engine (``layout="constrained"``, as the overlay grids are)
    keeps it; any other is laid out with ``tight_layout``.
    """
    import matplotlib.pyplot as plt

    if fig.get_layout_engine() is None:
        fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def png_image(data: bytes) -> "Image":
    """PNG bytes as a loaded ``PIL.Image`` (RGBA), detached from the buffer."""
    from PIL import Image as PILImage

    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image
