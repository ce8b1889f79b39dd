"""Issue 21 item 9 (and item 11's state-dict mismatch): infocam-eval range-checks every
threshold, refuses a class-count mismatch and settings the checkpoint's task does not read,
records only the settings it used, and the WSOL report keeps rows of different settings apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import QUIET, compose_config, run_cli_in_process
from omegaconf import OmegaConf

from infocam.errors import ConfigError
from infocam.localization.settings import localization_settings
from infocam.run import evaluate, train
from infocam.runtime.io import write_metrics

WSOL = ["experiment=wsol_synthetic", "data.num_train=32", "data.num_val=8", "data.num_test=8", "data.batch_size=8",
        "data.eval_batch_size=8", "model.channels=[4,8]", "trainer.max_epochs=1", "localization.curve_thresholds=5",
        "localization.num_overlays=0", *QUIET]
WSOL_DATA = ["data=synthetic_loc", "data.num_test=8", "data.eval_batch_size=8", "localization.curve_thresholds=5",
             "localization.num_overlays=0", *QUIET]
MI = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]", "trainer.max_epochs=1", *QUIET]


@pytest.mark.parametrize("layer,message", [
    ({"iou_threshold": 2}, r"localization\.iou_threshold must be in \(0, 1\] .*got 2\.0"),
    ({"iou_threshold": 0}, r"localization\.iou_threshold must be in \(0, 1\]"),
    ({"iou_thresholds": [1.5]}, r"localization\.iou_thresholds must be in \(0, 1\] .*got 1\.5"),
    ({"iou_thresholds": []}, r"localization\.iou_thresholds must be a non-empty list"),
    ({"iou_thresholds": ["a"]}, r"localization\.iou_thresholds must be a number, got 'a'"),
    ({"threshold": 1.0}, r"localization\.threshold must be in \[0, 1\)"),
    ({"threshold": "abc"}, r"localization\.threshold must be a number, got 'abc'"),
    ({"curve_thresholds": 0}, r"localization\.curve_thresholds must be a count N >= 1"),
    ({"curve_thresholds": [0.5, 1.2]}, r"localization\.curve_thresholds must be in \[0, 1\)"),
    ({"connectivity": 6}, r"localization\.connectivity must be 4 or 8"),
    ({"num_overlays": -1}, r"localization\.num_overlays must be a count >= 0"),
])
def test_every_localization_threshold_is_range_checked(layer, message):
    with pytest.raises(ConfigError, match=message):
        localization_settings(layer)


def test_default_localization_settings_pass():
    assert localization_settings({"iou_threshold": 1, "iou_thresholds": [0.1, 1.0], "curve_thresholds": [0.0, 0.5]})["iou_threshold"] == 1


@pytest.fixture(scope="module")
def wsol_checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wsol")
    train(compose_config("train", [*WSOL, "callbacks=quiet"], out))
    return out / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def mi_checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mi")
    train(compose_config("train", [*MI, "callbacks=quiet"], out))
    return out / "checkpoints" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.parametrize("extra,message", [
    (["localization.iou_threshold=2"], r"localization\.iou_threshold must be in \(0, 1\]"),
    (["localization.iou_thresholds=[1.5]"], r"localization\.iou_thresholds must be in \(0, 1\]"),
    (["data.num_classes=3"], r"the checkpoint has 4 classes, data\.num_classes=3"),
    (["+infomask.patch_size=14"], r"a WSOLModule checkpoint does not use infomask settings \(it reads cam, localization\)"),
])
def test_wsol_eval_refuses_bad_or_unused_settings(make_cfg, tmp_path, wsol_checkpoint, extra, message):
    cfg = make_cfg([f"ckpt_path={wsol_checkpoint}", *WSOL_DATA, *extra], "eval", tmp_path / "eval")
    with pytest.raises(ConfigError, match=message):
        evaluate(cfg)
    assert not (tmp_path / "eval" / "config.yaml").exists()


@pytest.mark.slow
def test_eval_records_only_the_settings_it_used(make_cfg, tmp_path, wsol_checkpoint, mi_checkpoint):
    evaluate(make_cfg([f"ckpt_path={wsol_checkpoint}", *WSOL_DATA, "cam=infocam"], "eval", tmp_path / "wsol"))
    recorded = OmegaConf.load(tmp_path / "wsol" / "config.yaml")
    assert "infomask" not in recorded and recorded.cam.name == "infocam" and "localization" in recorded
    evaluate(make_cfg([f"ckpt_path={mi_checkpoint}", "data.size_scale=0.01", "data.mc_samples=500", *QUIET], "eval", tmp_path / "mi"))
    recorded = OmegaConf.load(tmp_path / "mi" / "config.yaml")
    assert not {"cam", "localization", "infomask"} & set(recorded)


@pytest.mark.slow
def test_cam_on_an_mi_checkpoint_is_one_line(tmp_path, mi_checkpoint):
    proc = run_cli_in_process("eval", [f"ckpt_path={mi_checkpoint}", "data.size_scale=0.01", "cam=gradcam", *QUIET,
                                       f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"infocam: error: {mi_checkpoint}: a MIEstimationModule checkpoint does not use cam settings "
        "(it reads no evaluation settings); drop cam=..."], proc.stderr[-2000:]
    assert not (tmp_path / "run" / "config.yaml").exists()


@pytest.mark.slow
def test_a_checkpoint_of_another_model_version_is_one_line(make_cfg, tmp_path, wsol_checkpoint):
    checkpoint = torch.load(wsol_checkpoint, weights_only=True)
    state = checkpoint["state_dict"]
    name = next(k for k in state if k.endswith("weight"))
    state[name.replace("weight", "kernel")] = state.pop(name)  # renamed in "another version"
    other = tmp_path / "other_version.ckpt"
    torch.save(checkpoint, other)
    with pytest.raises(ConfigError, match=rf"^{other}: its weights do not fit the model its settings build "
                                          r"\(another version of the model\?\): Missing key\(s\)"):
        evaluate(make_cfg([f"ckpt_path={other}", *WSOL_DATA], "eval", tmp_path / "eval"))


def _eval_run(root: Path, name: str, loc: dict, gt_known: float) -> None:
    run = root / name
    run.mkdir(parents=True)
    config = {"cam": {"name": "cam", "region_size": 1}, "model": {"name": "gap_cnn"},
              "data": {"_target_": "infocam.data.synthetic_loc.SyntheticLocalizationDataModule"}, "localization": loc}
    OmegaConf.save(OmegaConf.create(config), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/gt_known_loc": gt_known, "test/top1_loc": 0.4, "test/top1_cls": 0.9,
                                         "test/maxboxacc_v2": gt_known, "seconds": 1.0})


def test_wsol_report_does_not_merge_rows_whose_settings_differ(tmp_path):
    from infocam.reporting.wsol import write_wsol_table

    sweep = tmp_path / "sweep"
    _eval_run(sweep, "a", {"iou_thresholds": [0.3, 0.5, 0.7]}, 0.6)
    _eval_run(sweep, "b", {"iou_thresholds": [0.5]}, 0.2)
    _eval_run(sweep, "c", {"iou_thresholds": [0.3, 0.5, 0.7]}, 0.4)  # same settings as a: averaged with it
    _, md = write_wsol_table(str(sweep), str(tmp_path / "out"))
    table4 = md.read_text().split("### Table 4", 1)[1].split("###", 1)[0]
    rows = [line for line in table4.splitlines() if line.startswith("| gap_cnn | CAM |")]
    assert len(rows) == 2, table4
    cells = sorted((row.split(" | ")[5], row.split(" | ")[-1]) for row in rows)  # after the alignment column
    assert cells[0][0] == "20.00" and cells[0][1].startswith("1 (")  # run b alone, its settings named
    assert cells[1][0] == "50.00" and cells[1][1].startswith("2 (")  # a and c averaged
