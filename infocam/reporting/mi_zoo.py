"""The MI zoo: every task x estimator x n of a sweep, error against the truth over seeds.

Rows are aggregated over data seeds: mean signed error (estimate - truth), its spread (sample
standard deviation over seeds), mean |error|, and seconds per estimate (the whole run:
training plus read-out, or the kNN search). Figures: |error| against n, and against input
dimension, one panel per task family.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from infocam.reporting.collect import Collected, collect_runs, require_rows, rows_to_csv, skipped_markdown
from infocam.runtime.io import atomic_write_bytes, atomic_write_text
from infocam.plotting.figures import figure_png

COLUMNS = ["task", "dim", "n", "estimator", "seeds", "failed", "mi_true", "mean_estimate", "mean_error", "error_sd",
           "mean_abs_error", "mean_se", "seconds"]
ESTIMATORS = ("softmax", "pc_softmax", "logit_adjusted", "mine", "nwj", "infonce_batch", "js", "smile", "knn")


def task_label(data: Any) -> str:
    """A task's name without its dimension (dimension is an axis): family, transform, M, prior."""
    target = str(data.get("_target_", "")).rsplit(".", 1)[-1]
    if target == "LabelNoiseBarsDataModule":
        return f"bars{data.get('image_size')}_eps{data.get('eps')}"
    label = "student_t" if data.get("family") == "student_t" else "gmm"
    if data.get("transform"):
        label += f"+{data.transform}"
        if data.transform == "pad_rotate":
            label += f"(signal {data.get('signal_dim')})"
    if int(data.get("num_classes", 5)) != 5:
        label += f"_M{data.num_classes}"
    if data.get("prior") is not None or data.get("balance", "balanced") != "balanced":
        label += "_unbalanced"
    return label


def run_rows(sweep_dir: str | Path) -> Collected:
    """One row per finished MI run (with a truth)."""
    runs = collect_runs(sweep_dir)
    rows = Collected(skipped=runs.skipped)
    for run in runs:
        m, cfg = run.metrics, run.config
        if "test/mi_estimate" not in m or m.get("test/mi_true") is None:
            continue
        if m["test/mi_estimate"] is None:
            rows.skip(run.directory, "test/mi_estimate is null (the run's estimate was not finite)")
            continue
        num = int(m.get("test/num_samples") or 0)
        n = cfg.data.get("n")
        rows.append({
            "task": task_label(cfg.data), "dim": int(cfg.data.get("dim") or 0),
            "n": int(n) if n is not None else round(num / float(cfg.data.get("test_fraction", 0.2))),
            "estimator": cfg.loss.name, "seed": int(cfg.data.get("seed", 0)),
            "estimate": float(m["test/mi_estimate"]), "truth": float(m["test/mi_true"]),
            "se": m.get("test/mi_estimate_se"), "seconds": m.get("seconds"),
        })
    require_rows(rows, "MI run with a known truth (test/mi_true)", sweep_dir)
    rows.failed = failed_runs(sweep_dir)
    return rows


def failed_runs(sweep_dir: str | Path) -> list[dict]:
    """Multirun cells that failed (``error.txt``, e.g. a loss that became NaN): where an
    estimator breaks is a result, so the table counts them instead of dropping them."""
    from omegaconf import OmegaConf

    failed = []
    for error_file in sorted(Path(sweep_dir).rglob("error.txt")):
        config_file = error_file.parent / ".hydra" / "config.yaml"
        if (error_file.parent / "metrics.json").exists() or not config_file.is_file():
            continue
        try:
            cfg = OmegaConf.load(config_file)
            n = cfg.data.get("n")
            failed.append({"task": task_label(cfg.data), "dim": int(cfg.data.get("dim") or 0),
                           "n": int(n) if n is not None else 0, "estimator": str(cfg.loss.name),
                           "reason": error_file.read_text().strip().splitlines()[0][:200]})
        except Exception:  # noqa: BLE001  (an unreadable failed cell is left out of the count)
            continue
    return failed


def aggregate(rows: list[dict], failed: list[dict] = ()) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["dim"], r["n"], r["estimator"])].append(r)
    failures: dict[tuple, int] = defaultdict(int)
    for r in failed:
        failures[(r["task"], r["dim"], r["n"], r["estimator"])] += 1
    for key in failures:
        groups.setdefault(key, [])
    order = {e: i for i, e in enumerate(ESTIMATORS)}
    table = []
    for (task, dim, n, estimator), members in groups.items():
        if not members:  # every seed failed
            table.append({"task": task, "dim": dim, "n": n, "estimator": estimator, "seeds": 0,
                          "failed": failures[(task, dim, n, estimator)], "mi_true": None, "mean_estimate": None,
                          "mean_error": None, "error_sd": None, "mean_abs_error": None, "mean_se": None,
                          "seconds": None})
            continue
        errors = [r["estimate"] - r["truth"] for r in members]
        ses = [r["se"] for r in members if r["se"] is not None]
        seconds = [r["seconds"] for r in members if r["seconds"] is not None]
        table.append({
            "task": task, "dim": dim, "n": n, "estimator": estimator, "seeds": len(members),
            "failed": failures[(task, dim, n, estimator)], "mi_true": statistics.fmean(r["truth"] for r in members),
            "mean_estimate": statistics.fmean(r["estimate"] for r in members),
            "mean_error": statistics.fmean(errors),
            "error_sd": statistics.stdev(errors) if len(errors) > 1 else None,
            "mean_abs_error": statistics.fmean(abs(e) for e in errors),
            "mean_se": statistics.fmean(ses) if ses else None,
            "seconds": statistics.fmean(seconds) if seconds else None,
        })
    table.sort(key=lambda r: (r["task"], r["dim"], r["n"], order.get(r["estimator"], 99), r["estimator"]))
    return table


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def to_markdown(table: list[dict], runs: Collected, source: str) -> str:
    lines = [
        "# MI zoo: estimators against known truths (nats)",
        "",
        f"Built by `infocam-report kind=mi_zoo` from {len(runs)} runs under `{source}`. Error = estimate - truth;",
        "sd = its standard deviation over data seeds; seconds = one whole run (training and read-out).",
        "",
        "| task | dim | n | estimator | seeds | failed | truth | mean estimate | mean error | error sd | mean abs error | mean se | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        lines.append(
            f"| {r['task']} | {r['dim']} | {r['n']} | {r['estimator']} | {r['seeds']} | {r['failed']} | {_fmt(r['mi_true'])} | "
            f"{_fmt(r['mean_estimate'])} | {_fmt(r['mean_error'])} | {_fmt(r['error_sd'])} | "
            f"{_fmt(r['mean_abs_error'])} | {_fmt(r['mean_se'])} | {_fmt(r['seconds'], 1)} |"
        )
    best = _best_per_task(table)
    if best:
        lines += ["", "## Lowest mean |error| per task (largest n)", "", "| task | dim | n | estimator | mean abs error |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['task']} | {r['dim']} | {r['n']} | {r['estimator']} | {_fmt(r['mean_abs_error'])} |" for r in best]
    total = sum(r["seconds"] or 0 for r in runs)
    lines += ["", f"{len(runs)} runs, {total:.0f} s of run time in total."]
    failed = getattr(runs, "failed", [])
    if failed:
        lines += ["", "## Failed runs (counted under `failed`)", ""]
        lines += [f"- {r['task']}, dim {r['dim']}, n {r['n']}, {r['estimator']}: {r['reason']}" for r in failed]
    return "\n".join(lines) + "\n" + skipped_markdown(runs)


def _best_per_task(table: list[dict]) -> list[dict]:
    largest: dict[tuple, int] = {}
    for r in table:
        largest[(r["task"], r["dim"])] = max(largest.get((r["task"], r["dim"]), 0), r["n"])
    best: dict[tuple, dict] = {}
    for r in table:
        key = (r["task"], r["dim"])
        if r["mean_abs_error"] is None:
            continue
        if r["n"] == largest[key] and (key not in best or r["mean_abs_error"] < best[key]["mean_abs_error"]):
            best[key] = r
    return [best[k] for k in sorted(best)]


def to_png(table: list[dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_n, by_dim) = plt.subplots(1, 2, figsize=(12, 4.5))
    estimators = sorted({r["estimator"] for r in table}, key=lambda e: (ESTIMATORS + (e,)).index(e))
    for estimator in estimators:
        mine = [r for r in table if r["estimator"] == estimator and r["mean_abs_error"] is not None]
        # error against n: averaged over tasks and dimensions at each n
        sizes = defaultdict(set)
        for r in mine:
            sizes[(r["task"], r["dim"])].add(r["n"])
        per_n = defaultdict(list)
        for r in mine:  # only tasks swept over n, so a single-n task does not make a point of its own
            if len(sizes[(r["task"], r["dim"])]) > 1:
                per_n[r["n"]].append(r["mean_abs_error"])
        xs = sorted(per_n)
        if xs:
            by_n.plot(xs, [max(statistics.fmean(per_n[x]), 1e-4) for x in xs], "-o", label=estimator)
        # error against dimension at the largest n of each (task, dim)
        per_dim = defaultdict(list)
        largest = defaultdict(int)
        for r in mine:
            largest[(r["task"], r["dim"])] = max(largest[(r["task"], r["dim"])], r["n"])
        for r in mine:
            if r["n"] == largest[(r["task"], r["dim"])]:
                per_dim[r["dim"]].append(r["mean_abs_error"])
        ds = sorted(per_dim)
        if ds:
            by_dim.plot(ds, [max(statistics.fmean(per_dim[d]), 1e-4) for d in ds], "-s", label=estimator)
    for ax, xlabel, title in ((by_n, "sample size n", "|error| against n (mean over tasks swept in n)"),
                              (by_dim, "input dimension", "|error| against dimension (largest n)")):
        if not ax.lines:  # e.g. a sweep with one n: nothing to draw, and no log axis to build
            ax.text(0.5, 0.5, "no task swept over this axis", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.set_xscale("log")
            ax.set_yscale("log")  # |error| floored at 1e-4 so an exact hit stays on the plot
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean |estimate - truth| [nats]")
        ax.set_title(title)
    if by_n.lines or by_dim.lines:
        (by_n if by_n.lines else by_dim).legend(fontsize=8)
    return figure_png(fig, dpi=110)


def write_mi_zoo(sweep_dir: str, out_dir: str, stem: str = "mi_zoo") -> list[Path]:
    runs = run_rows(sweep_dir)
    table = aggregate(runs, getattr(runs, "failed", []))
    out = Path(out_dir)
    # every file is rendered before the first is written: a failure leaves nothing partial
    csv_text, markdown, png = rows_to_csv(table, COLUMNS), to_markdown(table, runs, sweep_dir), to_png(table)
    return [
        atomic_write_text(out / f"{stem}.csv", csv_text),
        atomic_write_text(out / f"{stem}.md", markdown),
        atomic_write_bytes(out / f"{stem}.png", png),
    ]
