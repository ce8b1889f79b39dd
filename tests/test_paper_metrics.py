"""The paper's localisation metrics (infocam.localization.paper_metrics): exact hit counts over
images, MaxBoxAccV2 against a per-image reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from infocam.localization.paper_metrics import BoxAccuracy, MaxBoxAccV2, PxAP, component_hits, curve_thresholds


def test_box_accuracy_counts_hits_over_images():
    metric = BoxAccuracy(0.5)
    # batch 1: 3 images; batch 2: 1 image -> a running mean of ratios would weight them wrongly
    metric.update(torch.tensor([0.5, 0.49, 0.9]), torch.tensor([0.6, 0.9, 0.1]), torch.tensor([True, True, False]))
    metric.update(torch.tensor([0.7]), torch.tensor([0.7]), torch.tensor([False]))
    out = metric.compute()
    assert out["count"].item() == 4
    assert out["gt_known_loc"].item() == 3 / 4  # IoU >= 0.5 counts
    assert out["top1_loc"].item() == 2 / 4  # needs a correct class and a hit of the predicted-class box
    assert out["top1_cls"].item() == 2 / 4


def _reference_hits(maps, gt_boxes, gt_counts, thresholds, deltas):
    """Per image, per threshold, scipy components: the way the reference evaluation loops."""
    hits = np.zeros((len(deltas), len(thresholds)), dtype=np.int64)
    for m, boxes, count in zip(maps.numpy(), gt_boxes.numpy(), gt_counts.numpy()):
        low, high = np.float32(m.min()), np.float32(m.max())
        for j, t in enumerate(thresholds):
            labels, n = ndi.label(m > low + np.float32(t) * (high - low), structure=np.ones((3, 3)))
            best = 0.0
            for sl in ndi.find_objects(labels):
                box = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
                for g in boxes[:count]:
                    iw = max(0.0, min(box[2], g[2]) - max(box[0], g[0]))
                    ih = max(0.0, min(box[3], g[3]) - max(box[1], g[1]))
                    inter = iw * ih
                    union = (box[2] - box[0]) * (box[3] - box[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
                    best = max(best, inter / union)
            for d, delta in enumerate(deltas):
                hits[d, j] += best >= delta
    return torch.from_numpy(hits)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_component_hits_match_a_per_image_reference(backend):
    g = torch.Generator().manual_seed(0)
    low = torch.rand(12, 1, 5, 5, generator=g)
    maps = torch.nn.functional.interpolate(low, size=(40, 40), mode="bilinear", align_corners=False)[:, 0]
    maps[3] = 0.0  # flat map: no component at any threshold
    corners = torch.randint(0, 25, (12, 3, 2), generator=g).float()
    gt_boxes = torch.cat([corners, corners + 5 + torch.randint(0, 15, (12, 3, 2), generator=g).float()], -1)
    gt_counts = torch.randint(1, 4, (12,), generator=g)
    thresholds = curve_thresholds(20)
    deltas = [0.3, 0.5, 0.7]
    mine = component_hits(
        maps, gt_boxes, gt_counts, thresholds, deltas, max_pixels_per_chunk=40 * 40 * 12 * 3, backend=backend
    )
    assert torch.equal(mine, _reference_hits(maps, gt_boxes, gt_counts, thresholds, deltas))
    assert mine.sum() > 0


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_maxboxacc_v2_on_hand_made_maps(backend):
    # map 0: a blob exactly on its GT box; map 1: a blob far from its GT box
    maps = torch.zeros(2, 20, 20)
    maps[0, 2:8, 2:8] = 1.0
    maps[1, 12:18, 12:18] = 1.0
    gt = torch.tensor([[[2.0, 2.0, 8.0, 8.0]], [[0.0, 0.0, 6.0, 6.0]]])
    metric = MaxBoxAccV2(thresholds=[0.0, 0.5], iou_thresholds=[0.3, 0.5, 0.7], backend=backend)
    metric.update(maps[:1], gt[:1], torch.tensor([1]))
    metric.update(maps[1:], gt[1:], torch.tensor([1]))
    out = metric.compute()
    assert metric.hits.tolist() == [[1, 1], [1, 1], [1, 1]]
    assert out["maxboxacc_v2"].item() == 0.5
    assert out["maxboxacc_v2_iou50"].item() == 0.5


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_maxboxacc_v2_takes_the_best_threshold_per_iou_and_any_component(backend):
    # a faint wide halo around a bright core; GT = the core at IoU 70, halo only at IoU 30
    m = torch.zeros(1, 30, 30)
    m[0, 5:25, 5:25] = 0.3
    m[0, 10:20, 10:20] = 1.0
    m[0, 0, 29] = 0.9  # a second, tiny component: "all contours" must not hide the core
    gt = torch.tensor([[[10.0, 10.0, 20.0, 20.0]]])
    metric = MaxBoxAccV2(thresholds=[0.1, 0.5], iou_thresholds=[0.3, 0.7], backend=backend)
    metric.update(m, gt, torch.tensor([1]))
    assert metric.hits.tolist() == [[0, 1], [0, 1]]  # halo box 20x20 vs 10x10 core: IoU 0.25
    assert metric.compute()["maxboxacc_v2"].item() == 1.0
    assert metric.compute()["maxboxacc_v2_iou70_threshold"].item() == 0.5


def test_pxap_perfect_and_uninformative_maps():
    masks = torch.zeros(2, 10, 10, dtype=torch.bool)
    masks[:, 2:5, 2:5] = True
    perfect = PxAP(thresholds=10)
    perfect.update(masks.float(), masks)
    assert perfect.compute().item() == 1.0
    inverted = PxAP(thresholds=10)
    inverted.update((~masks).float(), masks)
    assert inverted.compute().item() < 0.2


def test_component_hits_backends_agree_on_fractional_boxes_and_a_fine_iou_grid():
    g = torch.Generator().manual_seed(3)
    low = torch.rand(16, 1, 6, 6, generator=g)
    maps = torch.nn.functional.interpolate(low, size=(37, 45), mode="bilinear", align_corners=False)[:, 0]
    corners = torch.rand(16, 4, 2, generator=g) * 30
    gt_boxes = torch.cat([corners, corners + 2 + torch.rand(16, 4, 2, generator=g) * 20], -1)  # fractional
    gt_counts = torch.randint(0, 6, (16,), generator=g)  # 0 boxes and more than K=4 both occur
    deltas = torch.linspace(0.05, 0.95, 37).tolist()
    for connectivity in (8, 4):
        args = (maps, gt_boxes, gt_counts, curve_thresholds(25), deltas, connectivity)
        fast = component_hits(*args, backend="numba")
        assert torch.equal(fast, component_hits(*args, backend="torch"))
        assert 0 < fast.sum() < fast.numel() * 16


def test_pxap_without_any_mask_is_nan_not_a_score():
    # NaN, and (issue 28) no longer torchmetrics' compute-before-update warning: see the test below
    assert torch.isnan(PxAP(thresholds=10).compute())


def test_pxap_without_masks_is_nan_without_a_warning():
    """Data without masks (CUB) never updates PxAP; torchmetrics' compute-before-update warning
    printed on every such eval (issue 28)."""
    import warnings

    from infocam.localization.paper_metrics import PxAP

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isnan(PxAP(10).compute())
    metric = PxAP(10)
    metric.update(torch.rand(2, 8, 8), torch.rand(2, 8, 8) > 0.5)
    assert 0 <= float(metric.compute()) <= 1
