"""wsolevaluation's contour boxes at every threshold level of a uint8 map, in a few passes.

Why this is written by hand: their evaluator calls OpenCV's ``findContours(RETR_TREE)`` once
per map and threshold (about 60 us each at 224x224, 60 ms per map at 1,000 thresholds), and
no library gives the contours of all 256 nested masks of a map at once. The masks
``q > k`` of one map are nested, so union-find passes over the pixels sorted by value give
every level's components at a cost that does not depend on the number of thresholds.
A joining pixel reads its eight neighbours' "joined" flags as one 8-bit mask; lookup tables
give one neighbour per group of mutually adjacent ones (one ``find`` each) and the change of
the contour area or Euler number, so the inner loop has few data-dependent branches:

* **bg** (q increasing, 4-connected, the zero frame around the image as one open region,
  joined before the first pixel, so no pixel tests for the image border):
  the holes of ``q > k`` are the 4-connected parts of ``q <= k`` that do not reach the
  frame; a hole contour is traced through the foreground pixels bordering the hole, so its
  box is the hole's box grown by one pixel. The same pass gives every pixel's *fill level*
  ``theta`` (the level at which it reaches the frame through background) as the order in
  which pixels reach it, i.e. the fill pass's order, and the Euler numbers.
* **fill** (theta decreasing, 8-connected): the components of ``theta > k`` are the
  top-level components with their holes filled. ``cv2.contourArea`` of an outer contour is
  ``#(2x2 cells with 4 filled corners) + #(cells with 3) / 2`` (zero-padded), counted
  incrementally as pixels join; a hole's contour is never larger than its parent's outer
  contour and comes after it, so the largest contour (V1, first on ties) is the largest
  filled top-level component, ties going to the one whose first raster pixel is *last*
  (OpenCV lists sibling contours in reverse order of discovery).
* **fg** (q decreasing, 8-connected; the fill pass's code on the value order): the
  components of ``q > k``; OpenCV's outer contour of a component has the component's
  bounding box. Needed only for *islands* (components inside holes): every other component
  is top-level and has the box of its filled component. A map has islands at level k when
  its 8-connected components (Euler number, counted from 2x2 patterns during the bg pass,
  plus its holes) outnumber its filled components, so this pass runs only for such maps,
  and only down to the lowest such wanted level (below it, the filled components' boxes
  are every component's box, as in a map without islands).

Memory layout, for speed (pixels are visited in value order, i.e. all over the map): per
pixel only a 4-byte union-find ``parent`` (negative at a root) and a one-byte "joined"
flag, small enough for the core's L2 cache at 224x224; boxes, areas and the open/closed
state live in one record per *component*, stored at its root pixel (``comp[root]``, written
only when a pixel joins no neighbour; a joining pixel extends its root's record, with no
load of a component id on the way), so merges and the per-level scans touch a few hundred
records, not the whole map. The neighbour offsets of each ring mask's groups are tabulated
once per call. Quantisation (with the
[0, 1] check) and the gather of each threshold's level run in the same compiled call, so
maps are shared out over threads with no serial numpy step.

These facts were checked against OpenCV 5.0 on thousands of random masks (tests/wsoleval/test_protocol.py, against the OpenCV oracle in tests/fixtures/wsol_oracle.py).
Boxes follow wsolevaluation: ``(x, y, x + w, y + h)`` of the contour's bounding rectangle
with ``x1 <= W - 1``, ``y1 <= H - 1``; IoU counts pixels inclusively.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from infocam.localization._run_components import compiled as _compiled  # the shared numba set-up

# fields of a component record (flat int32 [padded pixels * RECORD]: root pixel p's field F is comp[p * RECORD + F])
R0, C0, R1, C1, AUX, FIRST, ORDER = range(7)
RECORD = 8  # int32 fields per record
DEAD = -1  # R0 of a component merged into another
OPEN = -1  # AUX of a background component whose region reaches the frame
CLOSED = 0
LOW16 = 0xFFFF


def _one_per_group(members: list[int], joined: Callable[[int, int], bool]) -> list[int]:
    """One ring index per group of ``members`` that ``joined(i, j)`` links (directly or through
    others), each group's first member in ring order."""
    group = list(range(8))

    def find(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in members:
        for j in members:
            if joined(i, j):
                group[find(j)] = find(i)
    firsts: list[int] = []
    roots: list[int] = []
    for i in members:
        if find(i) not in roots:
            roots.append(find(i))
            firsts.append(i)
    return firsts


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
        firsts = _one_per_group(members, lambda i, j: j == (i + 1) % 8 or (i % 2 == 0 and j == (i + 2) % 8))
        count[mask] = len(firsts)
        reps[mask, : len(firsts)] = firsts
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
        # i and the next orthogonal one, with the diagonal between them joined
        firsts = _one_per_group(members, lambda i, j: j == (i + 2) % 8 and bool(mask >> (i + 1) & 1))
        count[mask] = len(firsts)
        reps[mask, : len(firsts)] = firsts
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
    u = np.uint64(p - stride - 1)  # unsigned indices: no negative-index code
    s = np.uint64(stride)
    one, two = np.uint64(1), np.uint64(2)
    return (np.int64(added[u + one]) | (np.int64(added[u + two]) << 1) | (np.int64(added[u + s + two]) << 2)
            | (np.int64(added[u + s + s + two]) << 3) | (np.int64(added[u + s + s + one]) << 4)
            | (np.int64(added[u + s + s]) << 5) | (np.int64(added[u + s]) << 6) | (np.int64(added[u]) << 7))


@_compiled
def _rec(root, field):
    """Index of ``field`` of the record of root pixel ``root`` in the flat ``comp`` (unsigned:
    no negative-index code on the hot path)."""
    return np.uint64(root) * np.uint64(RECORD) + np.uint64(field)


@_compiled
def _find(parent, p) -> int:
    """Root pixel of ``p``'s component (a root's ``parent`` is negative), with path halving."""
    while True:
        q = parent[np.uint64(p)]
        if q < 0:
            return p
        g = parent[q]
        if g < 0:
            return q
        parent[np.uint64(p)] = g
        p = g


@_compiled
def _new_component(parent, comp, order, p, r, c, aux) -> None:
    """Pixel ``p`` starts a component, the ``order``-th of the pass: its record is ``comp[p]``."""
    parent[np.uint64(p)] = -1
    comp[_rec(p, R0)] = r
    comp[_rec(p, C0)] = c
    comp[_rec(p, R1)] = r
    comp[_rec(p, C1)] = c
    comp[_rec(p, AUX)] = aux
    comp[_rec(p, FIRST)] = p
    comp[_rec(p, ORDER)] = order


@_compiled
def _attach(parent, comp, root, p, r, c) -> None:
    """Pixel ``p`` joins root ``root``'s component: its record's box and first pixel grow."""
    parent[np.uint64(p)] = root
    comp[_rec(root, R0)] = min(comp[_rec(root, R0)], r)
    comp[_rec(root, C0)] = min(comp[_rec(root, C0)], c)
    comp[_rec(root, R1)] = max(comp[_rec(root, R1)], r)
    comp[_rec(root, C1)] = max(comp[_rec(root, C1)], c)
    comp[_rec(root, FIRST)] = min(comp[_rec(root, FIRST)], p)


@_compiled
def _union(parent, comp, a, b) -> int:
    """Join the components of roots ``a`` and ``b``; the older one (smaller ``ORDER``) survives with
    the joint box and first pixel, the other is marked ``DEAD``. Returns the surviving root."""
    if comp[_rec(b, ORDER)] < comp[_rec(a, ORDER)]:
        a, b = b, a
    parent[b] = a
    comp[_rec(a, R0)] = min(comp[_rec(a, R0)], comp[_rec(b, R0)])
    comp[_rec(a, C0)] = min(comp[_rec(a, C0)], comp[_rec(b, C0)])
    comp[_rec(a, R1)] = max(comp[_rec(a, R1)], comp[_rec(b, R1)])
    comp[_rec(a, C1)] = max(comp[_rec(a, C1)], comp[_rec(b, C1)])
    comp[_rec(a, FIRST)] = min(comp[_rec(a, FIRST)], comp[_rec(b, FIRST)])
    comp[_rec(b, R0)] = DEAD
    return a


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
def _box(comp, root, grow, height, width):
    """wsolevaluation's box of the component whose record is at root pixel ``root``: bounding rectangle grown by ``grow`` pixels
    (1 for a hole's contour), ``(x, y, x + w, y + h)`` with ``x1 <= W - 1`` and ``y1 <= H - 1``."""
    return (comp[_rec(root, C0)] - grow, comp[_rec(root, R0)] - grow,
            min(comp[_rec(root, C1)] + 1 + grow, width - 1), min(comp[_rec(root, R1)] + 1 + grow, height - 1))


@_compiled
def _sort_by_value(values, height, width, histogram, corner, starts) -> None:
    """Counting sort of the pixels by uint8 value (pixel (r, c) is ``values[r * width + c]``;
    ``histogram``: :func:`_quantize`'s two interleaved counts): ``corner[starts[v]:starts[v +
    1]]`` holds the ``(row << 16) | col`` of the pixels of value v, in raster order. One int32
    scatter per pixel; the padded index is recomputed from the corner (:func:`_padded`),
    cheaper than a second scattered array."""
    counts = np.empty(256, dtype=np.int64)
    total = 0
    for v in range(256):
        starts[v] = total
        counts[v] = total
        total += histogram[v] + histogram[256 + v]
    starts[256] = total
    for r in range(height):
        base = np.uint64(r * width)
        for c in range(width):
            v = values[base + np.uint64(c)]
            corner[np.uint64(counts[v])] = (r << 16) | c
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
def _emit_circle(link, first, fill_order, n_fill, stride, inverse) -> int:
    """Append the corners of the closed region whose circular list passes through pixel
    ``first`` to the fill order (the region has just reached the frame); returns the new length."""
    m = first
    while True:
        fill_order[n_fill] = _corner_of(m, stride, inverse)
        n_fill += 1
        m = link[m]
        if m == first:
            return n_fill


@_compiled
def _background_pass(height, width, corner, starts, want, gt, best, count, fill_order, fill_starts, parent, comp, link, alive, added, euler4, cross_off):
    """``best[k]`` = best IoU of any hole-contour box of ``q > k`` (wanted k; -1 if no hole);
    ``theta[p]``, the smallest k at which pixel p reaches the frame through ``q <= k``, is
    given by the order in which pixels reach it: each gets it once, at level ``theta``, so
    ``fill_order[fill_starts[t]:fill_starts[t + 1]]`` (corners) are the pixels with
    ``theta == t``, already sorted for the fill pass (which does not depend on the order
    within a level).

    A closed (hole) region's pixels form a circular list through ``link`` (two holes that
    join swap their roots' links, which splices the circles in O(1)), so that they get their
    ``theta`` the moment the hole opens; a component whose region reaches the frame has
    ``AUX == OPEN``.

    ``euler4[k]`` = 4 x the Euler number (8-connected components minus holes) of ``q > k``:
    each pixel leaving the foreground changes it by ``EULER_REMOVE`` of its foreground
    neighbours (the complement of its joined ones, inside the image).
    """
    stride = width + 2
    inverse = 1.0 / stride
    # the zero frame as one open region that has already joined (its record at padded pixel
    # 0, the oldest): a border pixel joins it like any neighbour, and the frame's bits in the
    # ring mask leave it out of the Euler change, with no test for the image border
    bottom = (height + 1) * stride
    for c in range(stride):
        added[c] = 1
        added[bottom + c] = 1
        parent[c] = 0
        parent[bottom + c] = 0
    for r in range(1, height + 1):
        added[r * stride] = 1
        added[r * stride + width + 1] = 1
        parent[r * stride] = 0
        parent[r * stride + width + 1] = 0
    _new_component(parent, comp, -1, 0, 0, 0, OPEN)
    n_alive = 0
    n_comp = 0
    euler = 4  # the whole image: one component, no hole
    n_fill = 0
    fill_starts[0] = 0
    for v in range(256):
        for i in range(starts[v], starts[v + 1]):
            rc = corner[np.uint64(i)]
            p = _padded(rc, stride)
            mask = _ring_mask(added, p, stride)
            added[np.uint64(p)] = 1
            r = rc >> 16
            c = rc & LOW16
            euler += EULER_REMOVE[~mask & 0xFF]
            groups = CROSS_COUNT[mask]
            if groups == 0:  # a new hole (a border pixel always joins the frame)
                _new_component(parent, comp, n_comp, p, r, c, CLOSED)
                link[np.uint64(p)] = p
                alive[n_alive] = p
                n_alive += 1
                n_comp += 1
                continue
            root = _find(parent, p + cross_off[mask, 0])
            for j in range(1, groups):
                other = _find(parent, p + cross_off[mask, j])
                if other == root:
                    continue
                open_a = comp[_rec(root, AUX)] == OPEN
                open_b = comp[_rec(other, AUX)] == OPEN
                if open_a != open_b:  # a hole reaches the frame: its pixels fill at level v
                    n_fill = _emit_circle(link, other if open_a else root, fill_order, n_fill, stride, inverse)
                    root = _union(parent, comp, root, other)
                    comp[_rec(root, AUX)] = OPEN
                elif open_a:
                    root = _union(parent, comp, root, other)
                else:  # two holes join: swapping the roots' links splices the circles
                    link[root], link[other] = link[other], link[root]
                    root = _union(parent, comp, root, other)
            _attach(parent, comp, root, p, r, c)
            if comp[_rec(root, AUX)] == OPEN:
                fill_order[np.uint64(n_fill)] = rc
                n_fill += 1
            else:
                link[np.uint64(p)] = link[np.uint64(root)]
                link[np.uint64(root)] = p
        euler4[v] = euler
        fill_starts[v + 1] = n_fill
        if v < 255 and want[v]:
            kept = 0
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if comp[_rec(x, R0)] == DEAD or comp[_rec(x, AUX)] == OPEN:
                    continue
                alive[kept] = x
                kept += 1
                x0, y0, x1, y1 = _box(comp, x, 1, height, width)
                value = _iou(x0, y0, x1, y1, gt)
                if value > top:
                    top = value
            n_alive = kept
            best[v] = top
            count[v] = kept


@_compiled
def _join_pass(height, width, order, starts, want, gt, v1_iou, v1_box, best, count, parent, comp, alive, added, ring_off, lowest):
    """8-connected components of the pixels in ``order`` (corners, level by level from 255
    down): per wanted k, ``best[k]`` (best IoU of any component's box, -1 if none),
    ``count[k]`` and the box and IoU of the largest component by twice its
    ``cv2.contourArea`` (``AUX``: ``2 * #(cells with 4 corners in) + #(cells with 3)``, kept
    per component as pixels join); ties go to the component whose first raster pixel is
    later, OpenCV's order.

    On the fill order (theta) these are the filled top-level components (V1 and, without
    islands, V2's outer contours); on the value order, every component of ``q > k``.
    Levels ``k >= lowest`` only: the pixels of values ``<= lowest`` are left out.
    """
    stride = width + 2
    n_alive = 0
    n_comp = 0
    for v in range(255, lowest, -1):
        for i in range(starts[v], starts[v + 1]):
            rc = order[np.uint64(i)]
            p = _padded(rc, stride)
            r = rc >> 16
            c = rc & LOW16
            mask = _ring_mask(added, p, stride)
            added[np.uint64(p)] = 1
            groups = RING_COUNT[mask]
            if groups == 0:
                _new_component(parent, comp, n_comp, p, r, c, 0)
                alive[n_alive] = p
                n_alive += 1
                n_comp += 1
                continue
            root = _find(parent, p + ring_off[mask, 0])
            for j in range(1, groups):
                other = _find(parent, p + ring_off[mask, j])
                if other != root:
                    total = comp[_rec(root, AUX)] + comp[_rec(other, AUX)]
                    root = _union(parent, comp, root, other)
                    comp[_rec(root, AUX)] = total
            _attach(parent, comp, root, p, r, c)
            comp[_rec(root, AUX)] += RING_GAIN[mask]
        k = v - 1
        if want[k]:
            kept = 0
            win = -1
            top = -1.0
            for j in range(n_alive):
                x = alive[j]
                if comp[_rec(x, R0)] == DEAD:
                    continue
                alive[kept] = x
                kept += 1
                x0, y0, x1, y1 = _box(comp, x, 0, height, width)
                value = _iou(x0, y0, x1, y1, gt)
                if value > top:
                    top = value
                if win < 0 or comp[_rec(x, AUX)] > comp[_rec(win, AUX)] or (comp[_rec(x, AUX)] == comp[_rec(win, AUX)] and comp[_rec(x, FIRST)] > comp[_rec(win, FIRST)]):
                    win = x
            n_alive = kept
            best[k] = top
            count[k] = kept
            if win >= 0:
                x0, y0, x1, y1 = _box(comp, win, 0, height, width)
                v1_box[k, 0] = x0
                v1_box[k, 1] = y0
                v1_box[k, 2] = x1
                v1_box[k, 3] = y1
                v1_iou[k] = _iou(x0, y0, x1, y1, gt)


@_compiled
def _quantize(source, scale, levels_given, values, histogram) -> int:
    """``values = uint8(source * scale)`` (truncating, in the source's precision) and its
    maximum; -1 when a value is NaN or outside [0, 1]. ``levels_given``: ``source`` already
    holds uint8 levels, copied. ``histogram`` (int64 [512]) gets the counts of each value,
    even and odd pixels apart (``histogram[v] + histogram[256 + v]``: runs of equal values
    would otherwise chain every increment on the one before)."""
    top = 0
    ok = True
    histogram[:] = 0
    for i in range(values.shape[0]):
        x = source[i]
        if levels_given:
            q = np.uint8(x)
        else:
            ok = ok and x >= 0 and x <= 1
            q = np.uint8(x * scale)
        values[i] = q
        histogram[np.uint64(i & 1) * np.uint64(256) + np.uint64(q)] += 1
        top = max(top, np.int64(q))
    return top if ok else -1


@_compiled
def level_ious_kernel(maps, scale, levels_given, thresholds, gt_boxes, gt_counts, v1_out, v2_out, box_out, bad, first_map, stop_map) -> None:
    """For the maps ``first_map <= b < stop_map`` and every threshold t: ``v1_out[b, t]``
    (IoU of the largest contour of ``q > int(thresholds[t] * max(q))``), ``v2_out[b, t]``
    (best over every contour, holes included) and, when ``box_out`` has rows, the V1 box
    ``box_out[b, t]``. ``q = uint8(maps[b] * scale)`` in the maps' precision (or
    ``maps[b]`` itself when ``levels_given``); a map with NaN or values outside [0, 1] gets
    ``bad[b] = 1`` and no scores. A level without foreground scores the box (0, 0, 0, 0),
    as wsolevaluation does.

    Without islands (components inside holes) every component is top-level and has the box
    of its filled component, so the fg pass runs only for maps where the Euler number says a
    wanted level has more components than filled ones (a peak inside a ring).

    ``maps``: C-contiguous ``[B, H, W]`` float32/float64 (or uint8 levels); ``gt_boxes``:
    int64 ``[B, K, 4]`` (inclusive x0, y0, x1, y1) with ``gt_counts[b]`` valid rows; outputs
    float64 ``[B, T]``, int64 ``[B, T, 4]`` (or ``[0, T, 4]``) and int8 ``[B]``.
    """
    batch, height, width = maps.shape
    n = height * width
    padded = (height + 2) * (width + 2)
    n_thresholds = thresholds.shape[0]
    values = np.empty(n, dtype=np.uint8)
    histogram = np.empty(512, dtype=np.int64)
    value_corner = np.empty(n, dtype=np.int32)
    fill_order = np.empty(n, dtype=np.int32)
    value_starts = np.empty(257, dtype=np.int64)
    fill_starts = np.empty(257, dtype=np.int64)
    parent = np.empty(padded, dtype=np.int32)
    link = np.empty(padded, dtype=np.int32)
    comp = np.empty(padded * RECORD, dtype=np.int32)  # component records, indexed by root pixel
    added = np.zeros(padded, dtype=np.uint8)  # compact "has joined" flags: neighbour tests stay in cache
    alive = np.empty(n, dtype=np.int32)
    levels = np.empty(n_thresholds, dtype=np.int64)
    want = np.zeros(256, dtype=np.bool_)
    v1_iou = np.zeros(256, dtype=np.float64)
    v2_iou = np.zeros(256, dtype=np.float64)
    v1_box = np.zeros((256, 4), dtype=np.int64)
    scratch_iou = np.zeros(256, dtype=np.float64)
    scratch_box = np.zeros((256, 4), dtype=np.int64)
    fg_best = np.empty(256, dtype=np.float64)
    hole_best = np.empty(256, dtype=np.float64)
    fill_best = np.empty(256, dtype=np.float64)
    hole_count = np.zeros(256, dtype=np.int64)
    fill_count = np.zeros(256, dtype=np.int64)
    fg_count = np.zeros(256, dtype=np.int64)
    euler4 = np.zeros(256, dtype=np.int64)
    stride = width + 2
    ring = np.array((-stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1, -stride - 1), dtype=np.int64)
    ring_off = np.empty((256, 4), dtype=np.int64)  # padded offset of each group's neighbour
    cross_off = np.empty((256, 4), dtype=np.int64)
    for m in range(256):
        for j in range(4):
            ring_off[m, j] = ring[RING_REPS[m, j]]
            cross_off[m, j] = ring[CROSS_REPS[m, j]]
    for b in range(first_map, stop_map):
        top = _quantize(maps[b].reshape(n), scale, levels_given, values, histogram)
        if top < 0:
            bad[b] = 1
            continue
        gt = gt_boxes[b, : gt_counts[b]]
        want[:] = False
        for t in range(n_thresholds):
            levels[t] = np.int64(thresholds[t] * np.float64(top))  # their int(tau * max), truncating
            want[levels[t]] = True
        fg_best[:] = -1.0
        hole_best[:] = -1.0
        fill_best[:] = -1.0
        _sort_by_value(values, height, width, histogram, value_corner, value_starts)
        added[:] = 0
        _background_pass(height, width, value_corner, value_starts, want, gt, hole_best, hole_count, fill_order, fill_starts, parent, comp, link, alive, added, euler4, cross_off)
        added[:] = 0
        _join_pass(height, width, fill_order, fill_starts, want, gt, v1_iou, v1_box, fill_best, fill_count, parent, comp, alive, added, ring_off, 0)
        holes = False
        for k in range(256):
            holes = holes or (want[k] and hole_best[k] >= 0)
        lowest = -1  # the lowest wanted level with islands
        if holes:  # components = Euler number + holes; more than the filled ones means islands in holes
            for k in range(top):
                if want[k] and hole_best[k] >= 0 and euler4[k] + 4 * hole_count[k] > 4 * fill_count[k]:
                    lowest = k
                    break
        islands = lowest >= 0
        if islands:  # the fg pass down to that level only: below it the filled components' boxes are every box
            added[:] = 0
            _join_pass(height, width, value_corner, value_starts, want, gt, scratch_iou, scratch_box, fg_best, fg_count, parent, comp, alive, added, ring_off, lowest)
        empty = _iou(0, 0, 0, 0, gt)
        for k in range(256):
            if not want[k]:
                continue
            if k >= top:  # no foreground: wsolevaluation's box [0, 0, 0, 0]
                v1_iou[k] = empty
                v2_iou[k] = empty
                v1_box[k, :] = 0
            elif not islands or k < lowest:  # every component is top-level: its box is its filled component's
                v2_iou[k] = max(fill_best[k], hole_best[k])
            else:
                v2_iou[k] = max(fg_best[k], hole_best[k])
        for t in range(n_thresholds):
            v1_out[b, t] = v1_iou[levels[t]]
            v2_out[b, t] = v2_iou[levels[t]]
        if box_out.shape[0] > 0:
            for t in range(n_thresholds):
                for j in range(4):
                    box_out[b, t, j] = v1_box[levels[t], j]
