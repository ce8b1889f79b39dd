"""Test oracle: wsolevaluation's per-image, per-threshold OpenCV procedure, written from its
documented behaviour (findContours RETR_TREE, boundingRect, contourArea, inclusive IoU).
Slow on purpose: one cv2 call per map and threshold. Tests and benchmarks only."""

from __future__ import annotations

import cv2
import numpy as np

from infocam.localization.wsoleval import multiple_iou


def boxes_at(quantized: np.ndarray, level: int, multi_contour: bool) -> np.ndarray:
    """Contour boxes of ``quantized > level`` (``[[0, 0, 0, 0]]`` without foreground)."""
    height, width = quantized.shape
    _, binary = cv2.threshold(quantized, level, 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.zeros((1, 4), dtype=np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    out = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        out.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
    return np.asarray(out, dtype=np.int64)


def oracle_ious(scoremap: np.ndarray, thresholds: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per threshold: V1 IoU, V2 IoU and the V1 box of one float score map."""
    quantized = (scoremap * 255).astype(np.uint8)
    top = np.max(quantized)
    v1, v2, box = [], [], []
    for tau in thresholds:
        level = int(tau * top)
        single = boxes_at(quantized, level, False)
        multi = boxes_at(quantized, level, True)
        v1.append(multiple_iou(single, gt).max())
        v2.append(multiple_iou(multi, gt).max())
        box.append(single[0])
    return np.asarray(v1), np.asarray(v2), np.asarray(box)


def oracle_level_ious(quantized: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """V1/V2 best IoU at every level 0..255 of one uint8 map (one ``findContours`` per level,
    V1 = the first contour of largest ``contourArea``), and how many levels have a hole contour."""
    height, width = quantized.shape
    top = int(quantized.max())
    level_of, is_v1, boxes = [], [], []
    holes = 0
    for level in range(top):  # levels >= top have no foreground: the box [0, 0, 0, 0]
        _, binary = cv2.threshold(quantized, level, 255, cv2.THRESH_BINARY)
        contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        areas = [cv2.contourArea(c) for c in contours]
        largest = areas.index(max(areas))
        holes += bool((hierarchy[0][:, 3] != -1).any())
        for i, contour in enumerate(contours):
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
            level_of.append(level)
            is_v1.append(i == largest)
    ious = multiple_iou(np.asarray(boxes).reshape(-1, 4), gt).max(axis=1)
    level_of, is_v1 = np.asarray(level_of), np.asarray(is_v1)
    empty = multiple_iou(np.zeros((1, 4)), gt).max()
    v1, v2 = np.full(256, empty), np.full(256, empty)
    v2[:top] = -1
    np.maximum.at(v2, level_of, ious)
    v1[level_of[is_v1]] = ious[is_v1]
    return v1, v2, holes
