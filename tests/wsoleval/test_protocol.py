"""wsolevaluation's protocol: their test cases, OpenCV-exact preparation, and the batched
component-tree path against a per-image OpenCV oracle on random smooth maps with holes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from infocam.errors import ConfigError, DataError
from infocam.localization.settings import localization_settings
from infocam.localization.wsoleval.protocol import (
    cam_thresholds,
    contour_boxes,
    level_ious,
    multiple_iou,
    normalize_scoremaps,
    prepare_scoremaps,
    quantize,
    resize_box,
    resize_cubic,
    resize_nearest,
)
from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP
from fixtures.wsol_oracle import boxes_at, oracle_level_ious

TAUS = [0.0, 0.2, 0.4, 0.6, 0.8]


# -- their test suite's cases ---------------------------------------------------------------


def test_unimodal_map_boxes():
    scoremap = np.array([[0, 0, 0, 0, 0], [0, 0.4, 0.4, 0.4, 0.6], [0, 0.4, 1, 0.8, 0.6], [0, 0.4, 0.4, 0.4, 0.6]])
    boxes = contour_boxes(scoremap, TAUS).tolist()
    assert boxes == [[1, 1, 4, 3], [1, 1, 4, 3], [2, 1, 4, 3], [2, 2, 4, 3], [2, 2, 3, 3]]


def test_multimodal_map_largest_contour_boxes():
    scoremap = np.array([[0.4, 0, 0.2, 0.2, 0.2], [0.4, 0.4, 0, 0.4, 0], [0, 0, 0, 0.4, 0], [1, 0.6, 0.8, 0.2, 0.2]])
    boxes = contour_boxes(scoremap, TAUS).tolist()
    assert boxes == [[0, 0, 4, 3], [0, 0, 2, 2], [0, 3, 3, 3], [2, 3, 3, 3], [0, 3, 1, 3]]


def test_iou_and_box_resize():
    assert multiple_iou(np.array([[1, 2, 5, 6]]), np.array([[3, 1, 4, 5]]))[0, 0] == pytest.approx(8 / 27, abs=0)
    assert resize_box((1, 2, 4, 3), (10, 20), (35, 10)) == (3, 1, 14, 1)
    assert multiple_iou(np.array([[0, 0, -1, 0]]), np.array([[0, 0, -1, 0]]))[0, 0] == 0  # degenerate: 0


def test_all_zero_map_gives_empty_box_and_nan_map_is_an_error():
    assert contour_boxes(np.zeros((4, 5)), TAUS).tolist() == [[0, 0, 0, 0]] * 5
    with pytest.raises(DataError, match="NaN"):
        contour_boxes(np.full((4, 5), np.nan), TAUS)
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        contour_boxes(np.full((4, 5), 1.5), TAUS)


def test_no_foreground_scores_the_box_at_the_origin():
    """Their [0, 0, 0, 0] box is a real 1-pixel box: it hits a ground truth at the origin."""
    quantized = np.zeros((1, 6, 6), dtype=np.uint8)
    v1, v2, _ = level_ious(quantized, cam_thresholds(0.25), np.array([[[0, 0, 0, 0]]]), np.ones(1))
    assert v1.tolist() == [[1.0] * 4] and v2.tolist() == [[1.0] * 4]


# -- score map preparation ------------------------------------------------------------------


@pytest.mark.parametrize("shape,size", [((14, 14), (224, 224)), ((7, 9), (50, 37)), ((40, 30), (20, 25)), ((1, 6), (5, 8))])
def test_cubic_resize_equals_opencv_bit_for_bit(shape, size):
    maps = np.random.default_rng(0).standard_normal((3, *shape))
    ours = resize_cubic(torch.from_numpy(maps), size).numpy()
    theirs = np.stack([cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_CUBIC) for m in maps])
    assert np.array_equal(ours, theirs)


def test_normalisation_and_quantisation_follow_numpy():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[2.0, 2.0], [2.0, 2.0]], [[0.0, float("nan")], [1.0, 2.0]]], dtype=torch.float64)
    out = normalize_scoremaps(maps)
    assert out[0].tolist() == [[0.0, 0.5], [0.25, 1.0]] and out[1].abs().sum() == 0 and out[2].abs().sum() == 0
    values = np.array([[0.3, 0.7, 1.0, 0.999]])
    assert np.array_equal(quantize(values), (values * 255).astype(np.uint8))
    assert np.array_equal(quantize(values.astype(np.float32)), (values.astype(np.float32) * 255).astype(np.uint8))
    nearest = np.arange(35, dtype=np.float32).reshape(5, 7)
    assert np.array_equal(resize_nearest(nearest, 16), cv2.resize(nearest, (16, 16), interpolation=cv2.INTER_NEAREST))


def test_settings_protocol_is_checked():
    assert localization_settings()["protocol"] == "infocam"
    assert localization_settings({"protocol": "wsolevaluation", "curve_thresholds": 1000})["protocol"] == "wsolevaluation"
    with pytest.raises(ConfigError, match="protocol"):
        localization_settings({"protocol": "voc"})
    with pytest.raises(ConfigError, match="count"):
        localization_settings({"protocol": "wsolevaluation", "curve_thresholds": [0.1, 0.2]})


# -- the batched path against OpenCV ------------------------------------------------------------


def random_maps(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth maps (bicubic upsampled noise, several peaks) with dips cut into bumps so that
    masks have holes, plus 1-3 ground-truth boxes per map; float64 in [0, 1]."""
    rng = np.random.default_rng(seed)
    size = 32
    yy, xx = np.mgrid[0:size, 0:size]
    maps, gts = [], []
    for i in range(count):
        low = rng.random((int(rng.integers(3, 8)), int(rng.integers(3, 8))))
        m = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        for _ in range(int(rng.integers(1, 4))):  # a ring: a bump with a narrower dip in its middle
            cy, cx, r = rng.uniform(6, 26), rng.uniform(6, 26), rng.uniform(2, 6)
            d2 = (yy - cy) ** 2 + (xx - cx) ** 2
            m += 0.8 * np.exp(-d2 / (2 * r * r)) - 0.7 * np.exp(-d2 / (0.5 * r * r))
        if i % 5 == 0:
            m += 0.05 * rng.standard_normal(m.shape)  # rough maps: many small components and holes
        maps.append(normalize_scoremaps(torch.from_numpy(m)[None])[0].numpy())
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.integers(0, 24, 2)
            boxes.append([x0, y0, x0 + rng.integers(2, 12), y0 + rng.integers(2, 12)])
        gts.append(boxes + [[0, 0, 0, 0]] * (3 - len(boxes)))
    return np.stack(maps), np.asarray(gts)


@pytest.fixture(scope="module")
def oracle_cases():
    maps, gts = random_maps(1000, seed=7)
    counts = (gts[:, :, 2] > 0).sum(axis=1)
    quantized = quantize(maps)
    per_map = [oracle_level_ious(q, g[:c]) for q, g, c in zip(quantized, gts, counts)]
    return maps, gts, counts, per_map


@pytest.mark.parametrize("interval", [0.01, 0.001])
def test_hit_counts_equal_the_opencv_oracle(oracle_cases, interval):
    maps, gts, counts, per_map = oracle_cases
    assert sum(h > 0 for _, _, h in per_map) >= 300  # holes are really exercised
    thresholds = cam_thresholds(interval)
    metric = WsolBoxAccuracy(interval, [30, 50, 70], multi_contour=True)
    single_metric = WsolBoxAccuracy(interval, [30, 50, 70], multi_contour=False)
    for start in range(0, len(maps), 128):
        part = slice(start, start + 128)
        metric.update(maps[part], gts[part], counts[part])
        single_metric.update(maps[part], gts[part], counts[part])
    top = quantize(maps).reshape(len(maps), -1).max(axis=1)
    expected_v1 = np.zeros((3, len(thresholds)), dtype=np.int64)
    expected_v2 = np.zeros((3, len(thresholds)), dtype=np.int64)
    for (v1, v2, _), m in zip(per_map, top):
        levels = [int(tau * m) for tau in thresholds]  # their int(threshold * np.max(map))
        for d, delta in enumerate((30, 50, 70)):
            expected_v1[d] += v1[levels] >= delta / 100
            expected_v2[d] += v2[levels] >= delta / 100
    assert np.array_equal(metric.hits_multi.numpy(), expected_v2)
    assert np.array_equal(metric.hits_single.numpy(), expected_v1)
    assert np.array_equal(metric.hits_v1.numpy(), expected_v1[1])
    assert np.array_equal(single_metric.hits_multi.numpy(), metric.hits_multi.numpy())
    # and the IoU values themselves, map by map
    v1, v2, _ = level_ious(quantize(maps[:100]), thresholds, gts[:100], counts[:100])
    for b in range(100):
        levels = [int(tau * top[b]) for tau in thresholds]
        assert np.array_equal(v1[b], per_map[b][0][levels]) and np.array_equal(v2[b], per_map[b][1][levels])


def test_metric_values_follow_their_compute(oracle_cases):
    maps, gts, counts, _ = oracle_cases
    metric = WsolBoxAccuracy(0.01, [30, 50, 70], multi_contour=True)
    metric.update(maps[:300], gts[:300], counts[:300])
    out = {k: float(v) for k, v in metric.compute().items()}
    best = [(metric.hits_multi[d].numpy() * 100.0 / 300.0).max() for d in range(3)]
    assert out["maxboxacc_v2"] == np.average(best)
    assert out["maxboxacc"] == (metric.hits_v1.numpy() * 100.0 / 300.0).max()
    index = int(np.argmax(metric.hits_multi[0].numpy()))
    assert out["maxboxacc_v2_iou30_threshold"] == cam_thresholds(0.01)[index]


def test_pxap_equals_their_histogram_procedure():
    rng = np.random.default_rng(3)
    maps = rng.random((4, 24, 24))
    masks = (rng.random((4, 24, 24)) < 0.3).astype(np.uint8)
    masks[:, :3] = 255  # ignored rows
    metric = WsolPxAP(0.01)
    metric.update(maps[:2], masks[:2])
    metric.update(maps[2:], masks[2:])
    edges = np.append(np.arange(0, 1, 0.01), [1.0, 2.0, 3.0])
    true_hist = sum(np.histogram(m[k == 1], bins=edges)[0] for m, k in zip(maps, masks)).astype(float)
    false_hist = sum(np.histogram(m[k == 0], bins=edges)[0] for m, k in zip(maps, masks)).astype(float)
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    keep = (tp + fp) != 0
    with np.errstate(invalid="ignore"):
        precision, recall = tp / (tp + fp), tp / (tp + fn)
    expected = (precision[1:] * np.diff(recall))[keep[1:]].sum() * 100
    assert float(metric.compute()) == expected
    assert np.array_equal(metric.true_hist.numpy(), true_hist.astype(np.int64))


def test_prepared_maps_are_their_maps():
    raw = torch.randn(2, 7, 7)
    ours = prepare_scoremaps(raw, (224, 224)).numpy()
    for r, o in zip(raw.numpy().astype(float), ours):
        cam = cv2.resize(r, (224, 224), interpolation=cv2.INTER_CUBIC)
        cam -= cam.min()
        cam /= cam.max()
        assert np.array_equal(cam, o)


def test_island_inside_a_hole_is_a_candidate_box():
    """A peak inside a ring: at mid levels the contours are the ring, its hole and the island;
    the island's box (a one-pixel component: (4, 4, 5, 5)) matches the ground truth exactly."""
    scoremap = np.full((9, 9), 0.0)
    scoremap[1:8, 1:8] = 0.6
    scoremap[2:7, 2:7] = 0.2
    scoremap[4, 4] = 1.0
    gt = np.array([[[4, 4, 5, 5]]])
    thresholds = np.array([0.1, 0.3, 0.7])
    v1, v2, box = level_ious(quantize(scoremap)[None], thresholds, gt, np.ones(1), boxes=True)
    assert v2[0, 1] == 1.0 and v1[0, 1] < 1.0  # V2 sees the island, V1 keeps the ring
    assert box[0, 1].tolist() == [1, 1, 8, 8]
    quantized = quantize(scoremap)
    for t, tau in enumerate(thresholds):
        level = int(tau * quantized.max())
        assert v2[0, t] == multiple_iou(boxes_at(quantized, level, True), gt[0]).max()
        assert v1[0, t] == multiple_iou(boxes_at(quantized, level, False), gt[0]).max()


def test_kernel_quantises_as_numpy_shares_maps_over_threads_and_refuses_bad_maps(oracle_cases):
    """Quantisation runs inside the compiled kernel: the same levels as numpy's ``uint8(map *
    255)`` in the map's precision, the same results on one or two threads, and a map with a
    NaN or a value outside [0, 1] is named, not scored."""
    maps, gts, counts, _ = oracle_cases
    thresholds = cam_thresholds(0.01)
    for dtype in (np.float64, np.float32):
        part = maps[:60].astype(dtype)
        fused = level_ious(part, thresholds, gts[:60], counts[:60], threads=2, boxes=True)
        given = level_ious(quantize(part), thresholds, gts[:60], counts[:60], threads=1, boxes=True)
        assert all(np.array_equal(a, b) for a, b in zip(fused, given))
    for value, needle in ((np.nan, "NaN"), (1.5, r"outside \[0, 1\]"), (-0.1, r"outside \[0, 1\]")):
        bad = maps[:4].copy()
        bad[2, 3, 3] = value
        with pytest.raises(DataError, match=f"score map 2 .*{needle}"):
            WsolBoxAccuracy(0.01).update(bad, gts[:4], counts[:4])
