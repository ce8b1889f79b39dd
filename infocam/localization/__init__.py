"""Localisation: score maps to boxes and IoU for whole batches (:mod:`.boxes`), with a compiled
CPU kernel (:mod:`._run_components`) behind the ``numba`` backend. wsolevaluation's protocol
is :mod:`infocam.wsoleval`; both take and give boxes in one convention (``(x0, y0, x1, y1)``,
``x1 = x0 + width``, ``y1 = y0 + height``; see :mod:`.boxes`)."""

from infocam.localization.boxes import (
    BACKENDS,
    ComponentBoxes,
    best_iou,
    cams_to_boxes,
    check_connectivity,
    compiled_inputs,
    compiled_kernels,
    connected_component_boxes,
    largest_component_boxes,
    map_ranges,
    normalize_maps,
    paired_box_iou,
    threshold_levels,
    threshold_masks,
    upsample_maps,
)

__all__ = [
    "BACKENDS",
    "ComponentBoxes",
    "best_iou",
    "cams_to_boxes",
    "check_connectivity",
    "compiled_inputs",
    "compiled_kernels",
    "connected_component_boxes",
    "largest_component_boxes",
    "map_ranges",
    "normalize_maps",
    "paired_box_iou",
    "threshold_levels",
    "threshold_masks",
    "upsample_maps",
]
