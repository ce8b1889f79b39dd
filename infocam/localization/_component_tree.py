"""wsolevaluation's contour boxes at every threshold level of a uint8 map, in three passes.

Why this is written by hand: their evaluator calls OpenCV's ``findContours(RETR_TREE)`` once
per map and threshold (about 60 us each at 224x224, 60 ms per map at 1,000 thresholds), and
no library gives the contours of all 256 nested masks of a map at once. The masks
``q > k`` of one map are nested, so union-find passes over the pixels sorted by value give
every level's components at a cost that does not depend on the number of thresholds:

* **fg** (q decreasing, 8-connected): the connected components of ``q > k``; OpenCV's outer
  contour of a component has the component's bounding box.
* **bg** (q increasing, 4-connected, the zero frame around the image as one open region):
  the holes of ``q > k`` are the 4-connected parts of ``q <= k`` that do not reach the
  frame; a hole contour is traced through the foreground pixels bordering the hole, so its
  box is the hole's box grown by one pixel. The same pass gives every pixel's *fill level*
  ``theta`` (the level at which it reaches the frame through background).
* **fill** (theta decreasing, 8-connected): the components of ``theta > k`` are the
  top-level components with their holes filled. ``cv2.contourArea`` of an outer contour is
  ``#(2x2 cells with 4 filled corners) + #(cells with 3) / 2`` (zero-padded), counted
  incrementally as pixels join; a hole's contour is never larger than its parent's outer
  contour and comes after it, so the largest contour (V1, first on ties) is the largest
  filled top-level component, ties going to the one whose first raster pixel is *last*
  (OpenCV lists sibling contours in reverse order of discovery).

These facts were checked against OpenCV 5.0 on thousands of random masks (tests/test_wsoleval.py).
Boxes follow wsolevaluation: ``(x, y, x + w, y + h)`` of the contour's bounding rectangle
with ``x1 <= W - 1``, ``y1 <= H - 1``; IoU counts pixels inclusively.
"""

from __future__ import annotations

import numpy as np

from infocam.localization._run_components import _compiled


@_compiled
def _find(parent: np.ndarray, node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


@_compiled
def _iou(x0, y0, x1, y1, gt) -> float:
    """Best inclusive-pixel IoU of box (x0, y0, x1, y1) with the rows of ``gt`` (wsolevaluation's
    ``calculate_multiple_iou``; a non-positive denominator gives 0)."""
    best = 0.0
    area_a = (x1 - x0 + 1) * (y1 - y0 + 1)
    for g in range(gt.shape[0]):
        iw = max(0, min(x1, gt[g, 2]) - max(x0, gt[g, 0]) + 1)
        ih = max(0, min(y1, gt[g, 3]) - max(y0, gt[g, 1]) + 1)
        inter = iw * ih
        area_b = (gt[g, 2] - gt[g, 0] + 1) * (gt[g, 3] - gt[g, 1] + 1)
        den = area_a + area_b - inter
        value = inter / den if den > 0 else 0.0
        if value > best:
            best = value
    return best


@_compiled
def _sort_by_value(values, order, starts) -> None:
    """Counting sort of pixel indices by uint8 value: pixels of value v are
    ``order[starts[v]:starts[v + 1]]``, each run in raster order."""
    counts = np.zeros(257, dtype=np.int64)
    n = values.shape[0]
    for i in range(n):
        counts[values[i] + 1] += 1
    for v in range(256):
        counts[v + 1] += counts[v]
    for v in range(257):
        starts[v] = counts[v]
    for i in range(n):
        v = values[i]
        order[counts[v]] = i
        counts[v] += 1


@_compiled
def _merge(parent, size, bx0, by0, bx1, by1, a, b) -> int:
    """Union by size of roots ``a`` and ``b``; the new root takes the joint box."""
    if size[a] < size[b]:
        a, b = b, a
    parent[b] = a
    size[a] += size[b]
    bx0[a] = min(bx0[a], bx0[b])
    by0[a] = min(by0[a], by0[b])
    bx1[a] = max(bx1[a], bx1[b])
    by1[a] = max(by1[a], by1[b])
    return a


@_compiled
def _foreground_pass(q, height, width, order, starts, want, gt, best, parent, size, bx0, by0, bx1, by1, added, alive):
    """``best[k]`` = best IoU of any outer-contour box of ``q > k`` (for wanted k; -1 if none)."""
    n_alive = 0
    for v in range(255, 0, -1):
        for i in range(starts[v], starts[v + 1]):
            p = order[i]
            r = p // width
            c = p - r * width
            parent[p] = p
            size[p] = 1
            bx0[p] = c
            bx1[p] = c
            by0[p] = r
            by1[p] = r
            added[p] = True
            alive[n_alive] = p
            n_alive += 1
            for dr in range(-1, 2):
                rr = r + dr
                if rr < 0 or rr >= height:
                    continue
                for dc in range(-1, 2):
                    cc = c + dc
                    if cc < 0 or cc >= width or (dr == 0 and dc == 0):
                        continue
                    nb = rr * width + cc
                    if added[nb]:
                        a = _find(parent, p)
                        b = _find(parent, nb)
                        if a != b:
                            _merge(parent, size, bx0, by0, bx1, by1, a, b)
        k = v - 1
        if want[k]:
            kept = 0
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if parent[x] != x:
                    continue
                alive[kept] = x
                kept += 1
                value = _iou(bx0[x], by0[x], min(bx1[x] + 1, width - 1), min(by1[x] + 1, height - 1), gt)
                if value > top:
                    top = value
            n_alive = kept
            best[k] = top


@_compiled
def _background_pass(q, height, width, order, starts, want, gt, best, theta,
                     parent, size, bx0, by0, bx1, by1, added, alive, is_open, nxt, head, tail):
    """``best[k]`` = best IoU of any hole-contour box of ``q > k`` (wanted k; -1 if no hole);
    ``theta[p]`` = the smallest k at which pixel p reaches the frame through ``q <= k``.

    A closed (hole) root keeps its member pixels in a linked list (``head``/``tail``/``nxt``)
    so that they get their ``theta`` the moment the hole opens; each pixel is visited once.
    """
    n_alive = 0
    for v in range(256):
        for i in range(starts[v], starts[v + 1]):
            p = order[i]
            r = p // width
            c = p - r * width
            parent[p] = p
            size[p] = 1
            bx0[p] = c
            bx1[p] = c
            by0[p] = r
            by1[p] = r
            added[p] = True
            nxt[p] = -1
            head[p] = p
            tail[p] = p
            border = r == 0 or c == 0 or r == height - 1 or c == width - 1
            is_open[p] = border
            if border:
                theta[p] = v
            else:
                alive[n_alive] = p
                n_alive += 1
            for j in range(4):
                rr = r
                cc = c
                if j == 0:
                    rr = r - 1
                elif j == 1:
                    rr = r + 1
                elif j == 2:
                    cc = c - 1
                else:
                    cc = c + 1
                if rr < 0 or rr >= height or cc < 0 or cc >= width:
                    continue
                nb = rr * width + cc
                if not added[nb]:
                    continue
                a = _find(parent, p)
                b = _find(parent, nb)
                if a == b:
                    continue
                open_a = is_open[a]
                open_b = is_open[b]
                if open_a != open_b:  # a hole reaches the frame: its pixels fill at level v
                    m = head[b] if open_a else head[a]
                    while m != -1:
                        theta[m] = v
                        m = nxt[m]
                list_head = head[a]
                list_tail = tail[b]
                if not open_a and not open_b:  # two holes join: one member list
                    nxt[tail[a]] = head[b]
                root = _merge(parent, size, bx0, by0, bx1, by1, a, b)
                is_open[root] = open_a or open_b
                head[root] = list_head
                tail[root] = list_tail
        if v < 255 and want[v]:
            kept = 0
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if parent[x] != x or is_open[x]:
                    continue
                alive[kept] = x
                kept += 1
                value = _iou(bx0[x] - 1, by0[x] - 1, min(bx1[x] + 2, width - 1), min(by1[x] + 2, height - 1), gt)
                if value > top:
                    top = value
            n_alive = kept
            best[v] = top


@_compiled
def _fill_pass(theta, height, width, order, starts, want, gt, v1_iou, v1_box,
               parent, size, bx0, by0, bx1, by1, added, alive, area2, first, cells):
    """V1: per wanted k, the box and IoU of the largest top-level outer contour of ``q > k``.

    Components of ``theta > k`` are the top-level components with their holes filled; twice
    their ``cv2.contourArea`` is ``2 * #(cells with 4 filled corners) + #(cells with 3)``,
    kept per root as pixels join. Ties go to the later first pixel (OpenCV's order).
    """
    n_alive = 0
    stride = width + 1  # cell (i, j) has corners (i-1, j-1), (i-1, j), (i, j-1), (i, j)
    for v in range(255, 0, -1):
        for i in range(starts[v], starts[v + 1]):
            p = order[i]
            r = p // width
            c = p - r * width
            parent[p] = p
            size[p] = 1
            bx0[p] = c
            bx1[p] = c
            by0[p] = r
            by1[p] = r
            added[p] = True
            area2[p] = 0
            first[p] = p
            alive[n_alive] = p
            n_alive += 1
            gain = 0
            for cell in (r * stride + c, r * stride + c + 1, (r + 1) * stride + c, (r + 1) * stride + c + 1):
                cells[cell] += 1
                if cells[cell] >= 3:
                    gain += 1
            for dr in range(-1, 2):
                rr = r + dr
                if rr < 0 or rr >= height:
                    continue
                for dc in range(-1, 2):
                    cc = c + dc
                    if cc < 0 or cc >= width or (dr == 0 and dc == 0):
                        continue
                    nb = rr * width + cc
                    if added[nb]:
                        a = _find(parent, p)
                        b = _find(parent, nb)
                        if a != b:
                            total = area2[a] + area2[b]
                            low = min(first[a], first[b])
                            root = _merge(parent, size, bx0, by0, bx1, by1, a, b)
                            area2[root] = total
                            first[root] = low
            root = _find(parent, p)
            area2[root] += gain
        k = v - 1
        if want[k]:
            kept = 0
            win = -1
            for j in range(n_alive):
                x = alive[j]
                if parent[x] != x:
                    continue
                alive[kept] = x
                kept += 1
                if win < 0 or area2[x] > area2[win] or (area2[x] == area2[win] and first[x] > first[win]):
                    win = x
            n_alive = kept
            if win >= 0:
                x0 = bx0[win]
                y0 = by0[win]
                x1 = min(bx1[win] + 1, width - 1)
                y1 = min(by1[win] + 1, height - 1)
                v1_box[k, 0] = x0
                v1_box[k, 1] = y0
                v1_box[k, 2] = x1
                v1_box[k, 3] = y1
                v1_iou[k] = _iou(x0, y0, x1, y1, gt)


@_compiled
def level_ious(quantized, wanted, gt_boxes, gt_counts, v1_iou, v2_iou, v1_box, first_map, stop_map) -> None:
    """For the maps ``first_map <= b < stop_map`` and every level k with ``wanted[b, k]``:
    ``v1_iou[b, k]``/``v1_box[b, k]`` (largest contour of ``quantized[b] > k``) and
    ``v2_iou[b, k]`` (best over every contour, holes included). A level without foreground
    scores the box (0, 0, 0, 0), as wsolevaluation does.

    ``quantized``: uint8 ``[B, H, W]``; ``wanted``: bool ``[B, 256]``; ``gt_boxes``: int64
    ``[B, K, 4]`` (inclusive x0, y0, x1, y1) with ``gt_counts[b]`` valid rows; outputs
    float64 ``[B, 256]`` and int64 ``[B, 256, 4]``.
    """
    batch, height, width = quantized.shape
    n = height * width
    order = np.empty(n, dtype=np.int64)
    starts = np.empty(257, dtype=np.int64)
    parent = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    bx0 = np.empty(n, dtype=np.int64)
    by0 = np.empty(n, dtype=np.int64)
    bx1 = np.empty(n, dtype=np.int64)
    by1 = np.empty(n, dtype=np.int64)
    added = np.zeros(n, dtype=np.bool_)
    alive = np.empty(n, dtype=np.int64)
    is_open = np.empty(n, dtype=np.bool_)
    nxt = np.empty(n, dtype=np.int64)
    head = np.empty(n, dtype=np.int64)
    tail = np.empty(n, dtype=np.int64)
    area2 = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    theta = np.empty(n, dtype=np.uint8)
    cells = np.zeros((height + 1) * (width + 1), dtype=np.uint8)
    fg_best = np.empty(256, dtype=np.float64)
    hole_best = np.empty(256, dtype=np.float64)
    for b in range(first_map, stop_map):
        gt = gt_boxes[b, : gt_counts[b]]
        values = quantized[b].reshape(n)
        top = 0
        for i in range(n):
            top = max(top, values[i])
        want = wanted[b]
        fg_best[:] = -1.0
        hole_best[:] = -1.0
        _sort_by_value(values, order, starts)
        added[:] = False
        _foreground_pass(values, height, width, order, starts, want, gt, fg_best,
                         parent, size, bx0, by0, bx1, by1, added, alive)
        added[:] = False
        _background_pass(values, height, width, order, starts, want, gt, hole_best, theta,
                         parent, size, bx0, by0, bx1, by1, added, alive, is_open, nxt, head, tail)
        _sort_by_value(theta, order, starts)
        added[:] = False
        cells[:] = 0
        _fill_pass(theta, height, width, order, starts, want, gt, v1_iou[b], v1_box[b],
                   parent, size, bx0, by0, bx1, by1, added, alive, area2, first, cells)
        empty = _iou(0, 0, 0, 0, gt)
        for k in range(256):
            if not want[k]:
                continue
            if k >= top:  # no foreground: wsolevaluation's box [0, 0, 0, 0]
                v1_iou[b, k] = empty
                v2_iou[b, k] = empty
                v1_box[b, k, 0] = 0
                v1_box[b, k, 1] = 0
                v1_box[b, k, 2] = 0
                v1_box[b, k, 3] = 0
            else:
                v2_iou[b, k] = max(fg_best[k], hole_best[k])
