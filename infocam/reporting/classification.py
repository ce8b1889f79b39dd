"""Paper Table 3 from a (multi)run directory of classification runs: CSV + Markdown.

For every dataset found (MNIST, CUB, ...), per (balance, loss) cell: mean ± sample std over
seeds of the test accuracy and the average per-class accuracy, and per balance setting the
two-sided Mann-Whitney U test (scipy) between the softmax and the PC-softmax runs, beside
the published Table 3. Reads only the metrics.json / config.yaml / data_summary.json runs wrote.
The Data section states each balance setting's test class counts: the paper's gaps between
accuracy and per-class accuracy arise only on an imbalanced test split (``data.balance=authors``
or ``data.balance_splits=all``), which is set beside the paper's unbalanced column.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from infocam.runtime.io import atomic_write_text
from infocam.reporting.collect import Collected, RunRecord, collect_runs, require_rows, rows_to_csv, skipped_markdown

#: Table 3 of the paper, in %: (dataset, balance) -> loss -> (accuracy, average per-class accuracy)
PAPER_TABLE3 = {
    ("mnist", "balanced"): {"softmax": (97.95, 97.95), "pc_softmax": (97.91, 97.91)},
    ("mnist", "unbalanced"): {"softmax": (96.81, 95.05), "pc_softmax": (96.86, 96.30)},
    ("cub", "balanced"): {"softmax": (89.23, 89.21), "pc_softmax": (89.18, 89.16)},
    ("cub", "unbalanced"): {"softmax": (89.21, 84.63), "pc_softmax": (89.73, 87.69)},
}
#: ``data.balance=authors`` is the released code's version of the paper's unbalanced setting
PAPER_BALANCE = {"authors": "unbalanced"}
METRICS = {"acc": "test/acc", "acc_per_class": "test/acc_per_class_mean"}
DATASETS = {"MNISTDataModule": "mnist", "CUBDataModule": "cub"}
LOSS_ORDER = {"softmax": 0, "pc_softmax": 1, "logit_adjusted": 2}
ALPHA = 0.05


def dataset_name(run: RunRecord) -> str:
    target = str(run.config.get("data", {}).get("_target_", ""))
    return DATASETS.get(target.rsplit(".", 1)[-1], str(run.config.get("task_name", "unknown")))


def run_rows(sweep_dir: str | Path) -> Collected:
    """One row per finished classification run (those that logged the per-class accuracy)."""
    runs = collect_runs(sweep_dir)
    rows = Collected(skipped=runs.skipped)
    for run in runs:
        if METRICS["acc_per_class"] not in run.metrics:
            continue
        null = [name for name in METRICS.values() if run.metrics.get(name) is None]
        if null:
            rows.skip(run.directory, f"{', '.join(null)} null or missing (not finite)")
            continue
        summary_file = run.directory / "data_summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
        rows.append(
            {
                "dataset": dataset_name(run),
                "balance": str(run.config.data.get("balance", "")),
                "loss": str(run.config.loss.name),
                "seed": int(run.config.seed),
                "acc": 100 * run.metrics[METRICS["acc"]],
                "acc_per_class": 100 * run.metrics[METRICS["acc_per_class"]],
                "seconds": run.metrics.get("seconds"),
                "root": str(run.config.data.get("root", "")),
                "sizes": summary.get("sizes", {}),
                "balance_splits": summary.get("balance_splits", "train"),
                "test_class_counts": (summary.get("class_counts") or {}).get("test"),
                "reduced_classes": summary.get("reduced_classes"),
                "directory": str(run.directory),
            }
        )
    return require_rows(rows, f"classification run (metrics.json with {METRICS['acc_per_class']})", sweep_dir)


def mann_whitney(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """(U of ``a``, two-sided p) or (None, None) with fewer than 2 runs on a side."""
    if len(a) < 2 or len(b) < 2:
        return None, None
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(a, b, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, balance, loss) with mean/std per metric and the MWU test."""
    cells: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for row in rows:
        cells[(row["dataset"], row["balance"], row["loss"])].append(row)
    table = []
    for (dataset, balance, loss), runs in cells.items():
        entry: dict[str, Any] = {"dataset": dataset, "balance": balance, "loss": loss, "runs": len(runs)}
        paper = PAPER_TABLE3.get((dataset, PAPER_BALANCE.get(balance, balance)), {}).get(loss)
        for i, metric in enumerate(METRICS):
            mean, std = mean_std([r[metric] for r in runs])
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean, std
            entry[f"paper_{metric}"] = paper[i] if paper else None
            soft = [r[metric] for r in cells.get((dataset, balance, "softmax"), [])]
            pc = [r[metric] for r in cells.get((dataset, balance, "pc_softmax"), [])]
            entry[f"{metric}_mwu_u"], entry[f"{metric}_mwu_p"] = mann_whitney(soft, pc)
        table.append(entry)
    table.sort(key=lambda e: (e["dataset"], e["balance"], LOSS_ORDER.get(e["loss"], 9), e["loss"]))
    return table


CSV_COLUMNS = [
    "dataset", "balance", "loss", "runs",
    "acc_mean", "acc_std", "paper_acc", "acc_mwu_u", "acc_mwu_p",
    "acc_per_class_mean", "acc_per_class_std", "paper_acc_per_class", "acc_per_class_mwu_u", "acc_per_class_mwu_p",
]


def _pm(mean: float, std: float | None) -> str:
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"**{p:.4f}**" if p < ALPHA else f"{p:.4f}"


def table_markdown(dataset: str, table: list[dict[str, Any]], rows: list[dict[str, Any]], source: str) -> str:
    balances = sorted({e["balance"] for e in table})
    losses = sorted({e["loss"] for e in table}, key=lambda l: (LOSS_ORDER.get(l, 9), l))
    cell = {(e["balance"], e["loss"]): e for e in table}
    lines = [
        f"# Table 3 ({dataset}): softmax vs PC-softmax classification accuracy (%)",
        "",
        f"Built by `infocam-report kind=classification` from the runs under `{source}`: mean ± sample "
        f"std over seeds (runs per cell in brackets). p: two-sided Mann-Whitney U test (scipy) between the "
        f"softmax and the pc_softmax runs of a balance setting; bold when p < {ALPHA}. `paper`: the "
        f"published Table 3, for comparison only (`authors`, the released code's splits, beside its unbalanced column).",
        "",
    ]
    for metric, title in (("acc", "Accuracy (top-1, micro)"), ("acc_per_class", "Average per-class accuracy")):
        lines += [f"## {title}", "", "| loss | " + " | ".join(f"{b} | paper" for b in balances) + " |",
                  "|---|" + "---|---|" * len(balances)]
        for loss in losses:
            cells = []
            for balance in balances:
                e = cell.get((balance, loss))
                if e is None:
                    cells += ["", ""]
                    continue
                paper = e[f"paper_{metric}"]
                cells += [f"{_pm(e[f'{metric}_mean'], e[f'{metric}_std'])} ({e['runs']})", "" if paper is None else f"{paper:.2f}"]
            lines.append(f"| {loss} | " + " | ".join(cells) + " |")
        p_cells = []
        for balance in balances:
            e = cell.get((balance, "softmax")) or cell.get((balance, "pc_softmax"))
            p_cells += [_p(e[f"{metric}_mwu_p"]) if e else "n/a", ""]
        lines += ["| p (MWU) | " + " | ".join(p_cells) + " |", ""]
    roots = sorted({r["root"] for r in rows})
    sizes = sorted({(r["balance"], json.dumps(r["sizes"], sort_keys=True)) for r in rows if r["sizes"]})
    total = sum(r["seconds"] or 0 for r in rows)
    lines += ["## Data", "", f"- data.root: {', '.join(f'`{r}`' for r in roots)}"]
    lines += [f"- split sizes ({balance}): {s}" for balance, s in sizes]
    lines += class_count_lines(rows)
    if dataset == "mnist" and any(r["sizes"].get("test") not in (None, 10_000) and r["balance"] != "authors" for r in rows):
        lines.append("- **the test split is not MNIST's 10,000 images: these numbers are not comparable with the paper's.**")
    lines += ["", f"{len(rows)} runs, {total:.0f} s of run time in total."]
    return "\n".join(lines) + "\n"


def describe_counts(counts: list[int]) -> str:
    """Per-class counts as a list (up to 20 classes), else as ``count x classes`` groups."""
    if len(counts) <= 20:
        return f"[{', '.join(str(n) for n in counts)}]"
    groups = sorted(Counter(counts).items())
    return ", ".join(f"{n} images x {k} classes" for n, k in groups)


def class_count_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What the test accuracies average over: each balance setting's test split, per class
    (imbalanced test splits are what make accuracy and per-class accuracy differ)."""
    lines = []
    for balance, splits, counts in sorted({(r["balance"], r["balance_splits"], tuple(r["test_class_counts"]))
                                           for r in rows if r["test_class_counts"]}):
        reduced = "reduced like training" if splits == "all" else "not reduced"
        spread = f"{min(counts)}-{max(counts)} per class" if counts else "empty"
        lines.append(f"- test split class counts ({balance}, test {reduced}; {spread}): {describe_counts(list(counts))}")
    if any(not r["test_class_counts"] for r in rows):
        lines.append("- some runs recorded no test class counts (data_summary.json without class_counts)")
    return lines


def write_classification_report(sweep_dir: str, out_dir: str) -> list[Path]:
    """``classification_<dataset>.{csv,md}`` (and ``_runs.csv``) for each dataset in ``sweep_dir``."""
    rows = run_rows(sweep_dir)
    out = Path(out_dir)
    files: list[tuple[Path, str]] = []  # all rendered before any is written: nothing partial
    for dataset in sorted({r["dataset"] for r in rows}):
        subset = [r for r in rows if r["dataset"] == dataset]
        table = summarise(subset)
        stem = f"classification_{dataset}"
        fields = ["dataset", "balance", "loss", "seed", "acc", "acc_per_class", "seconds", "directory"]
        ordered = sorted(subset, key=lambda r: (r["balance"], LOSS_ORDER.get(r["loss"], 9), r["seed"]))
        files += [
            (out / f"{stem}.csv", rows_to_csv(table, CSV_COLUMNS)),
            (out / f"{stem}.md", table_markdown(dataset, table, subset, sweep_dir) + skipped_markdown(rows)),
            (out / f"{stem}_runs.csv", rows_to_csv(ordered, fields)),
        ]
    return [atomic_write_text(path, text) for path, text in files]
