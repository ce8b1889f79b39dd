"""Sanity of ground-truth boxes against their image, shared by every box format (CUB,
Tiny-ImageNet, ...).

A box wholly outside its image cannot be right (a swapped or mis-scaled annotation); clamping
it would leave a zero-area box that silently counts as a localisation miss, so it is a
:class:`DataError` naming where it came from. A box partly outside is common rounding at the
border: it is clamped, and the dataset warns once with the count.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from infocam.errors import DataError

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


def check_boxes(
    boxes: Sequence[Box], width: float, height: float, where: str | Callable[[int], str]
) -> tuple[list[Box], int]:
    """``(clamped boxes, how many needed clamping)`` for ``(x0, y0, x1, y1)`` pixel boxes on a
    ``width`` x ``height`` image; ``where`` names the source (``file:line``) of box ``i``."""
    clamped: list[Box] = []
    count = 0
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0 or x1 <= x0 or y1 <= y0:
            place = where(i) if callable(where) else where
            raise DataError(
                f"{place}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) as (x0, y0, x1, y1) lies wholly outside "
                f"its {width:g}x{height:g} image"
            )
        box = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
        count += box != (x0, y0, x1, y1)
        clamped.append(box)
    return clamped, count


def warn_clamped(count: int, total: int, source: str) -> None:
    """The one warning per dataset for boxes that reached past their image's border."""
    if count:
        log.warning("%s: %d of %d boxes reach past their image and were clamped to it", source, count, total)
