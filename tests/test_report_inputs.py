"""Reports over broken runs: corrupt and null runs are named and skipped, the wrong kind writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QUIET
from omegaconf import OmegaConf

from infocam.errors import DataError
from infocam.runtime.io import write_metrics

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




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


# -- issue 21 item 10: a string where a number belongs; item 7: no resolver runs -------------
def _infomask_run(root: Path, name: str, ink) -> Path:
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"data": {"target_digit": 3}, "seed": 0, "cam": {"name": "cam"},
                                     "infomask": {"patch_size": 4, "threshold": 0.0}}), run / "config.yaml")
    metrics = {"test/acc": 0.9, "seconds": 1.0}
    for mask in ("infomask", "cammask", "randommask"):
        metrics.update({f"test/{mask}_target_ink": ink, f"test/{mask}_other_ink": 0.2})
    write_metrics(run / "metrics.json", metrics)
    return run


def _wsol_eval_run(root: Path, name: str, loc, cam_name: str = "cam") -> Path:
    run = root / name
    run.mkdir(parents=True)
    OmegaConf.save(OmegaConf.create({"cam": {"name": cam_name, "region_size": 1}}), run / "config.yaml")
    write_metrics(run / "metrics.json", {"test/gt_known_loc": loc, "test/top1_loc": 0.4, "seconds": 1.0})
    return run


STRING_RUNS = {
    "wsol": (lambda root, name, value: _wsol_eval_run(root, name, value), "test/gt_known_loc", "wsol_eval.md"),
    "mi_table2": (lambda root, name, value: _mi_run(root, name, value), "test/mi_estimate", "mi_table2.md"),
    "infomask": (lambda root, name, value: _infomask_run(root, name, value), "test/cammask_target_ink", "infomask.csv"),
}


@pytest.mark.parametrize("kind", sorted(STRING_RUNS))
def test_a_string_metric_skips_that_run_naming_file_and_key(tmp_path, kind, caplog):
    from infocam.reporting.dispatch import REPORTS

    make_run, key, written = STRING_RUNS[kind]
    sweep = tmp_path / "sweep"
    make_run(sweep, "0", 0.5)
    make_run(sweep, "1", "0.7")  # a number written as text
    paths = REPORTS[kind](str(sweep), str(tmp_path / "out"))
    reason = f"metrics.json: {key!r} holds str '0.7', not a number"
    assert any(f"skipping run {sweep / '1'}: {reason}" == r.getMessage() for r in caplog.records), caplog.text
    assert all(Path(p).is_file() for p in paths)
    if kind == "infomask":  # one row per run in its csv
        assert len((tmp_path / "out" / written).read_text().splitlines()) == 2
    else:  # the skipped run is listed under the table
        assert f"`{sweep / '1'}`: {reason}" in (tmp_path / "out" / written).read_text()


def test_infomask_report_renders_everything_before_writing(tmp_path, monkeypatch):
    from infocam.reporting import infomask

    _infomask_run(tmp_path / "sweep", "0", 0.5)

    def broken(*args, **kwargs):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(infomask, "table_markdown", broken)
    with pytest.raises(RuntimeError, match="rendering failed"):
        infomask.write_infomask_report(str(tmp_path / "sweep"), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "infomask.csv").exists()


def test_report_does_not_resolve_env_interpolations(tmp_path, monkeypatch):
    from infocam.reporting.wsol import write_wsol_table

    monkeypatch.setenv("INFOCAM_TEST_SECRET", "hunter2-secret")
    sweep = tmp_path / "sweep"
    run = _wsol_eval_run(sweep, "0", 0.5)
    (run / "config.yaml").write_text("cam:\n  name: ${oc.env:INFOCAM_TEST_SECRET}\n  region_size: 1\n")
    csv_path, md_path = write_wsol_table(str(sweep), str(tmp_path / "out"))
    for path in (csv_path, md_path):
        text = path.read_text()
        assert "hunter2-secret" not in text and "${oc.env:INFOCAM_TEST_SECRET}" in text


def test_read_config_keeps_every_interpolation_as_text(tmp_path, monkeypatch):
    from infocam.reporting.collect import read_config

    monkeypatch.setenv("INFOCAM_TEST_SECRET", "hunter2-secret")
    path = tmp_path / "config.yaml"
    values = ["${oc.env:INFOCAM_TEST_SECRET}", "a \\${oc.env:INFOCAM_TEST_SECRET}", "${a.b}", "\\\\${x}", "plain"]
    text = "v:\n" + "".join(f"- '{v}'\n" for v in values) + "a:\n  b: 1\n"
    path.write_text(text)
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)["v"]
    assert list(read_config(path).v) == raw
