"""wsolevaluation's MaxBoxAcc (V1), MaxBoxAccV2 and PxAP as torchmetrics ``Metric``s.

States are integer counts summed across ranks (each image on exactly one rank), so a DDP
run gives the one-process numbers; ``compute`` then does wsolevaluation's float arithmetic
on the counts, operation for operation, so the percentages equal theirs. Maps must already
be their score maps (:func:`infocam.localization.wsoleval.protocol.prepare_scoremaps`, values in [0, 1]).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from infocam.errors import ConfigError, DataError
from infocam.localization.wsoleval.protocol import cam_thresholds, level_ious

#: their ``iou_threshold_list`` default, in percent
IOU_THRESHOLDS = (30, 50, 70)


def _percent_list(values: Sequence[float]) -> list[int]:
    """IoU thresholds as integer percents (``30`` or ``0.3`` both mean 30 %)."""
    out = []
    for value in values:
        value = float(value)
        percent = value * 100 if value <= 1 else value
        if abs(percent - round(percent)) > 1e-9 or not 0 < round(percent) <= 100:
            raise ConfigError(f"IoU thresholds must be whole percents in (0, 100], got {value}")
        out.append(int(round(percent)))
    if not out:
        raise ConfigError("iou_threshold_list is empty")
    return out


def _as_numpy(maps: Tensor | np.ndarray) -> np.ndarray:
    if isinstance(maps, Tensor):
        return maps.detach().cpu().numpy()
    return np.asarray(maps)


class WsolBoxAccuracy(Metric):
    """MaxBoxAcc (V1: largest contour, IoU >= 50 %) and MaxBoxAccV2 (mean over
    ``iou_thresholds`` of the best-threshold accuracy, every contour when ``multi_contour``),
    from one pass over each map.

    ``update(scoremaps [B, H, W], gt_boxes [B, K, 4], gt_counts [B])``: score maps in [0, 1]
    (float64 as theirs, or float32: quantised in their own precision); ground-truth boxes as
    integer ``(x0, y0, x1, y1)`` in map pixels, ``x1 = x0 + width`` and ``y1 = y0 + height``
    (infocam's one convention); IoU counts pixels as theirs does (``multiple_iou``).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        cam_curve_interval: float = 0.01,
        iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
        multi_contour: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.thresholds = cam_thresholds(cam_curve_interval)
        self.iou_percents = _percent_list(iou_thresholds)
        self.multi_contour = bool(multi_contour)
        shape = (len(self.iou_percents), len(self.thresholds))
        for name in ("hits_multi", "hits_single"):
            self.add_state(name, default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("hits_v1", default=torch.zeros(len(self.thresholds), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, scoremaps: Tensor | np.ndarray, gt_boxes: Tensor | np.ndarray, gt_counts: Tensor | np.ndarray) -> None:
        maps = _as_numpy(scoremaps)
        if maps.ndim != 3:
            raise DataError(f"score maps must be [B, H, W], got shape {maps.shape}")
        if maps.shape[0] == 0:
            return
        v1, v2, _ = level_ious(maps, self.thresholds, _as_numpy(gt_boxes), _as_numpy(gt_counts))
        deltas = np.asarray(self.iou_percents, dtype=np.float64) / 100  # their `_THRESHOLD / 100`
        multi = (v2[None, :, :] >= deltas[:, None, None]).sum(axis=1)  # [D, T]
        single = (v1[None, :, :] >= deltas[:, None, None]).sum(axis=1)
        self.hits_multi += torch.from_numpy(multi).to(self.hits_multi)
        self.hits_single += torch.from_numpy(single).to(self.hits_single)
        self.hits_v1 += torch.from_numpy((v1 >= 50 / 100).sum(axis=0)).to(self.hits_v1)
        self.count += maps.shape[0]

    def accuracy_curves(self) -> dict[str, np.ndarray]:
        """Per-threshold accuracies in percent: ``v1`` ``[T]`` and ``iou{d}`` ``[T]`` (V2 parts)."""
        count = float(max(int(self.count), 1))
        hits = (self.hits_multi if self.multi_contour else self.hits_single).cpu().numpy().astype(np.float64)
        curves = {"v1": self.hits_v1.cpu().numpy().astype(np.float64) * 100.0 / count}
        for percent, row in zip(self.iou_percents, hits):
            curves[f"iou{percent}"] = row * 100.0 / count
        return curves

    def compute(self) -> dict[str, Tensor]:
        """Percentages as wsolevaluation prints them, with the chosen thresholds."""
        curves = self.accuracy_curves()
        out: dict[str, float] = {}
        bests = []
        for percent in self.iou_percents:
            curve = curves[f"iou{percent}"]
            index = int(np.argmax(curve))
            bests.append(curve.max())
            out[f"maxboxacc_v2_iou{percent}"] = float(curve.max())
            out[f"maxboxacc_v2_iou{percent}_threshold"] = float(self.thresholds[index])
        out["maxboxacc_v2"] = float(np.average(bests))
        out["maxboxacc"] = float(curves["v1"].max())
        out["maxboxacc_threshold"] = float(self.thresholds[int(np.argmax(curves["v1"]))])
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}


class WsolPxAP(Metric):
    """Pixel average precision as wsolevaluation's ``MaskEvaluator``: histograms of the score
    map values over object pixels (mask 1) and background pixels (mask 0) with bin edges
    ``thresholds + [1, 2, 3]``; pixels marked 255 ("ignore") are left out; AP in percent.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, cam_curve_interval: float = 0.01, **kwargs) -> None:
        super().__init__(**kwargs)
        self.thresholds = cam_thresholds(cam_curve_interval)
        self.edges = np.append(self.thresholds, [1.0, 2.0, 3.0])
        bins = len(self.edges) - 1
        for name in ("true_hist", "false_hist"):
            self.add_state(name, default=torch.zeros(bins, dtype=torch.long), dist_reduce_fx="sum")

    def _histogram(self, values: np.ndarray) -> np.ndarray:
        # np.histogram's bins for these edges: [e_i, e_i+1), the last one closed
        index = np.searchsorted(self.edges, values.astype(np.float64), side="right") - 1
        index = np.where(values.astype(np.float64) == self.edges[-1], len(self.edges) - 2, index)
        index = index[(index >= 0) & (index < len(self.edges) - 1)]
        return np.bincount(index, minlength=len(self.edges) - 1)

    def update(self, scoremaps: Tensor | np.ndarray, masks: Tensor | np.ndarray) -> None:
        """``masks``: uint8 ``[B, H, W]`` with 1 = object, 0 = background, 255 = ignore."""
        maps, masks = _as_numpy(scoremaps), _as_numpy(masks)
        if maps.shape != masks.shape:
            raise DataError(f"score maps {maps.shape} and masks {masks.shape} differ in shape")
        self.true_hist += torch.from_numpy(self._histogram(maps[masks == 1])).to(self.true_hist)
        self.false_hist += torch.from_numpy(self._histogram(maps[masks == 0])).to(self.false_hist)

    def curves(self) -> dict[str, np.ndarray]:
        """Pixel precision and recall (percent) at each threshold ``t`` (pixels with value >= t)."""
        true_hist = self.true_hist.cpu().numpy().astype(np.float64)
        false_hist = self.false_hist.cpu().numpy().astype(np.float64)
        tp = true_hist[::-1].cumsum()  # tp[j]: object pixels >= edges[len(tp) - 1 - j]
        fp = false_hist[::-1].cumsum()
        index = len(tp) - 1 - np.arange(len(self.thresholds))
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)[index] * 100
            recall = tp[index] / max(true_hist.sum(), 1) * 100
        return {"precision": precision, "recall": recall}

    def compute(self) -> Tensor:
        """AP = sum(precision * delta recall) * 100, over thresholds with a positive prediction."""
        true_hist = self.true_hist.cpu().numpy().astype(np.float64)
        false_hist = self.false_hist.cpu().numpy().astype(np.float64)
        num_true = true_hist.sum()
        tp = true_hist[::-1].cumsum()
        fn = num_true - tp
        fp = false_hist[::-1].cumsum()
        if ((tp + fn) <= 0).all():
            raise DataError("PxAP: no positive ground-truth pixel in the evaluation set")
        if ((tp + fp) <= 0).all():
            raise DataError("PxAP: no positive prediction in the evaluation set")
        nonzero = (tp + fp) != 0
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tp / (tp + fp)
            recall = tp / (tp + fn)
        auc = (precision[1:] * np.diff(recall))[nonzero[1:]].sum() * 100
        return torch.tensor(float(auc), dtype=torch.float64)


def as_fractions(values: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics of :class:`WsolBoxAccuracy`/:class:`WsolPxAP` as fractions in [0, 1], as
    ``metrics.json``, W&B and the Python API hold every accuracy (torchmetrics' unit); the
    metric objects keep wsolevaluation's percent arithmetic, and this is the one place that
    divides by 100. Map thresholds (``*_threshold``) and counts pass through unchanged."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = key.rsplit("/", 1)[-1]
        is_score = (name.startswith("maxboxacc") and not name.endswith("_threshold")) or name == "pxap"
        out[key] = value / 100 if is_score else value
    return out


__all__ = ["IOU_THRESHOLDS", "WsolBoxAccuracy", "WsolPxAP", "as_fractions"]
