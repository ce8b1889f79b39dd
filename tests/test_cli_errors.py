"""Bad input: one clear line on stderr, exit status 1, nothing half-written.

Most cases run the entry functions in this process (``run_cli_in_process``: same Hydra
parsing and error handling, no second interpreter to import torch); the first case also runs
the installed console script.
"""

import pytest

from conftest import run_cli, run_cli_in_process

SMALL = ["experiment=mi_gmm", "data.size_scale=0.05", "data.mc_samples=1000", "logger=none",
         "callbacks=quiet", "trainer.enable_progress_bar=false", "trainer.max_epochs=1"]


def _assert_one_line_error(proc, *needles):
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("infocam: error:")]
    assert len(error_lines) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in error_lines[0]


@pytest.mark.parametrize(
    "override, needles",
    [
        ("loss.name=focal", ("unknown loss 'focal'", "pc_softmax", "softmax")),
        ("model.name=resnet9000", ("unknown model 'resnet9000'", "mlp")),
        ("data.dim=0", ("data.dim must be a positive integer",)),
        ("data.dim=ten", ("data.dim must be a positive integer",)),
        ("data.balance=skewed", ("data.balance must be one of", "unbalanced")),
    ],
)
def test_bad_values(tmp_path, override, needles):
    proc = run_cli_in_process("train", [*SMALL, override, f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    _assert_one_line_error(proc, *needles)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_console_script_prints_one_line_and_exits_1(tmp_path):
    proc = run_cli("train", [*SMALL, "loss.name=focal", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    _assert_one_line_error(proc, "unknown loss 'focal'", "pc_softmax")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_unknown_config_group_option_lists_choices(tmp_path):
    proc = run_cli_in_process("train", [*SMALL, "loss=focal", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "Could not find 'loss/focal'" in proc.stderr and "pc_softmax" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_nan_loss_stops_with_step(tmp_path):
    # an absurd learning rate drives the MLP to inf/NaN within a few steps
    proc = run_cli_in_process(
        "train", [*SMALL, "task.optimizer.lr=1e30", "model.hidden_dims=[8]", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
    )
    _assert_one_line_error(proc, "training loss became", "at global step")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = run_cli_in_process("train", [*SMALL, f"paths.output_dir={blocker / 'run'}", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    _assert_one_line_error(proc, "is not writable", str(blocker / "run"))


def test_missing_checkpoint_for_eval(tmp_path):
    proc = run_cli_in_process("eval", ["ckpt_path=/nonexistent/model.ckpt", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    _assert_one_line_error(proc, "/nonexistent/model.ckpt")


def test_unwritable_hydra_run_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    proc = run_cli_in_process("train", [*SMALL, f"hydra.run.dir={blocker / 'run'}"], cwd=tmp_path)
    _assert_one_line_error(proc, "hydra.run.dir", "is not writable")
    assert blocker.read_text() == "not a directory"


def test_dataloader_worker_errors_print_as_one_line():
    from torch._utils import ExceptionWrapper

    from infocam.cli import _one_line
    from infocam.errors import DataError

    try:
        raise DataError("images/001.jpg: cannot decode image")
    except DataError:
        wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
    with pytest.raises(DataError) as info:
        wrapped.reraise()
    assert "Original Traceback" in str(info.value)
    assert _one_line(info.value) == "images/001.jpg: cannot decode image"


def test_multirun_with_subprocess_ddp_is_refused(tmp_path):
    proc = run_cli_in_process("train", ["-m", *SMALL, "data.dim=1,2", "trainer=ddp_cpu", "trainer.strategy=ddp",
                             f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path)
    _assert_one_line_error(proc, "trainer.strategy=ddp cannot run inside a multirun")
    assert not list(tmp_path.rglob("metrics.json"))
