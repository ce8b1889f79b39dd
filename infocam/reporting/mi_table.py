"""Paper Table 2 from a multirun of experiment=mi_gmm: CSV, Markdown beside the paper, PNG."""

from __future__ import annotations

from pathlib import Path

from infocam.runtime.io import atomic_write_bytes, atomic_write_text
from infocam.reporting.collect import Collected, collect_runs, require_rows, rows_to_csv, skipped_markdown
from infocam.plotting.figures import figure_png

COLUMNS = ["prior", "dim", "estimator", "mi_estimate", "mi_true", "mi_true_se", "abs_error", "accuracy", "seconds"]

#: Table 2 of the paper (published values, for side-by-side comparison only):
#: (prior, dim) -> {"mc": ..., estimator: (mi, accuracy %)}
PAPER_TABLE2 = {
    ("balanced", 1): {"mc": 1.03, "mine": (1.00, None), "softmax": (0.99, 74)},
    ("balanced", 2): {"mc": 1.30, "mine": (1.22, None), "softmax": (1.28, 85)},
    ("balanced", 5): {"mc": 1.54, "mine": (1.46, None), "softmax": (1.48, 94)},
    ("balanced", 10): {"mc": 1.60, "mine": (1.54, None), "softmax": (1.54, 98)},
    ("unbalanced", 1): {"mc": 1.02, "mine": (0.99, None), "softmax": (1.11, 79), "pc_softmax": (0.96, 79)},
    ("unbalanced", 2): {"mc": 1.23, "mine": (1.17, None), "softmax": (1.31, 87), "pc_softmax": (1.20, 88)},
    ("unbalanced", 5): {"mc": 1.44, "mine": (1.27, None), "softmax": (1.41, 93), "pc_softmax": (1.31, 95)},
    ("unbalanced", 10): {"mc": 1.48, "mine": (1.22, None), "softmax": (1.36, 95), "pc_softmax": (1.34, 96)},
}
ESTIMATOR_ORDER = {"softmax": 0, "pc_softmax": 1, "logit_adjusted": 2, "mine": 3}


def mi_rows(sweep_dir: str | Path) -> Collected:
    """One row per MI run; runs with a null (non-finite) estimate are skipped, and named."""
    runs = collect_runs(sweep_dir)
    rows = Collected(skipped=runs.skipped)
    for run in runs:
        m, cfg = run.metrics, run.config
        if "test/mi_estimate" not in m:
            continue
        estimate, truth = m["test/mi_estimate"], m.get("test/mi_true")
        if estimate is None:
            rows.skip(run.directory, "test/mi_estimate is null (the run's estimate was not finite)")
            continue
        rows.append(
            {
                "prior": cfg.data.balance,
                "dim": int(cfg.data.dim),
                "estimator": cfg.loss.name,
                "mi_estimate": estimate,
                "mi_true": truth,
                "mi_true_se": m.get("test/mi_true_se"),
                "abs_error": abs(estimate - truth) if truth is not None and estimate is not None else None,
                "accuracy": m.get("test/acc"),
                "seconds": m.get("seconds"),
            }
        )
    rows.sort(key=lambda r: (r["prior"], r["dim"], ESTIMATOR_ORDER.get(r["estimator"], 9), r["estimator"]))
    return require_rows(rows, "MI estimation run (metrics.json with test/mi_estimate)", sweep_dir)


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def rows_to_markdown(rows: list[dict], source: str) -> str:
    lines = [
        "# Table 2: mutual information read off classifiers (nats)",
        "",
        f"Built by `infocam-report kind=mi_table2` from the metrics.json files under `{source}`.",
        "`paper` columns are the published Table 2 values, shown for comparison.",
        "",
        "| prior | dim | estimator | MI estimate | MC truth (± se) | abs error | accuracy % | paper MI | paper MC | paper acc % | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper = PAPER_TABLE2.get((r["prior"], r["dim"]), {})
        paper_mi, paper_acc = paper.get(r["estimator"], (None, None))
        acc = None if r["accuracy"] is None else 100 * r["accuracy"]
        lines.append(
            f"| {r['prior']} | {r['dim']} | {r['estimator']} | {_fmt(r['mi_estimate'])} | "
            f"{_fmt(r['mi_true'])} ± {_fmt(r['mi_true_se'], 4)} | {_fmt(r['abs_error'])} | {_fmt(acc, 1)} | "
            f"{_fmt(paper_mi, 2)} | {_fmt(paper.get('mc'), 2)} | {'' if paper_acc is None else paper_acc} | "
            f"{_fmt(r['seconds'], 1)} |"
        )
    total = sum(r["seconds"] or 0 for r in rows)
    lines += ["", f"{len(rows)} runs, {total:.0f} s of run time in total."]
    return "\n".join(lines) + "\n" + skipped_markdown(rows)


def rows_to_png(rows: list[dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    priors = sorted({r["prior"] for r in rows})
    fig, axes = plt.subplots(1, len(priors), figsize=(5 * len(priors), 4), squeeze=False)
    for ax, prior in zip(axes[0], priors):
        subset = [r for r in rows if r["prior"] == prior]
        truth = sorted({(r["dim"], r["mi_true"]) for r in subset if r["mi_true"] is not None})
        if truth:
            ax.plot([d for d, _ in truth], [t for _, t in truth], "k-o", label="Monte-Carlo truth")
        for estimator in sorted({r["estimator"] for r in subset}, key=lambda e: ESTIMATOR_ORDER.get(e, 9)):
            points = sorted((r["dim"], r["mi_estimate"]) for r in subset if r["estimator"] == estimator)
            ax.plot([d for d, _ in points], [v for _, v in points], "--s", label=estimator)
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 5, 10], labels=["1", "2", "5", "10"])
        ax.set_xlabel("dimension")
        ax.set_ylabel("I(X;Y) [nats]")
        ax.set_title(f"{prior} prior")
        ax.legend()
    return figure_png(fig, dpi=110)


def write_mi_table2(sweep_dir: str, out_dir: str, stem: str = "mi_table2") -> list[Path]:
    rows = mi_rows(sweep_dir)
    out = Path(out_dir)
    # every file is rendered before the first is written: a failure leaves nothing partial
    csv_text, markdown, png = rows_to_csv(rows, COLUMNS), rows_to_markdown(rows, sweep_dir), rows_to_png(rows)
    return [
        atomic_write_text(out / f"{stem}.csv", csv_text),
        atomic_write_text(out / f"{stem}.md", markdown),
        atomic_write_bytes(out / f"{stem}.png", png),
    ]
