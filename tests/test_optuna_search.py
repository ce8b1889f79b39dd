"""Optuna searches for classification and WSOL: each optimises a metric that lands in metrics.json."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import run_cli_in_process


@pytest.mark.parametrize(("experiment", "search", "metric"), [
    ("mnist", "classify_optuna", "val/acc_per_class_mean"),
    ("cub", "classify_optuna", "val/acc_per_class_mean"),
    ("wsol_synthetic", "wsol_optuna", "val/acc"),
])
def test_search_composes_with_its_metric(make_cfg, experiment, search, metric):
    cfg = make_cfg([f"experiment={experiment}", f"hparams_search={search}"])
    assert cfg.optimized_metric == metric
    assert cfg.callbacks.model_checkpoint.monitor == metric  # the checkpoint kept is the one the search scores


@pytest.mark.slow
def test_wsol_optuna_sweep_maximises_val_acc_from_metrics_json(tmp_path):
    sweep = tmp_path / "optuna"
    run_cli_in_process("train", ["experiment=wsol_synthetic", "hparams_search=wsol_optuna", "hydra.sweeper.n_trials=2",
                      "data.num_train=64", "data.num_val=16", "data.num_test=16", "data.eval_batch_size=16",
                      "model.channels=[4,8]", "trainer.max_epochs=1", "localization.curve_thresholds=5",
                      "localization.num_overlays=0", "logger=none", f"hydra.sweep.dir={sweep}"],
            cwd=tmp_path, check=True)
    trials = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert len(trials) == 2
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["best_value"] == pytest.approx(max(t["val/acc"] for t in trials))
    assert set(result["best_params"]) == {"task.optimizer.lr", "task.optimizer.weight_decay", "data.batch_size"}
