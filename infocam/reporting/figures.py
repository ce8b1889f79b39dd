"""A matplotlib figure as PNG bytes, so every report and task writes its pictures atomically
(``infocam.runtime.io.atomic_write_bytes``) and closes the figure the same way."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported on first use: tasks import this module
    from matplotlib.figure import Figure


def figure_png(fig: "Figure", dpi: int = 100) -> bytes:
    """Lay ``fig`` out tightly, render it as PNG and close it (pyplot keeps open figures alive)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()
