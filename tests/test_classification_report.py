"""The Table 3 report on fake run directories (metrics.json + config.yaml as runs write them)."""

from __future__ import annotations

import csv
import json
import statistics

import pytest
from conftest import run_cli_in_process
from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.reporting.classification import describe_counts, write_classification_report

# per (balance, loss): five per-class accuracies; pc_softmax beats softmax on every unbalanced seed
VALUES = {
    ("balanced", "softmax"): [0.90, 0.92, 0.91, 0.93, 0.89],
    ("balanced", "pc_softmax"): [0.91, 0.90, 0.92, 0.94, 0.88],
    ("unbalanced", "softmax"): [0.80, 0.81, 0.79, 0.82, 0.78],
    ("unbalanced", "pc_softmax"): [0.85, 0.86, 0.84, 0.87, 0.83],
}


def fake_sweep(root, target="infocam.data.mnist.MNISTDataModule"):
    job = 0
    for (balance, loss), values in VALUES.items():
        for seed, value in enumerate(values, start=1):
            run = root / str(job)
            run.mkdir(parents=True)
            config = {"seed": seed, "task_name": "x", "loss": {"name": loss},
                      "data": {"_target_": target, "balance": balance, "root": "/data/digits"}}
            (run / "config.yaml").write_text(OmegaConf.to_yaml(config))
            (run / "metrics.json").write_text(json.dumps({"test/acc": value + 0.01, "test/acc_per_class_mean": value, "seconds": 2.0}))
            (run / "data_summary.json").write_text(json.dumps({"sizes": {"train": 900, "val": 100, "test": 600}}))
            job += 1
    (root / "unrelated").mkdir()
    (root / "unrelated" / "config.yaml").write_text("seed: 1\n")
    (root / "unrelated" / "metrics.json").write_text(json.dumps({"test/mi_estimate": 1.0}))
    return root


def test_report_means_stds_and_mann_whitney(tmp_path):
    written = write_classification_report(str(fake_sweep(tmp_path / "sweep")), str(tmp_path / "reports"))
    assert sorted(p.name for p in written) == ["classification_mnist.csv", "classification_mnist.md", "classification_mnist_runs.csv"]
    rows = {(r["balance"], r["loss"]): r for r in csv.DictReader(open(tmp_path / "reports" / "classification_mnist.csv"))}
    assert len(rows) == 4
    cell = rows[("unbalanced", "pc_softmax")]
    assert cell["runs"] == "5"
    assert float(cell["acc_per_class_mean"]) == pytest.approx(85.0)
    assert float(cell["acc_per_class_std"]) == pytest.approx(100 * statistics.stdev(VALUES[("unbalanced", "pc_softmax")]))
    assert float(cell["acc_mean"]) == pytest.approx(86.0)
    # 5 vs 5 completely separated: exact two-sided p = 2 / C(10, 5) = 2 / 252
    assert float(cell["acc_per_class_mwu_p"]) == pytest.approx(2 / 252, rel=1e-4)
    assert float(rows[("unbalanced", "softmax")]["acc_per_class_mwu_u"]) == 0.0
    assert float(rows[("balanced", "softmax")]["acc_per_class_mwu_p"]) > 0.5
    assert float(cell["paper_acc_per_class"]) == pytest.approx(96.30)
    markdown = (tmp_path / "reports" / "classification_mnist.md").read_text()
    assert "85.00 ± 1.58 (5)" in markdown and "**0.0079**" in markdown and "96.30" in markdown
    assert "not MNIST's 10,000 images" in markdown and "/data/digits" in markdown
    runs = list(csv.DictReader(open(tmp_path / "reports" / "classification_mnist_runs.csv")))
    assert len(runs) == 20


def test_report_names_each_dataset(tmp_path):
    fake_sweep(tmp_path / "sweep", target="infocam.data.cub.CUBDataModule")
    written = write_classification_report(str(tmp_path / "sweep"), str(tmp_path / "reports"))
    assert written[0].name == "classification_cub.csv"
    assert "89.73" in (tmp_path / "reports" / "classification_cub.md").read_text()


def test_report_without_classification_runs_is_a_data_error(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("seed: 1\n")
    (tmp_path / "run" / "metrics.json").write_text("{}")
    with pytest.raises(DataError, match="no classification run"):
        write_classification_report(str(tmp_path), str(tmp_path / "out"))


def test_report_cli(tmp_path):
    fake_sweep(tmp_path / "sweep")
    proc = run_cli_in_process("report", ["kind=classification", f"sweep_dir={tmp_path / 'sweep'}", f"out_dir={tmp_path / 'out'}"], tmp_path, check=True)
    assert "classification_mnist.md" in proc.stdout
    assert (tmp_path / "out" / "classification_mnist.csv").is_file()


def test_report_states_the_test_class_counts_and_maps_authors_to_the_paper(tmp_path):
    """Runs of data.balance=authors (imbalanced test split) beside the paper's unbalanced column,
    with the test split's per-class counts from data_summary.json."""
    sweep = tmp_path / "sweep"
    counts = {"authors": [300, 1000] * 5, "unbalanced": [980, 1135] * 5}
    for job, (balance, loss) in enumerate([(b, l) for b in counts for l in ("softmax", "pc_softmax")]):
        run = sweep / str(job)
        run.mkdir(parents=True)
        config = {"seed": 1, "loss": {"name": loss}, "data": {"_target_": "infocam.data.mnist.MNISTDataModule",
                                                                  "balance": balance, "root": "/data/mnist"}}
        (run / "config.yaml").write_text(OmegaConf.to_yaml(config))
        (run / "metrics.json").write_text(json.dumps({"test/acc": 0.9, "test/acc_per_class_mean": 0.85}))
        splits = "all" if balance == "authors" else "train"
        summary = {"sizes": {"test": sum(counts[balance])}, "balance_splits": splits,
                   "class_counts": {"test": counts[balance]}}
        (run / "data_summary.json").write_text(json.dumps(summary))
    write_classification_report(str(sweep), str(tmp_path / "out"))
    md = (tmp_path / "out" / "classification_mnist.md").read_text()
    assert ("- test split class counts (authors, test reduced like training; 300-1000 per class): "
            "[300, 1000, 300, 1000, 300, 1000, 300, 1000, 300, 1000]") in md
    assert "- test split class counts (unbalanced, test not reduced; 980-1135 per class): [980, 1135," in md
    table = (tmp_path / "out" / "classification_mnist.csv").read_text().splitlines()
    rows = {(r["balance"], r["loss"]): r for r in csv.DictReader(table)}
    assert float(rows[("authors", "pc_softmax")]["paper_acc_per_class"]) == pytest.approx(96.30)
    assert "not MNIST's 10,000 images" in md  # the unbalanced runs' 10,575-image test split; authors' is theirs
    assert "some runs recorded no test class counts" not in md


def test_describe_counts_groups_many_classes():
    assert describe_counts([5, 15] * 100) == "5 images x 100 classes, 15 images x 100 classes"
    assert describe_counts([1, 2, 3]) == "[1, 2, 3]"
