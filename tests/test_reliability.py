"""Faults a demanding user hits: busy or finished run directories, bad trainer values, a checkpoint
that does not fit, broken runs in a report, a failed sweep cell, NaN runs, bad boxes, file modes."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from infocam.errors import ConfigError, DataError, InfocamError
from infocam.io import atomic_write_text, write_metrics
from infocam.run import evaluate, train
from infocam.rundir import lock_run_dir
from classification_fixtures import make_cub
from conftest import QUIET, REPO_ROOT, run_cli, run_cli_in_process

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files


# -- 3. run directories --------------------------------------------------------------------
def test_a_run_into_a_locked_directory_is_refused_naming_the_holder(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with lock_run_dir(run_dir):
        with pytest.raises(ConfigError, match=rf"{run_dir} is in use by pid {os.getpid()} on "):
            train(make_cfg(NOTHING, output_dir=run_dir))
    train(make_cfg(NOTHING, output_dir=run_dir))  # free again once the holder ends
    assert (run_dir / "metrics.json").is_file()


def test_a_finished_directory_is_refused_unless_resumed_or_overwritten(make_cfg, tmp_path):
    run_dir = tmp_path / "run"
    train(make_cfg(NOTHING, output_dir=run_dir))
    with pytest.raises(ConfigError, match="holds a finished run .*ckpt_path=last.*run.overwrite=true"):
        train(make_cfg(NOTHING, output_dir=run_dir))
    train(make_cfg([*NOTHING, "run.overwrite=true"], output_dir=run_dir))


def test_two_runs_started_in_the_same_second_get_their_own_default_directories(monkeypatch):
    """The default run directory of conf/hydra/default.yaml, resolved as two processes would
    resolve it at the same clock second."""
    import infocam.configs  # noqa: F401  (registers ${run_suffix:})

    OmegaConf.register_new_resolver("now", lambda pattern: "2026-01-01_00-00-00", replace=True)
    try:
        dirs = set()
        for pid in (4242, 4243):
            monkeypatch.setattr(os, "getpid", lambda pid=pid: pid)
            cfg = OmegaConf.create({"task_name": "train", "paths": {"log_dir": "logs"},
                                    "hydra": OmegaConf.load(REPO_ROOT / "conf" / "hydra" / "default.yaml")})
            dirs.add((cfg.hydra.run.dir, cfg.hydra.sweep.dir))
    finally:
        from hydra.core.utils import setup_globals

        setup_globals()  # Hydra's own ${now:} back
    assert len(dirs) == 2
    assert ("logs/train/runs/2026-01-01_00-00-00_4242", "logs/train/multiruns/2026-01-01_00-00-00_4242") in dirs


# -- 4. errors that used to escape as tracebacks -------------------------------------------
@pytest.mark.parametrize("extra", [[], ["debug=fdr"]])
def test_a_non_numeric_trainer_value_is_one_line(make_cfg, tmp_path, extra):
    with pytest.raises(ConfigError, match=r"trainer.max_epochs='abc' must be a whole number"):
        train(make_cfg([*TINY, "trainer.max_epochs=abc", *extra], output_dir=tmp_path / "run"))


def test_default_log_dir_through_a_file_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("INFOCAM_LOGS", str(blocker / "logs"))
    proc = run_cli_in_process("train", NOTHING, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"infocam: error: cannot create run directories under {blocker / 'logs'} ({blocker} is not a writable "
        "directory); set paths.log_dir=DIR (or INFOCAM_LOGS), or hydra.run.dir=DIR"
    ]


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
        cfg.callbacks = {"nan": {"_target_": "helpers.NanWeightsAtStart"}}
    with pytest.raises(InfocamError, match=r"non-finite metrics \(.*test/mi_estimate.*\); no metrics.json written"):
        train(cfg)
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.slow
def test_a_multirun_goes_on_past_a_failed_cell_and_exits_1_with_a_summary(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli_in_process("train", ["-m", *NOTHING, "loss.name=no_such_loss,softmax", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "unknown" in (sweep / "0" / "error.txt").read_text() and "no_such_loss" in (sweep / "0" / "error.txt").read_text()
    assert (sweep / "1" / "metrics.json").is_file()  # the cell after the failure ran
    summary = proc.stderr[proc.stderr.index("multirun cell(s) failed"):]
    assert f"{sweep / '0'}:" in summary and f"{sweep / '1'}:" not in summary
    assert "Traceback" not in proc.stderr


# -- 4. reports ----------------------------------------------------------------------------
def _mi_run(root: Path, name: str, estimate, dim: int = 2) -> Path:
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"data": {"balance": "balanced", "dim": dim}, "loss": {"name": "softmax"}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/mi_estimate": estimate, "test/mi_true": 1.3, "test/mi_true_se": 0.01,
                                         "test/acc": 0.8, "seconds": 1.0})
    return run


def test_mi_report_names_and_skips_corrupt_and_null_runs(tmp_path):
    from infocam.reporting.mi_table import write_mi_table2

    sweep = tmp_path / "sweep"
    _mi_run(sweep, "0", 1.25)
    _mi_run(sweep, "1", float("nan"), dim=5)  # written as null
    (_mi_run(sweep, "2", 1.2) / "metrics.json").write_text('{"test/mi_est')  # cut short
    csv_path, md_path, _ = write_mi_table2(str(sweep), str(tmp_path / "out"))
    assert len(csv_path.read_text().splitlines()) == 2  # header + the one good run
    skipped = md_path.read_text().split("## Skipped runs", 1)[1]
    assert f"`{sweep / '1'}`: test/mi_estimate is null" in skipped
    assert f"`{sweep / '2'}`: metrics.json is not valid JSON" in skipped


def _wsol_run(root: Path) -> None:
    run = root / "0"
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"cam": {"name": "cam", "region_size": 1}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/gt_known_loc": 0.5, "test/top1_loc": 0.4, "seconds": 1.0})


@pytest.mark.parametrize("kind, make_run, message", [
    ("wsol", lambda root: _mi_run(root, "0", 1.2), "no WSOL run"),
    ("mi_table2", _wsol_run, "no MI estimation run"),
])
def test_a_report_of_the_wrong_kind_refuses_and_writes_nothing(tmp_path, kind, make_run, message):
    from infocam.reporting.dispatch import REPORTS

    make_run(tmp_path / "sweep")
    with pytest.raises(DataError, match=message):
        REPORTS[kind](str(tmp_path / "sweep"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# -- 5. boxes ------------------------------------------------------------------------------
def _cub_with_box(root: Path, line: int, box: str) -> Path:
    make_cub(root)
    boxes = root / "CUB_200_2011" / "bounding_boxes.txt"
    lines = boxes.read_text().splitlines()
    lines[line - 1] = f"{line} {box}"
    boxes.write_text("\n".join(lines) + "\n")
    return boxes


def _cub_module(root: Path):
    from infocam.data.cub import CUBDataModule

    return CUBDataModule(str(root), num_classes=4, image_size=32, num_workers=0, summary_path=None)


def test_a_cub_box_wholly_outside_its_image_names_file_and_line(tmp_path):
    boxes = _cub_with_box(tmp_path, 7, "100 100 20 20")  # the fixture's images are 48x32
    with pytest.raises(DataError, match=rf"{boxes}:7 \(image Bird_1_0006.jpg\): box \(100, 100, 120, 120\).* wholly outside its 48x32 image"):
        _cub_module(tmp_path).setup("fit")


def test_cub_boxes_partly_outside_are_clamped_with_one_warning(tmp_path, caplog):
    boxes = _cub_with_box(tmp_path, 3, "40 20 20 20")
    datamodule = _cub_module(tmp_path)
    with caplog.at_level(logging.WARNING, logger="infocam.data.boxes"):
        datamodule.setup("fit")
    warnings = [r.getMessage() for r in caplog.records if r.name == "infocam.data.boxes"]
    assert warnings == [f"{boxes}: 1 of 40 boxes reach past their image and were clamped to it"]
    item = next(i for i in datamodule.splits["train"].items if i.image_id == 3)
    assert item.boxes == ((40.0, 20.0, 48.0, 32.0),)  # (x0, y0, x1, y1) clamped to the 48x32 image


# -- 6. file modes -------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "metrics.json", json.dumps({}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
