"""Localisation, the one home of both box protocols (``localization.protocol``), side by side:

* ``protocol=infocam``, the paper's: maps to boxes at a fixed threshold and IoU for whole
  batches (:mod:`.boxes`, with a compiled CPU kernel in
  :mod:`._run_components` behind the ``numba`` backend), scored by :mod:`.paper_metrics`
  (GT-known / Top-1 Loc, and MaxBoxAccV2 / PxAP over a threshold grid) and saved per image by
  :mod:`.per_image_file` (``per_image.npz``);
* ``protocol=wsolevaluation``, Choe et al.'s evaluator exactly: :mod:`.wsoleval` (their
  score-map preparation, ``infocam-eval-maps``).

Both take and give boxes in one convention: ``(x0, y0, x1, y1)`` with ``x1 = x0 + width`` and
``y1 = y0 + height`` (see :mod:`.boxes`).

:mod:`.settings` holds the settings both read (``conf/localization/default.yaml``).
"""

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
