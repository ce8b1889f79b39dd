"""How sure each WSOL comparison is: every method against CAM on the same checkpoint, image by
image, and, where several training seeds exist, over seeds (issue 20, item 6).

- Same checkpoint: the two evals scored the same images (paired by image id from each run's
  per_image.npz, :mod:`infocam.localization.per_image_file`). The difference in GT-known Loc and in
  MaxBoxAccV2 gets a seeded 95 % percentile bootstrap interval over images, resampling the
  pairs together; MaxBoxAccV2's best map threshold is chosen again in every resample, so the
  interval includes that choice.
- Several checkpoints of one cell (training seeds): mean +- sample std over seeds of the method
  and of CAM, and the two-sided Mann-Whitney U test (scipy) between them, as Table 3 does.

Why numpy resampling rather than ``scipy.stats.bootstrap(paired=True)``: scipy indexes the
data once per resample, here an [N, D, T] hit array (3 x 100 map thresholds per image), and its
default BCa interval adds N jackknife evaluations of it. Each resample's statistic is a weighted
mean of those hits, so all resamples are one matrix product of multinomial counts with the hits
(3.2 s for 2,000 resamples of 5,794 images, CUB's test set, on a loaded 2-core CPU). For the plain mean (GT-known Loc)
the test suite checks this interval against scipy's percentile interval.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from infocam.localization.per_image_file import load_per_image
from infocam.reporting.classification import mean_std, mann_whitney

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
ALPHA = 0.05

#: per-run statistics from the resampled means of the per-image columns
Statistic = Callable[[np.ndarray], np.ndarray]


def mean_statistic(means: np.ndarray) -> np.ndarray:
    return means[..., 0]


def maxboxacc_statistic(shape: tuple[int, int]) -> Statistic:
    """MaxBoxAccV2 from the means of the flattened ``[D, T]`` hits: best T, averaged over D."""

    def statistic(means: np.ndarray) -> np.ndarray:
        return means.reshape(*means.shape[:-1], *shape).max(axis=-1).mean(axis=-1)

    return statistic


def paired_bootstrap(a: np.ndarray, b: np.ndarray, statistic: Statistic = mean_statistic, resamples: int = RESAMPLES,
                     seed: int = SEED, level: float = LEVEL, chunk: int = 250) -> tuple[float, float, float]:
    """(statistic(a) - statistic(b), low, high): the percentile interval of the difference over
    ``resamples`` resamples of the N image pairs (rows of ``a`` and ``b``, [N, K])."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape != b.shape or len(a) == 0:
        raise ValueError(f"paired samples must have the same non-empty shape, got {a.shape} and {b.shape}")
    n = len(a)
    rng = np.random.default_rng(seed)
    both = np.concatenate([a, b], axis=1)  # one product for both methods
    k = a.shape[1]
    diffs = []
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        picks = rng.integers(0, n, size=(rows, n))
        counts = np.bincount((picks + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n).reshape(rows, n)
        means = counts @ both / n
        diffs.append(statistic(means[:, :k]) - statistic(means[:, k:]))
    diffs = np.concatenate(diffs)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    estimate = statistic(a.mean(axis=0)[None])[0] - statistic(b.mean(axis=0)[None])[0]
    return float(estimate), float(low), float(high)


def _pair(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    _, i, j = np.intersect1d(first["ids"], second["ids"], assume_unique=True, return_indices=True)
    return i, j


def _comparable(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> str | None:
    for key in ("curve_thresholds", "iou_thresholds", "box_threshold", "iou_threshold"):
        if not np.array_equal(first[key], second[key]):
            return f"different {key.replace('_', ' ')}"
    return None


def compare_with_cam(method: dict[str, np.ndarray], cam: dict[str, np.ndarray], resamples: int = RESAMPLES,
                     seed: int = SEED) -> dict[str, Any]:
    """GT-known Loc and MaxBoxAccV2 of ``method`` - ``cam`` on their common images, with intervals."""
    problem = _comparable(method, cam)
    if problem:
        return {"problem": problem}
    i, j = _pair(method, cam)
    if len(i) == 0:
        return {"problem": "no image ids in common"}
    out: dict[str, Any] = {"paired_images": len(i)}
    gt_a, gt_b = method["gt_known_hit"][i, None], cam["gt_known_hit"][j, None]
    out["gt_known_diff"], out["gt_known_low"], out["gt_known_high"] = paired_bootstrap(gt_a, gt_b, resamples=resamples, seed=seed)
    grid_a, grid_b = method["box_hits"][i], cam["box_hits"][j]
    stat = maxboxacc_statistic(grid_a.shape[1:])
    out["maxboxacc_diff"], out["maxboxacc_low"], out["maxboxacc_high"] = paired_bootstrap(
        grid_a.reshape(len(i), -1), grid_b.reshape(len(j), -1), stat, resamples=resamples, seed=seed
    )
    return out


def _is_cam(row: dict) -> bool:
    return row["cam"] in ("cam", "infocam") and not row["subtract"] and row["region_size"] == 1


def paired_rows(rows: list[dict], root: str | Path, resamples: int = RESAMPLES, seed: int = SEED) -> list[dict]:
    """One row per eval run that has a CAM eval on the same checkpoint and localisation settings."""
    root = Path(root)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("checkpoint"):
            groups[(row["checkpoint"], row["dataset"], row["threshold"], row["iou_threshold"])].append(row)
    out = []
    for (checkpoint, *_), members in groups.items():
        cams = [r for r in members if _is_cam(r)]
        if not cams:
            continue
        reference = cams[0]
        cam_results = load_per_image(root / reference["run"])
        if cam_results is None:
            continue
        for row in members:
            if row is reference:
                continue
            results = load_per_image(root / row["run"])
            if results is None:
                continue
            entry = {k: row[k] for k in ("dataset", "backbone", "adl", "cam", "region_size", "alignment", "subtract",
                                         "threshold", "iou_threshold", "run")}
            entry.update(checkpoint=checkpoint, cam_run=reference["run"], gt_known_loc=row["gt_known_loc"],
                         cam_gt_known_loc=reference["gt_known_loc"], maxboxacc_v2=row["maxboxacc_v2"],
                         cam_maxboxacc_v2=reference["maxboxacc_v2"])
            entry.update(compare_with_cam(results, cam_results, resamples, seed))
            out.append(entry)
    return out


def seed_rows(paired: list[dict]) -> list[dict]:
    """Per cell (dataset, backbone, ADL, method, R, alignment, box settings) over >= 2 checkpoints:
    mean +- std of the method and of CAM, and the Mann-Whitney U p between them."""
    cells: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for p in paired:
        if "problem" in p:
            continue
        key = (p["dataset"], str(p["backbone"]), p["adl"], p["cam"], p["region_size"], p["alignment"], str(p["subtract"]),
               p["threshold"], p["iou_threshold"])
        cells[key].setdefault(p["checkpoint"], p)  # one eval per checkpoint
    out = []
    for key, by_checkpoint in sorted(cells.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        if len(by_checkpoint) < 2:
            continue
        runs = list(by_checkpoint.values())
        entry: dict[str, Any] = dict(zip(("dataset", "backbone", "adl", "cam", "region_size", "alignment", "subtract"), key))
        entry["seeds"] = len(runs)
        for metric in ("gt_known_loc", "maxboxacc_v2"):
            ours = [r[metric] for r in runs if r[metric] is not None]
            theirs = [r[f"cam_{metric}"] for r in runs if r[f"cam_{metric}"] is not None]
            if not ours or not theirs:
                continue
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean_std(ours)
            entry[f"cam_{metric}_mean"], entry[f"cam_{metric}_std"] = mean_std(theirs)
            entry[f"{metric}_mwu_u"], entry[f"{metric}_mwu_p"] = mann_whitney(ours, theirs)
        out.append(entry)
    return out


PAIRED_COLUMNS = ["dataset", "backbone", "adl", "cam", "region_size", "alignment", "subtract", "paired_images",
                  "gt_known_loc", "cam_gt_known_loc", "gt_known_diff", "gt_known_low", "gt_known_high",
                  "maxboxacc_v2", "cam_maxboxacc_v2", "maxboxacc_diff", "maxboxacc_low", "maxboxacc_high",
                  "problem", "checkpoint", "run", "cam_run"]


def _interval(entry: dict, prefix: str) -> str:
    if entry.get(f"{prefix}_diff") is None:
        return ""
    diff, low, high = (100 * entry[f"{prefix}_{k}"] for k in ("diff", "low", "high"))
    mark = "**" if low > 0 or high < 0 else ""  # the interval excludes 0
    return f"{mark}{diff:+.2f} [{low:+.2f}, {high:+.2f}]{mark}"


def _pm(mean: float | None, std: float | None) -> str:
    if mean is None:
        return ""
    return f"{100 * mean:.2f}" if std is None else f"{100 * mean:.2f} ± {100 * std:.2f}"


def _p(p: float | None) -> str:
    return "n/a" if p is None else (f"**{p:.4f}**" if p < ALPHA else f"{p:.4f}")


def paired_markdown(paired: list[dict], seeds: list[dict], resamples: int = RESAMPLES, seed: int = SEED) -> list[str]:
    if not paired:
        return []
    lines = [
        "### Against CAM on the same checkpoint (paired over images)",
        "",
        f"Method minus CAM (R = 1, no subtraction) on the images both evals scored, in points; "
        f"[{100 * LEVEL:g} % percentile bootstrap interval over images, {resamples} resamples, seed {seed}], "
        "bold when it excludes 0. MaxBoxAccV2's map threshold is chosen again in every resample.",
        "",
        "| dataset | backbone | ADL | method | R | alignment | subtract | images | GT-known Loc | Δ GT-known Loc | "
        "MaxBoxAccV2 | Δ MaxBoxAccV2 | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in paired:
        if "problem" in p:
            lines.append(f"| {p['dataset']} | {p['backbone']} | {'Y' if p['adl'] else 'N'} | {p['cam']} | {p['region_size']} | "
                         f"{p['alignment']} | {p['subtract']} |  | not paired: {p['problem']} |  |  |  | {p['run']} |")
            continue
        lines.append(
            f"| {p['dataset']} | {p['backbone']} | {'Y' if p['adl'] else 'N'} | {p['cam']} | {p['region_size']} | "
            f"{p['alignment']} | {p['subtract']} | {p['paired_images']} | {_pm(p['gt_known_loc'], None)} | "
            f"{_interval(p, 'gt_known')} | {_pm(p['maxboxacc_v2'], None)} | {_interval(p, 'maxboxacc')} | {p['run']} |"
        )
    lines.append("")
    if seeds:
        lines += [
            "### Against CAM over training seeds",
            "",
            f"Mean ± sample std over checkpoints (seeds); p: two-sided Mann-Whitney U test (scipy) between the "
            f"method's and CAM's per-seed values, bold when p < {ALPHA}.",
            "",
            "| dataset | backbone | ADL | method | R | alignment | subtract | seeds | GT-known Loc | CAM | p | "
            "MaxBoxAccV2 | CAM | p |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in seeds:
            lines.append(
                f"| {s['dataset']} | {s['backbone']} | {'Y' if s['adl'] else 'N'} | {s['cam']} | {s['region_size']} | "
                f"{s['alignment']} | {s['subtract']} | {s['seeds']} | "
                + " | ".join(f"{_pm(s.get(f'{m}_mean'), s.get(f'{m}_std'))} | {_pm(s.get(f'cam_{m}_mean'), s.get(f'cam_{m}_std'))} | "
                             f"{_p(s.get(f'{m}_mwu_p'))}" for m in ("gt_known_loc", "maxboxacc_v2"))
                + " |"
            )
        lines.append("")
    return lines


__all__ = ["PAIRED_COLUMNS", "compare_with_cam", "paired_bootstrap", "paired_markdown", "paired_rows", "seed_rows"]
