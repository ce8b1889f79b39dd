"""Map -> box: hand-made maps whose boxes are known, and a per-image scipy oracle."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from torchvision.ops import box_iou

from infocam.errors import ConfigError
from infocam.localization import (
    best_iou,
    cams_to_boxes,
    connected_component_boxes,
    largest_component_boxes,
    normalize_maps,
    paired_box_iou,
    threshold_levels,
    threshold_masks,
)


BACKENDS = ["torch", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Every hand-made case runs on both connected-component backends."""
    return request.param


def boxes_of(*maps: torch.Tensor, backend: str, **kw) -> list[list[float]]:
    return cams_to_boxes(torch.stack(maps).float(), backend=backend, **kw).tolist()


def test_single_rectangle_box_is_tight_with_exclusive_end(backend):
    m = torch.zeros(10, 12)
    m[2:5, 3:8] = 1.0  # rows 2..4, cols 3..7
    assert boxes_of(m, backend=backend) == [[3, 2, 8, 5]]


def test_largest_component_beats_a_brighter_small_one(backend):
    m = torch.zeros(20, 20)
    m[1, 1] = 1.0  # one bright pixel
    m[10:16, 4:12] = 0.5  # a big plateau above 20% of the range
    assert boxes_of(m, backend=backend) == [[4, 10, 12, 16]]


def test_tie_goes_to_component_with_lowest_raster_order_pixel(backend):
    m = torch.zeros(8, 10)
    m[5:7, 0:2] = 1.0  # leftmost, but lower: first pixel 5*10+0 = 50
    m[1:3, 8:10] = 1.0  # same size, first pixel 1*10+8 = 18 -> wins
    assert boxes_of(m, backend=backend) == [[8, 1, 10, 3]]
    flipped = torch.zeros(8, 10)
    flipped[1:3, 0:2] = 1.0
    flipped[5:7, 8:10] = 1.0
    assert boxes_of(flipped, backend=backend) == [[0, 1, 2, 3]]


def test_empty_and_all_equal_maps_give_the_empty_box(backend):
    assert boxes_of(torch.zeros(6, 7), torch.full((6, 7), 3.5), torch.full((6, 7), -2.0), backend=backend) == [[0, 0, 0, 0]] * 3
    # threshold 0 still excludes a flat map: nothing is strictly above its minimum
    assert boxes_of(torch.zeros(6, 7), threshold=0.0, backend=backend) == [[0, 0, 0, 0]]


def test_boxes_at_image_borders(backend):
    full = torch.ones(9, 11)
    full[4, 5] = 0.0  # not flat; everything else is foreground
    corner = torch.zeros(9, 11)
    corner[8, 10] = 1.0
    top_left = torch.zeros(9, 11)
    top_left[0, 0:3] = 1.0
    assert boxes_of(full, corner, top_left, backend=backend) == [[0, 0, 11, 9], [10, 8, 11, 9], [0, 0, 3, 1]]


def test_threshold_is_strict_on_the_normalised_map(backend):
    m = torch.tensor([[0.0, 0.2, 0.5, 1.0]])
    assert threshold_masks(m[None], 0.2)[0].tolist() == [[False, False, True, True]]
    assert boxes_of(m, threshold=0.2, backend=backend) == [[2, 0, 4, 1]]
    assert boxes_of(m, threshold=0.6, backend=backend) == [[3, 0, 4, 1]]


def test_diagonal_pixels_join_under_8_but_not_4_connectivity(backend):
    m = torch.zeros(5, 5)
    m[1, 1] = m[2, 2] = 1.0
    m[4, 4] = 1.0  # a lone pixel: under 4-connectivity three 1-pixel components tie
    assert boxes_of(m, backend=backend) == [[1, 1, 3, 3]]
    assert boxes_of(m, connectivity=4, backend=backend) == [[1, 1, 2, 2]]


def test_u_shape_is_one_component(backend):
    """Two arms joined only at the bottom: labels must propagate up the second arm."""
    m = torch.zeros(12, 9)
    m[0:10, 1] = 1.0
    m[0:10, 6] = 1.0
    m[9, 1:7] = 1.0
    m[0:4, 8] = 1.0  # separate, smaller
    assert boxes_of(m, backend=backend) == [[1, 0, 7, 10]]


def test_image_size_upsamples_before_boxing(backend):
    low = torch.zeros(1, 4, 4)
    low[0, 1:3, 1:3] = 1.0
    up = cams_to_boxes(low, image_size=(32, 32), backend=backend)
    x0, y0, x1, y1 = up[0].tolist()
    assert 0 < x0 < 12 and 20 < x1 < 32 and (x0, y0, x1, y1) == (y0, x0, y1, x1)


def test_bad_inputs_are_config_errors():
    with pytest.raises(ConfigError, match=r"\[B, H, W\]"):
        cams_to_boxes(torch.zeros(4, 4))
    with pytest.raises(ConfigError, match="thresholds"):
        cams_to_boxes(torch.zeros(1, 4, 4), threshold=1.5)
    with pytest.raises(ConfigError, match="connectivity"):
        cams_to_boxes(torch.rand(1, 4, 4), connectivity=6)
    with pytest.raises(ConfigError, match="backend must be one of"):
        cams_to_boxes(torch.rand(1, 4, 4), backend="opencv")
    with pytest.raises(ConfigError, match="runs on CPU tensors"):
        cams_to_boxes(torch.rand(1, 4, 4, device="meta"), backend="numba")


def test_iou_is_clamped_for_disjoint_boxes_and_matches_torchvision():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[5.0, 5.0, 7.0, 7.0]])  # disjoint on both axes: (-3) * (-3) must not count
    assert paired_box_iou(a, b).item() == 0.0
    g = torch.Generator().manual_seed(1)
    p = torch.rand(200, 2, generator=g) * 50
    q = torch.rand(200, 2, generator=g) * 50
    boxes1 = torch.cat([p, p + 1 + torch.rand(200, 2, generator=g) * 30], 1)
    boxes2 = torch.cat([q, q + 1 + torch.rand(200, 2, generator=g) * 30], 1)
    torch.testing.assert_close(paired_box_iou(boxes1, boxes2), box_iou(boxes1, boxes2).diagonal())


def test_several_ground_truth_boxes_any_match_counts_and_padding_is_ignored():
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    gt = torch.tensor([[[50.0, 50.0, 60.0, 60.0], [0.0, 0.0, 10.0, 5.0]], [[50.0, 50.0, 60.0, 60.0], [0.0, 0.0, 10.0, 10.0]]])
    counts = torch.tensor([2, 1])  # second image: the matching box is a padding row
    assert best_iou(pred, gt, counts).tolist() == [0.5, 0.0]


def _scipy_components(mask: np.ndarray, connectivity: int):
    structure = np.ones((3, 3)) if connectivity == 8 else None
    labels, n = ndi.label(mask, structure=structure)
    out = []
    for index, sl in enumerate(ndi.find_objects(labels), start=1):
        area = int((labels[sl] == index).sum())
        out.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop, area))
    return out  # scipy numbers components in raster order of their first pixel


@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize("density", [0.3, 0.55, 0.7])
def test_components_match_scipy_on_random_masks(connectivity, density):
    g = torch.Generator().manual_seed(int(density * 100) + connectivity)
    mask = torch.rand(24, 17, 29, generator=g) < density
    mask[3] = False  # an empty map in the batch
    mask[5] = True  # a full map
    comps = connected_component_boxes(mask, connectivity)
    for b in range(mask.shape[0]):
        mine = [
            (*map(int, box.tolist()), int(area))
            for box, area in zip(comps.boxes[comps.image == b], comps.area[comps.image == b])
        ]
        assert mine == _scipy_components(mask[b].numpy(), connectivity), f"map {b}"
    largest = largest_component_boxes(mask, connectivity)
    for b in range(mask.shape[0]):
        ref = _scipy_components(mask[b].numpy(), connectivity)
        if not ref:
            assert largest[b].tolist() == [0, 0, 0, 0]
            continue
        best = max(range(len(ref)), key=lambda i: (ref[i][4], -i))  # first (raster order) among the largest
        assert largest[b].tolist() == list(ref[best][:4])


def test_normalize_maps_range_and_flat_maps():
    m = torch.stack([torch.arange(12.0).view(3, 4) - 5, torch.full((3, 4), 7.0)])
    n = normalize_maps(m)
    assert n[0].min().item() == 0.0 and n[0].max().item() == 1.0
    assert torch.equal(n[1], torch.zeros(3, 4))


def _scipy_largest_box(mask: np.ndarray, connectivity: int) -> list[float]:
    ref = _scipy_components(mask, connectivity)
    if not ref:
        return [0, 0, 0, 0]
    best = max(range(len(ref)), key=lambda i: (ref[i][4], -i))
    return list(ref[best][:4])


@pytest.mark.filterwarnings("ignore:cams_to_boxes. 2 of 36 maps hold NaN")  # planted NaN maps: the warning is right
@pytest.mark.parametrize("connectivity", [8, 4])
@pytest.mark.parametrize("shape", [(17, 29), (1, 40), (33, 1), (64, 64)])
def test_numba_and_torch_backends_agree_with_scipy_on_random_maps(connectivity, shape):
    g = torch.Generator().manual_seed(shape[0] * 100 + shape[1] + connectivity)
    smooth = torch.nn.functional.interpolate(torch.rand(12, 1, 4, 5, generator=g), size=shape, mode="bilinear")[:, 0]
    noisy = torch.rand(12, *shape, generator=g)
    maps = torch.cat([smooth, noisy, (noisy * 4).round()])  # rounded: plateaus and equal-area ties
    maps[0] = 0.0  # flat
    maps[1, 0, 0] = float("nan")  # NaN range: no foreground on either backend
    maps[2, -1, -1] = float("inf")
    for threshold in (0.0, 0.2, 0.5, 0.9):
        mine = cams_to_boxes(maps, threshold, connectivity=connectivity, backend="numba")
        assert torch.equal(mine, cams_to_boxes(maps, threshold, connectivity=connectivity, backend="torch"))
        masks = threshold_masks(maps, threshold).numpy()
        assert mine.tolist() == [_scipy_largest_box(m, connectivity) for m in masks], f"threshold {threshold}"
    assert mine[1].tolist() == [0, 0, 0, 0]


def _boxes_in_child(maps, queue) -> None:
    queue.put(cams_to_boxes(maps, backend="numba").tolist())  # plain data: the child exits first


def test_numba_backend_works_in_a_forked_child_and_from_several_threads():
    """DataLoader workers and ddp_fork fork after the parent has used the kernel; threaded
    callers may run it at once. Neither may hang, abort, or change a box."""
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    maps = torch.rand(6, 40, 40, generator=torch.Generator().manual_seed(5))
    expected = cams_to_boxes(maps, backend="torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the kernel's own pool is in use when the fork happens
    try:
        assert torch.equal(cams_to_boxes(maps, backend="numba"), expected)
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_boxes_in_child, args=(maps, queue))
        child.start()
        child.join(60)
        assert child.exitcode == 0, f"forked child exited with {child.exitcode}"
        assert queue.get(timeout=5) == expected.tolist()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: cams_to_boxes(maps, backend="numba"), range(8)))
        assert all(torch.equal(r, expected) for r in results)
    finally:
        torch.set_num_threads(before)


def test_compiled_cuts_equal_threshold_levels_bit_for_bit():
    """The numba path computes its cuts with numpy in its worker threads: same float32 values."""
    from infocam.localization import _run_components as run_components

    g = torch.Generator().manual_seed(11)
    maps = torch.randn(9, 13, 7, generator=g) * torch.logspace(-30, 30, 9)[:, None, None]
    maps[0] = 0.0
    maps[1, 2, 3] = float("nan")
    maps[2, 0, 0] = float("inf")
    maps[3, 0, 0] = float("-inf")
    thresholds = torch.tensor([0.0, 0.01, 0.2, 1 / 3, 0.64, 0.99])
    out = np.empty((6, 9), dtype=np.float32)
    run_components.map_cuts(maps.numpy(), thresholds.numpy(), out)
    expected = threshold_levels(maps, thresholds)
    torch.testing.assert_close(torch.from_numpy(out), expected, rtol=0, atol=0, equal_nan=True)
    assert torch.isnan(expected[:, 1]).all() and torch.isnan(expected[1:, 3]).all()


def test_kernels_compile_without_a_writable_cache(monkeypatch):
    """A read-only install with no usable cache directory still gets the numba backend."""
    import importlib

    from numba.core import caching

    import infocam.localization._run_components as run_components

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # as if no directory were writable
    try:
        uncached = importlib.reload(run_components)
        out = np.zeros((1, 2, 4), dtype=np.float32)
        maps = np.zeros((2, 5, 6), dtype=np.float32)
        maps[1, 1:3, 2:5] = 1.0
        uncached.run_over_maps(uncached.largest_component_boxes, maps, np.array([0.2], np.float32), 1, 0, out)
        assert out[0].tolist() == [[0, 0, 0, 0], [2, 1, 5, 3]]
    finally:
        monkeypatch.undo()
        importlib.reload(run_components)


# -- issue 28: cams_to_boxes on poor input ----------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_pixel_warns_and_names_the_map(backend, bad):
    maps = torch.rand(3, 8, 8)
    maps[1, 2, 5] = bad
    with pytest.warns(UserWarning, match=r"1 of 3 maps hold NaN or inf values \(first: map 1\); their boxes are \(0, 0, 0, 0\)"):
        boxes = cams_to_boxes(maps, backend=backend)
    assert boxes[1].tolist() == [0, 0, 0, 0] and bool((boxes[[0, 2], 2:] > 0).all())  # the others are boxed


@pytest.mark.parametrize("threshold, message", [
    (float("nan"), r"thresholds must be in \[0, 1\), got threshold=nan"),
    (None, r"threshold must be one number in \[0, 1\), got None"),
    ([0.2], r"threshold must be one number in \[0, 1\), got \[0.2\]"),
    ("0.2", r"threshold must be one number"),
    (True, r"threshold must be one number"),
])
def test_bad_thresholds_are_one_line(threshold, message):
    with pytest.raises(ConfigError, match=message):
        cams_to_boxes(torch.rand(2, 8, 8), threshold)


@pytest.mark.parametrize("size", [(0, 0), (8, -1), (8,), "8x8", (8.5, 8)])
def test_bad_image_sizes_are_one_line(size):
    with pytest.raises(ConfigError, match=r"image_size must be \(H, W\), two whole numbers >= 1"):
        cams_to_boxes(torch.rand(2, 8, 8), image_size=size)


def test_an_empty_batch_gives_no_boxes(backend):
    assert cams_to_boxes(torch.rand(0, 8, 8), backend=backend).shape == (0, 4)
    assert cams_to_boxes(torch.rand(0, 8, 8), image_size=(16, 16), backend=backend).shape == (0, 4)
    with pytest.raises(ConfigError, match="at least one pixel"):
        cams_to_boxes(torch.rand(2, 0, 8), backend=backend)
