"""wsolevaluation's contour boxes at every threshold level of a uint8 map, in a few passes.

Why this is written by hand: their evaluator calls OpenCV's ``findContours(RETR_TREE)`` once
per map and threshold (about 60 us each at 224x224, 60 ms per map at 1,000 thresholds), and
no library gives the contours of all 256 nested masks of a map at once. The masks
``q > k`` of one map are nested, so union-find passes over the pixels sorted by value give
every level's components at a cost that does not depend on the number of thresholds.
A joining pixel reads its eight neighbours' "joined" flags as one 8-bit mask; lookup tables
give one neighbour per group of mutually adjacent ones (one ``find`` each) and the change of
the contour area or Euler number, so the inner loop has few data-dependent branches:

* **fg** (q decreasing, 8-connected): the connected components of ``q > k``; OpenCV's outer
  contour of a component has the component's bounding box. Needed only for *islands*
  (components inside holes): every other component is top-level and has the box of its
  filled component (below). A map has islands at level k when its 8-connected components
  (Euler number, counted from 2x2 patterns during the bg pass, plus its holes) outnumber
  its filled components, so this pass runs only for such maps.
* **bg** (q increasing, 4-connected, the zero frame around the image as one open region):
  the holes of ``q > k`` are the 4-connected parts of ``q <= k`` that do not reach the
  frame; a hole contour is traced through the foreground pixels bordering the hole, so its
  box is the hole's box grown by one pixel. The same pass gives every pixel's *fill level*
  ``theta`` (the level at which it reaches the frame through background) as the order in
  which pixels reach the frame, i.e. the fill pass's order, and the Euler numbers.
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


# One 16-byte record per pixel of the zero-padded map (index (r + 1) * (W + 2) + c + 1): the
# parent, the box corners packed as (row << 16) | col, and one pass-specific field. Pixels are
# visited in value order, i.e. all over the map, so a node's fields share one cache line
# (separate arrays per field measured 1.6x slower) and small records keep the map in cache.
PARENT, LO, HI, AUX = range(4)
OPEN = -1  # AUX of a background root whose region reaches the frame
LOW16 = 0xFFFF


def _ring_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables over the 8-bit mask of a pixel's joined 8-neighbours, ring order N, NE, E,
    SE, S, SW, W, NW (bit i = ``RING[i]``).

    Joined neighbours that are 8-adjacent to each other (ring neighbours, and two orthogonal
    ones such as N and E) are already in one component, so a joining pixel needs one ``find``
    per group, not per neighbour: ``REPS[m, :COUNT[m]]`` are one ring index per group (at most
    four). ``GAIN[m]`` is the rise of ``2 * cv2.contourArea`` when the pixel joins: each of
    its four 2x2 cells with at least two other filled corners goes from 3 to 4 or from 2 to 3
    filled corners, each worth one.
    """
    count = np.zeros(256, dtype=np.int64)
    reps = np.zeros((256, 4), dtype=np.int64)
    gain = np.zeros(256, dtype=np.int64)
    cell_masks = (0b11000001, 0b00000111, 0b00011100, 0b01110000)  # NW, NE, SE, SW cells
    for mask in range(256):
        members = [i for i in range(8) if mask >> i & 1]
        group = list(range(8))

        def find(i: int) -> int:
            while group[i] != i:
                i = group[i]
            return i

        for i in members:
            for j in members:
                if j == (i + 1) % 8 or (i % 2 == 0 and j == (i + 2) % 8):
                    group[find(j)] = find(i)
        seen: list[int] = []
        for i in members:
            if find(i) not in seen:
                seen.append(find(i))
                reps[mask, count[mask]] = i
                count[mask] += 1
        gain[mask] = sum(bin(mask & cell).count("1") >= 2 for cell in cell_masks)
    return count, reps, gain


def _cross_tables() -> tuple[np.ndarray, np.ndarray]:
    """The 4-connected counterpart of :func:`_ring_tables` (same mask): two joined orthogonal
    neighbours (N and E, say) are already in one component when the diagonal between them
    (NE) has joined too, so ``CROSS_REPS[m, :CROSS_COUNT[m]]`` (orthogonal ring indices) need
    one ``find`` each."""
    count = np.zeros(256, dtype=np.int64)
    reps = np.zeros((256, 4), dtype=np.int64)
    for mask in range(256):
        members = [i for i in (0, 2, 4, 6) if mask >> i & 1]
        group = list(range(8))

        def find(i: int) -> int:
            while group[i] != i:
                i = group[i]
            return i

        for i in members:
            j = (i + 2) % 8
            if j in members and mask >> (i + 1) & 1:  # the diagonal between i and j joined
                group[find(j)] = find(i)
        seen: list[int] = []
        for i in members:
            if find(i) not in seen:
                seen.append(find(i))
                reps[mask, count[mask]] = i
                count[mask] += 1
    return count, reps


def _euler_removal_table() -> np.ndarray:
    """``EULER_REMOVE[f]``: the change of 4 x the Euler number (8-connected) of the foreground
    when a pixel whose foreground 8-neighbours have ring mask ``f`` leaves it, from Gray's 2x2
    patterns (``#Q1 - #Q3 - 2 #QD`` over the pixel's four cells)."""
    # pattern bits of a 2x2 cell: top-left 1, top-right 2, bottom-left 4, bottom-right 8
    weight = (0, 1, 1, 0, 1, 0, -2, -1, 1, -2, 0, -1, 0, -1, -1, 0)
    n, ne, e, se, s_, sw, w, nw = range(8)
    # each cell: ring index of each corner, or -1 for the pixel itself (tl, tr, bl, br)
    cells = ((nw, n, w, -1), (n, ne, -1, e), (w, -1, sw, s_), (-1, e, s_, se))
    table = np.zeros(256, dtype=np.int64)
    for f in range(256):
        for corners in cells:
            before = after = 0
            for bit, ring_index in zip((1, 2, 4, 8), corners):
                if ring_index < 0:
                    before |= bit
                elif f >> ring_index & 1:
                    before |= bit
                    after |= bit
            table[f] += weight[after] - weight[before]
    return table


RING_COUNT, RING_REPS, RING_GAIN = _ring_tables()
EULER_REMOVE = _euler_removal_table()
CROSS_COUNT, CROSS_REPS = _cross_tables()


@_compiled
def _ring_mask(added, p, stride) -> int:
    """8-bit mask of the joined 8-neighbours of padded pixel ``p`` (see :func:`_ring_tables`)."""
    return (np.int64(added[p - stride]) | (np.int64(added[p - stride + 1]) << 1) | (np.int64(added[p + 1]) << 2)
            | (np.int64(added[p + stride + 1]) << 3) | (np.int64(added[p + stride]) << 4)
            | (np.int64(added[p + stride - 1]) << 5) | (np.int64(added[p - 1]) << 6) | (np.int64(added[p - stride - 1]) << 7))


@_compiled
def _find(node: np.ndarray, p: int) -> int:
    while node[p, PARENT] != p:
        node[p, PARENT] = node[node[p, PARENT], PARENT]  # path halving
        p = node[p, PARENT]
    return p


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
def _sort_by_value(values, row_stride, offset, height, width, corner, starts) -> None:
    """Counting sort of the pixels by uint8 value (pixel (r, c) is ``values[r * row_stride + c +
    offset]``): ``corner[starts[v]:starts[v + 1]]`` holds the ``(row << 16) | col`` of the
    pixels of value v, in raster order. One int32 scatter per pixel; the padded index is
    recomputed from the corner (:func:`_padded`), cheaper than a second scattered array."""
    counts = np.zeros(257, dtype=np.int64)
    for r in range(height):
        base = r * row_stride + offset
        for c in range(width):
            counts[values[base + c] + 1] += 1
    for v in range(256):
        counts[v + 1] += counts[v]
    for v in range(257):
        starts[v] = counts[v]
    for r in range(height):
        base = r * row_stride + offset
        for c in range(width):
            v = values[base + c]
            corner[counts[v]] = (r << 16) | c
            counts[v] += 1


@_compiled
def _padded(rc, stride) -> int:
    """Index in the zero-padded grid of the pixel whose corner is ``rc = (row << 16) | col``."""
    return np.int64(rc >> 16) * stride + np.int64(rc & LOW16) + stride + 1


@_compiled
def _corner_of(p, stride, inverse) -> int:
    """``(row << 16) | col`` of padded index ``p`` (the inverse of :func:`_padded`), by a
    multiplication with ``inverse = 1 / stride`` and an exact correction instead of a
    division."""
    r = np.int64(np.float64(p) * inverse)
    if (r + 1) * stride <= p:
        r += 1
    elif r * stride > p:
        r -= 1
    return ((r - 1) << 16) | (p - r * stride - 1)


@_compiled
def _add(node, p, rc) -> None:
    node[p, PARENT] = p
    node[p, LO] = rc
    node[p, HI] = rc


@_compiled
def _merge(node, a, b) -> int:
    """Union of roots ``a`` and ``b`` under the smaller index (the earlier pixel in raster
    order, so a root is its component's first pixel); the new root takes the joint box."""
    if b < a:
        a, b = b, a
    node[b, PARENT] = a
    la, lb = node[a, LO], node[b, LO]
    ha, hb = node[a, HI], node[b, HI]
    node[a, LO] = (min(la >> 16, lb >> 16) << 16) | min(la & LOW16, lb & LOW16)
    node[a, HI] = (max(ha >> 16, hb >> 16) << 16) | max(ha & LOW16, hb & LOW16)
    return a


@_compiled
def _box(node, x, grow, height, width):
    """wsolevaluation's box of root ``x``: bounding rectangle grown by ``grow`` pixels (1 for a
    hole's contour), ``(x, y, x + w, y + h)`` with ``x1 <= W - 1`` and ``y1 <= H - 1``."""
    lo, hi = node[x, LO], node[x, HI]
    return ((lo & LOW16) - grow, (lo >> 16) - grow,
            min((hi & LOW16) + 1 + grow, width - 1), min((hi >> 16) + 1 + grow, height - 1))


@_compiled
def _foreground_pass(height, width, corner, starts, want, gt, best, node, alive, added):
    """``best[k]`` = best IoU of any outer-contour box of ``q > k`` (for wanted k; -1 if none)."""
    stride = width + 2
    ring = np.array((-stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1, -stride - 1), dtype=np.int64)
    n_alive = 0
    for v in range(255, 0, -1):
        for i in range(starts[v], starts[v + 1]):
            rc = corner[i]
            p = _padded(rc, stride)
            _add(node, p, rc)
            mask = _ring_mask(added, p, stride)
            added[p] = 1
            root = p
            for j in range(RING_COUNT[mask]):
                other = _find(node, p + ring[RING_REPS[mask, j]])
                if other != root:
                    root = _merge(node, root, other)
            if root == p:  # a root is one from its own step on (the smaller index wins): listed once
                alive[n_alive] = p
                n_alive += 1
        k = v - 1
        if want[k]:
            kept = 0
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if node[x, PARENT] != x:
                    continue
                alive[kept] = x
                kept += 1
                x0, y0, x1, y1 = _box(node, x, 0, height, width)
                value = _iou(x0, y0, x1, y1, gt)
                if value > top:
                    top = value
            n_alive = kept
            best[k] = top


@_compiled
def _background_pass(height, width, corner, starts, want, gt, best, count, fill_order, fill_starts, node, alive, added, euler4):
    """``best[k]`` = best IoU of any hole-contour box of ``q > k`` (wanted k; -1 if no hole);
    ``theta[p]``, the smallest k at which pixel p reaches the frame through ``q <= k``, is
    given by the order in which pixels reach it: each gets it once, at level ``theta``, so
    ``fill_order[fill_starts[t]:fill_starts[t + 1]]`` (padded indices) are the pixels with
    ``theta == t``, already sorted for the fill pass (which does not depend on the order
    within a level).

    A closed (hole) region's pixels form a circular list through ``AUX`` (two holes that join
    swap their roots' links, which splices the circles in O(1)), so that they get their
    ``theta`` the moment the hole opens; a root whose region reaches the frame has ``AUX ==
    OPEN``, in the record that ``_find`` has just read.

    ``euler4[k]`` = 4 x the Euler number (8-connected components minus holes) of ``q > k``:
    each pixel leaving the foreground changes it by ``EULER_REMOVE`` of its foreground
    neighbours (the complement of its joined ones, inside the image).
    """
    stride = width + 2
    ring = np.array((-stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1, -stride - 1), dtype=np.int64)
    n_alive = 0
    euler = 4  # the whole image: one component, no hole
    n_fill = 0
    fill_starts[0] = 0
    for v in range(256):
        for i in range(starts[v], starts[v + 1]):
            rc = corner[i]
            p = _padded(rc, stride)
            _add(node, p, rc)
            mask = _ring_mask(added, p, stride)
            added[p] = 1
            r = rc >> 16
            c = rc & LOW16
            if r == 0 or c == 0 or r == height - 1 or c == width - 1:
                node[p, AUX] = OPEN
                fill_order[n_fill] = p
                n_fill += 1
                inside = 0xFF
                if r == 0:
                    inside &= ~0b10000011  # NW, N, NE
                if r == height - 1:
                    inside &= ~0b00111000  # SE, S, SW
                if c == 0:
                    inside &= ~0b11100000  # SW, W, NW
                if c == width - 1:
                    inside &= ~0b00001110  # NE, E, SE
                euler += EULER_REMOVE[~mask & inside]
            else:
                euler += EULER_REMOVE[~mask & 0xFF]
                node[p, AUX] = p
            root = p
            for j in range(CROSS_COUNT[mask]):
                other = _find(node, p + ring[CROSS_REPS[mask, j]])
                if other == root:
                    continue
                open_a = node[root, AUX] == OPEN
                open_b = node[other, AUX] == OPEN
                if open_a != open_b:  # a hole reaches the frame: its pixels fill at level v
                    first = other if open_a else root
                    m = first
                    while True:
                        fill_order[n_fill] = m
                        n_fill += 1
                        m = node[m, AUX]
                        if m == first:
                            break
                    root = _merge(node, root, other)
                    node[root, AUX] = OPEN
                elif open_a:
                    root = _merge(node, root, other)
                else:  # two holes join: swapping the roots' links splices the circles
                    link = node[root, AUX]
                    node[root, AUX] = node[other, AUX]
                    node[other, AUX] = link
                    root = _merge(node, root, other)
            if root == p and node[p, AUX] != OPEN:  # a new hole root (roots arise only at their own step)
                alive[n_alive] = p
                n_alive += 1
        euler4[v] = euler
        fill_starts[v + 1] = n_fill
        if v < 255 and want[v]:
            kept = 0
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if node[x, PARENT] != x or node[x, AUX] == OPEN:
                    continue
                alive[kept] = x
                kept += 1
                x0, y0, x1, y1 = _box(node, x, 1, height, width)
                value = _iou(x0, y0, x1, y1, gt)
                if value > top:
                    top = value
            n_alive = kept
            best[v] = top
            count[v] = kept


@_compiled
def _fill_pass(height, width, order, starts, want, gt, v1_iou, v1_box, fill_best, count, node, alive, added):
    """V1: per wanted k, the box and IoU of the largest top-level outer contour of ``q > k``.

    Components of ``theta > k`` are the top-level components with their holes filled; twice
    their ``cv2.contourArea`` (``AUX``) is ``2 * #(cells with 4 filled corners) + #(cells
    with 3)``, kept per root as pixels join. A root is its component's first pixel; ties go
    to the later one, OpenCV's order.
    """
    stride = width + 2
    inverse = 1.0 / stride
    ring = np.array((-stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1, -stride - 1), dtype=np.int64)
    n_alive = 0
    for v in range(255, 0, -1):
        for i in range(starts[v], starts[v + 1]):
            p = np.int64(order[i])
            _add(node, p, _corner_of(p, stride, inverse))
            node[p, AUX] = 0
            mask = _ring_mask(added, p, stride)
            added[p] = 1
            gain = RING_GAIN[mask]
            root = p
            for j in range(RING_COUNT[mask]):
                other = _find(node, p + ring[RING_REPS[mask, j]])
                if other != root:
                    total = node[root, AUX] + node[other, AUX]
                    root = _merge(node, root, other)
                    node[root, AUX] = total
            node[root, AUX] += gain
            if root == p:  # roots arise only at their own step (the smaller index wins)
                alive[n_alive] = p
                n_alive += 1
        k = v - 1
        if want[k]:
            kept = 0
            win = -1
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if node[x, PARENT] != x:
                    continue
                alive[kept] = x
                kept += 1
                x0, y0, x1, y1 = _box(node, x, 0, height, width)
                value = _iou(x0, y0, x1, y1, gt)
                if value > top:
                    top = value
                if win < 0 or node[x, AUX] > node[win, AUX] or (node[x, AUX] == node[win, AUX] and x > win):
                    win = x
            n_alive = kept
            fill_best[k] = top
            count[k] = kept
            if win >= 0:
                x0, y0, x1, y1 = _box(node, win, 0, height, width)
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

    Without islands (components inside holes) every component is top-level and has the box of
    its filled component, so the foreground pass runs only for maps where the Euler number
    says a wanted level has more components than filled ones (a peak inside a ring).

    ``quantized``: uint8 ``[B, H, W]``; ``wanted``: bool ``[B, 256]``; ``gt_boxes``: int64
    ``[B, K, 4]`` (inclusive x0, y0, x1, y1) with ``gt_counts[b]`` valid rows; outputs
    float64 ``[B, 256]`` and int64 ``[B, 256, 4]``.
    """
    batch, height, width = quantized.shape
    n = height * width
    padded = (height + 2) * (width + 2)
    value_corner = np.empty(n, dtype=np.int32)
    fill_order = np.empty(n, dtype=np.int32)
    value_starts = np.empty(257, dtype=np.int64)
    fill_starts = np.empty(257, dtype=np.int64)
    node = np.empty((padded, 4), dtype=np.int32)
    added = np.zeros(padded, dtype=np.uint8)  # compact "has joined" flags: neighbour tests stay in cache
    alive = np.empty(n, dtype=np.int32)
    fg_best = np.empty(256, dtype=np.float64)
    hole_best = np.empty(256, dtype=np.float64)
    fill_best = np.empty(256, dtype=np.float64)
    hole_count = np.zeros(256, dtype=np.int64)
    fill_count = np.zeros(256, dtype=np.int64)
    euler4 = np.zeros(256, dtype=np.int64)
    stride = width + 2
    for b in range(first_map, stop_map):
        gt = gt_boxes[b, : gt_counts[b]]
        values = quantized[b].reshape(n)
        top = 0
        for i in range(n):
            top = max(top, values[i])
        want = wanted[b]
        fg_best[:] = -1.0
        hole_best[:] = -1.0
        fill_best[:] = -1.0
        _sort_by_value(values, width, 0, height, width, value_corner, value_starts)
        added[:] = 0
        _background_pass(height, width, value_corner, value_starts, want, gt, hole_best, hole_count, fill_order, fill_starts, node, alive, added, euler4)
        added[:] = 0
        _fill_pass(height, width, fill_order, fill_starts, want, gt, v1_iou[b], v1_box[b], fill_best, fill_count, node, alive, added)
        holes = False
        for k in range(256):
            holes = holes or (want[k] and hole_best[k] >= 0)
        islands = False
        if holes:  # components = Euler number + holes; more than the filled ones means islands in holes
            for k in range(top):
                if want[k] and hole_best[k] >= 0 and euler4[k] + 4 * hole_count[k] > 4 * fill_count[k]:
                    islands = True
        if islands:
            added[:] = 0
            _foreground_pass(height, width, value_corner, value_starts, want, gt, fg_best, node, alive, added)
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
            elif not islands:  # every component is top-level: its box is its filled component's
                v2_iou[b, k] = max(fill_best[k], hole_best[k])
            else:
                v2_iou[b, k] = max(fg_best[k], hole_best[k])
