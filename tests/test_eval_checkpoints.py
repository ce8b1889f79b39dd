"""Checkpoints that do not fit (another task, a text file) and NaN runs: one line, no metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QUIET
from omegaconf import open_dict

from infocam.errors import ConfigError, InfocamError
from infocam.run import evaluate, train

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




@pytest.fixture(scope="module")
def mi_checkpoint(tmp_path_factory) -> Path:
    from conftest import compose_config

    out = tmp_path_factory.mktemp("mi")
    train(compose_config("train", [*TINY, "callbacks=quiet"], out))
    return out / "checkpoints" / "last.ckpt"


def test_eval_refuses_a_checkpoint_of_another_task(make_cfg, tmp_path, mi_checkpoint):
    cfg = make_cfg([f"ckpt_path={mi_checkpoint}", "data=synthetic_loc", "data.num_test=8", *QUIET], "eval")
    with pytest.raises(ConfigError, match=r"this MIEstimationModule checkpoint does not fit the data "
                                          r"SyntheticLocalizationDataModule .*evaluate it with the data= it was trained on"):
        evaluate(cfg)
    cfg = make_cfg([f"ckpt_path={mi_checkpoint}", "data=gmm", "data.dim=3", "data.size_scale=0.01", *QUIET], "eval")
    with pytest.raises(ConfigError, match="does not fit the data GaussianMixtureDataModule"):  # 2-d model, 3-d data
        evaluate(cfg)


def test_a_text_file_as_checkpoint_is_one_line_for_eval_and_resume(make_cfg, tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("just some notes\n")
    with pytest.raises(ConfigError, match=rf"{text} is not a torch checkpoint"):
        evaluate(make_cfg([f"ckpt_path={text}", *QUIET], "eval", tmp_path / "eval"))
    with pytest.raises(ConfigError, match=rf"{text} is not a torch checkpoint"):
        train(make_cfg([*TINY, f"ckpt_path={text}"], output_dir=tmp_path / "resume"))


def test_a_nan_run_without_the_guard_fails_and_writes_no_metrics(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "callbacks=none"], output_dir=tmp_path / "run")
    with open_dict(cfg):
        cfg.callbacks = {"nan": {"_target_": "fixtures.callbacks.NanWeightsAtStart"}}
    with pytest.raises(InfocamError, match=r"non-finite metrics \(.*test/mi_estimate.*\); no metrics.json written"):
        train(cfg)
    assert not (tmp_path / "run" / "metrics.json").exists()
