"""One rule for units (issue 28): what programs read (metrics.json, W&B, the Python API) holds
accuracies as fractions, as torchmetrics does; what people read (reports, the per-cell console
line) prints percent with a % sign."""

from __future__ import annotations

import numpy as np
import torch

from infocam.runtime.console import headline, is_fraction
from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP, as_fractions
from infocam.localization.wsoleval.evaluator import WsolevalScoring


def test_the_cell_line_prints_accuracies_in_percent_and_nats_as_numbers():
    assert headline({"test/top1_loc": 0.006}, None) == "test/top1_loc=0.60 %"  # before: test/top1_loc=0.006
    assert headline({"test/acc": 0.9731}, None) == "test/acc=97.31 %"
    assert headline({"test/mi_estimate": 0.6967}, None) == "test/mi_estimate=0.6967"
    assert headline({"test/loss": 1.25}, None) == "test/loss=1.25"
    assert is_fraction("test/wsoleval/maxboxacc_v2") and not is_fraction("test/maxboxacc_v2_iou50_threshold")


def test_the_wsolevaluation_protocols_logged_values_are_fractions():
    maps = np.zeros((4, 16, 16))
    maps[:, 4:8, 4:8] = 1.0
    boxes = np.array([[[4, 4, 8, 8]]] * 3 + [[[10, 10, 14, 14]]])
    metrics = {"wsoleval_boxes": WsolBoxAccuracy(0.1), "wsoleval_pxap": WsolPxAP(0.1)}
    metrics["wsoleval_boxes"].update(maps, boxes, np.ones(4, dtype=np.int64))
    logged = WsolevalScoring.log_values(metrics)
    assert float(logged["test/wsoleval/maxboxacc"]) == 0.75  # 75 % as a fraction, like test/top1_loc
    assert float(logged["test/wsoleval/maxboxacc_v2_iou50_threshold"]) == float(
        metrics["wsoleval_boxes"].compute()["maxboxacc_v2_iou50_threshold"])  # a map threshold: unchanged
    assert "test/wsoleval/pxap" not in logged  # no masks: no PxAP


def test_as_fractions_divides_scores_only():
    out = as_fractions({"maxboxacc": 50.0, "maxboxacc_threshold": 0.3, "pxap": 12.5, "num_images": 4,
                        "test/wsoleval/maxboxacc_v2": torch.tensor(25.0, dtype=torch.float64)})
    assert out["maxboxacc"] == 0.5 and out["maxboxacc_threshold"] == 0.3 and out["pxap"] == 0.125
    assert out["num_images"] == 4 and float(out["test/wsoleval/maxboxacc_v2"]) == 0.25
