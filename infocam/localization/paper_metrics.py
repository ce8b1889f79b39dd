"""Localisation accuracy as torchmetrics ``Metric``s: integer hit counts over images, summed.

Every state is a count with ``dist_reduce_fx="sum"``, so the value under DDP (each image on
exactly one rank, see :func:`infocam.data.loading.make_loader`) equals the one-process value.
Unlike the reference code: IoU is clamped at zero for disjoint boxes, accuracy is hits /
images (not a running mean of ratios), and every ground-truth box of an image counts (a hit
with any of them is a hit).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from infocam.errors import ConfigError
from infocam.localization import (
    check_connectivity,
    compiled_inputs,
    compiled_kernels,
    connected_component_boxes,
    paired_box_iou,
    threshold_levels,
)

#: IoU thresholds of MaxBoxAccV2 (Choe et al., CVPR 2020)
MAXBOXACC_IOUS = (0.3, 0.5, 0.7)


def curve_thresholds(spec: int | Sequence[float]) -> list[float]:
    """``100`` -> [0.00, 0.01, ..., 0.99] (Choe et al.'s grid); a list is used as given."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 1:
            raise ConfigError(f"curve_thresholds must be a positive count or a list, got {spec}")
        return [i / spec for i in range(spec)]
    values = [float(t) for t in spec]
    if not values or any(not 0 <= t < 1 for t in values):
        raise ConfigError(f"curve_thresholds must lie in [0, 1), got {values}")
    return values


class BoxAccuracy(Metric):
    """GT-known Loc, Top-1 Loc (IoU >= ``iou_threshold``) and Top-1 classification, in %/100.

    ``update(gt_iou, pred_iou, correct)``: per image, the best IoU of the box drawn from the
    ground-truth class map, of the box drawn from the predicted class map, and whether the
    prediction is right. Top-1 Loc needs both a correct class and a hit.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, iou_threshold: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.iou_threshold = float(iou_threshold)
        zero = lambda: torch.tensor(0, dtype=torch.long)  # noqa: E731
        for name in ("gt_known_hits", "top1_loc_hits", "top1_cls_hits", "count"):
            self.add_state(name, default=zero(), dist_reduce_fx="sum")

    def update(self, gt_iou: Tensor, pred_iou: Tensor, correct: Tensor) -> None:
        gt_hit = gt_iou >= self.iou_threshold
        self.gt_known_hits += gt_hit.sum()
        self.top1_loc_hits += ((pred_iou >= self.iou_threshold) & correct).sum()
        self.top1_cls_hits += correct.sum()
        self.count += correct.numel()

    def compute(self) -> dict[str, Tensor]:
        n = self.count.clamp_min(1).double()
        return {
            "gt_known_loc": self.gt_known_hits / n,
            "top1_loc": self.top1_loc_hits / n,
            "top1_cls": self.top1_cls_hits / n,
            "count": self.count,
        }


def component_hits(
    maps: Tensor,
    gt_boxes: Tensor,
    gt_counts: Tensor,
    thresholds: Sequence[float],
    iou_thresholds: Sequence[float] = MAXBOXACC_IOUS,
    connectivity: int = 8,
    max_pixels_per_chunk: int = 1 << 25,
    backend: str = "auto",
    per_image: bool = False,
) -> Tensor:
    """``[D, T]`` number of images of the batch where ANY component's box at threshold ``t``
    has IoU >= ``iou_thresholds[d]`` with ANY ground-truth box ("all contours", best match);
    with ``per_image`` the ``[D, T, B]`` hits themselves (bool), whose sum over B is that count.

    ``maps``: ``[B, H, W]`` at image resolution; thresholds are fractions of the min-max range.
    ``backend``: as in ``infocam.localization`` (same counts either way). On the torch backend
    thresholds are processed in chunks of at most ``max_pixels_per_chunk`` mask pixels.
    """
    check_connectivity(connectivity)
    batch, height, width = maps.shape
    device = maps.device
    deltas = torch.as_tensor(list(iou_thresholds), dtype=torch.float32, device=device)
    kernels = compiled_kernels(maps, backend)
    if kernels is not None:
        values, fractions = compiled_inputs(maps, thresholds)
        best = np.zeros((fractions.shape[0], batch), dtype=np.float32)  # [T, B] best IoU over components
        kernels.run_over_maps(
            kernels.best_component_iou,
            values,
            fractions,
            torch.get_num_threads(),
            0 if connectivity == 8 else 1,
            gt_boxes.detach().float().contiguous().numpy(),
            gt_counts.detach().long().contiguous().numpy(),
            best,
        )
        best = torch.from_numpy(best)
        image_hits = torch.stack([best >= delta for delta in deltas])  # [D, T, B]
        return image_hits if per_image else image_hits.sum(dim=2)
    levels = threshold_levels(maps, thresholds)  # [T, B]
    image_hits = torch.zeros(len(deltas), levels.shape[0], batch, dtype=torch.bool, device=device)
    valid = torch.arange(gt_boxes.shape[1], device=device)[None, :] < gt_counts[:, None]  # [B, K]
    chunk = max(1, max_pixels_per_chunk // max(1, batch * height * width))
    values = maps.float()
    for lo in range(0, levels.shape[0], chunk):
        cut = levels[lo : lo + chunk]  # [Tc, B]
        tc = cut.shape[0]
        masks = (values[None] > cut[:, :, None, None]).reshape(tc * batch, height, width)
        comps = connected_component_boxes(masks, connectivity)
        image = comps.image % batch
        ious = paired_box_iou(comps.boxes[:, None, :], gt_boxes[image].float())  # [N, K]
        best = torch.where(valid[image], ious, torch.zeros_like(ious)).amax(dim=1)  # [N]
        for d, delta in enumerate(deltas):
            hit = torch.zeros(tc * batch, dtype=torch.long, device=device)
            hit.scatter_reduce_(0, comps.image, (best >= delta).long(), reduce="amax")
            image_hits[d, lo : lo + tc] = hit.view(tc, batch).bool()
    return image_hits if per_image else image_hits.sum(dim=2)


class MaxBoxAccV2(Metric):
    """MaxBoxAccV2 (Choe et al., CVPR 2020): mean over IoU thresholds {0.3, 0.5, 0.7} of the
    best-over-map-thresholds box accuracy, boxes from all connected components of each map.

    States: ``hits[D, T]`` (images with a hit at IoU threshold d and map threshold t) and the
    image count, both summed across ranks. With ``keep_per_image`` each batch's ``[B, D, T]``
    hits are also kept in ``image_hits`` (this rank's images, in order; not a synced state)
    for the paired comparisons of ``infocam-report kind=wsol``.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        thresholds: int | Sequence[float] = 100,
        iou_thresholds: Sequence[float] = MAXBOXACC_IOUS,
        connectivity: int = 8,
        backend: str = "auto",
        keep_per_image: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.backend = backend
        self.keep_per_image = keep_per_image
        self.image_hits: list[Tensor] = []
        self.thresholds = curve_thresholds(thresholds)
        self.iou_thresholds = [float(d) for d in iou_thresholds]
        self.connectivity = connectivity
        self.add_state(
            "hits", default=torch.zeros(len(self.iou_thresholds), len(self.thresholds), dtype=torch.long), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, maps: Tensor, gt_boxes: Tensor, gt_counts: Tensor) -> None:
        image_hits = component_hits(
            maps, gt_boxes, gt_counts, self.thresholds, self.iou_thresholds, self.connectivity, backend=self.backend,
            per_image=True,
        )
        self.hits += image_hits.sum(dim=2).to(self.hits.device)
        self.count += maps.shape[0]
        if self.keep_per_image:
            self.image_hits.append(image_hits.permute(2, 0, 1).cpu())

    def reset(self) -> None:
        super().reset()
        self.image_hits = []

    def compute(self) -> dict[str, Tensor]:
        accuracy = self.hits.double() / self.count.clamp_min(1).double()  # [D, T]
        best, best_index = accuracy.max(dim=1)
        out = {"maxboxacc_v2": best.mean()}
        for delta, value, index in zip(self.iou_thresholds, best, best_index):
            out[f"maxboxacc_v2_iou{round(delta * 100)}"] = value
            out[f"maxboxacc_v2_iou{round(delta * 100)}_threshold"] = torch.tensor(self.thresholds[int(index)], dtype=torch.float64)
        return out


class PxAP(Metric):
    """Pixel average precision (Choe et al.): area under the pixel precision-recall curve of the
    normalised maps against the object masks, from per-threshold TP/FP/FN pixel counts.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, thresholds: int | Sequence[float] = 100, **kwargs) -> None:
        super().__init__(**kwargs)
        self.thresholds = curve_thresholds(thresholds)
        n = len(self.thresholds)
        for name in ("tp", "fp"):
            self.add_state(name, default=torch.zeros(n, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("positives", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("images", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, maps: Tensor, masks: Tensor) -> None:
        levels = threshold_levels(maps, self.thresholds)  # [T, B]
        values = maps.float()
        masks = masks.bool()
        for t in range(levels.shape[0]):
            fg = values > levels[t][:, None, None]
            self.tp[t] += (fg & masks).sum()
            self.fp[t] += (fg & ~masks).sum()
        self.positives += masks.sum()
        self.images += masks.shape[0]

    def _wrap_compute(self, compute: Callable) -> Callable:
        """torchmetrics warns when ``compute`` runs before any ``update``. For PxAP that is the
        usual case, not a mistake: data without masks (CUB, Tiny-ImageNet) never updates it,
        yet every rank must still call ``compute`` (syncing the states is a collective), and
        the NaN it returns means "no masks", which the task leaves out of the metrics."""
        wrapped = super()._wrap_compute(compute)

        @functools.wraps(compute)
        def quiet(*args: Any, **kwargs: Any) -> Any:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"The ``compute`` method of metric PxAP was called before", category=UserWarning)
                return wrapped(*args, **kwargs)

        return quiet

    def compute(self) -> Tensor:
        """PxAP over every rank's images; NaN when no rank saw a mask (nothing to score)."""
        if int(self.images) == 0:
            return torch.tensor(float("nan"), dtype=torch.float64, device=self.tp.device)
        tp, fp = self.tp.double(), self.fp.double()
        precision = torch.where(tp + fp > 0, tp / (tp + fp).clamp_min(1), torch.ones_like(tp))
        recall = tp / self.positives.clamp_min(1).double()
        # thresholds ascend, so recall descends; add the (recall 0) end and integrate stepwise
        recall = torch.cat([recall, recall.new_zeros(1)])
        precision = torch.cat([precision, precision.new_ones(1)])
        return ((recall[:-1] - recall[1:]) * precision[:-1]).sum()


__all__ = ["BoxAccuracy", "MaxBoxAccV2", "PxAP", "component_hits", "curve_thresholds"]
