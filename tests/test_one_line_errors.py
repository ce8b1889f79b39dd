"""Issue 21 items 11 and 12: one clear line instead of a traceback or torch's advice.
(infocam-eval-maps' settings: tests/wsoleval/test_saved_maps.py; a checkpoint of another model
version: tests/test_eval_settings.py.)"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch
from conftest import QUIET, run_cli_in_process
from torch import nn

from infocam.callbacks.checkpoint_io import AtomicCheckpointIO
from infocam.cams.base import region_sum
from infocam.errors import ConfigError, OutputError
from infocam.models.weights import load_state_dict_file

MI = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]", "trainer.max_epochs=1", *QUIET]


class _Payload:
    """Pickles as a call to ``print``: code that would run when unpickled without weights_only."""

    def __reduce__(self):
        return (print, ("this ran",))


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


# -- item 12: weights files ------------------------------------------------------------------
def test_weights_with_a_pickle_payload_is_our_own_line(tmp_path, capsys):
    path = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(2), "extra": _Payload()}, path)
    with pytest.raises(ConfigError) as caught:
        load_state_dict_file(path)
    assert str(caught.value) == f"model.weights: {path} is not a plain state dict; refusing to unpickle code"
    assert "this ran" not in capsys.readouterr().out


def test_an_empty_weights_file_says_why(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"^model\.weights: {path} is empty \(0 bytes\)"):
        load_state_dict_file(path)


def test_a_truncated_weights_file_gives_a_reason(tmp_path):
    full = tmp_path / "full.pth"
    torch.save({"w": torch.zeros(100)}, full)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(full.read_bytes()[:3])
    with pytest.raises(ConfigError) as caught:
        load_state_dict_file(cut)
    message = str(caught.value)
    assert message.startswith(f"model.weights: cannot read {cut}: ") and not message.endswith(": ")


def test_options_of_another_model_name_the_model_and_the_options(tmp_path):
    proc = run_cli_in_process("train", ["experiment=wsol_synthetic", "model=vgg16_gap", "train=false", "test=false", *QUIET,
                                        f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    line = one_line(proc)
    assert line.startswith("infocam: error: model=vgg16_gap does not take the option(s) channels, last_batchnorm "
                           "(set by the config or an experiment for another model); vgg16_gap takes: "), line


# -- item 11 ---------------------------------------------------------------------------------
def test_region_size_is_bounded_by_the_map():
    maps = torch.rand(2, 7, 5)
    largest = 2 * 7 - 1
    assert torch.equal(region_sum(maps, 100_000), region_sum(maps, largest))  # exact: every window holds the map
    assert torch.allclose(region_sum(maps, largest), maps.sum((1, 2))[:, None, None].expand(2, 7, 5))
    with pytest.raises(ConfigError, match=r"cam\.region_size=100000 with cam\.alignment=full is larger than this 7x5 map allows \(at most 13"):
        region_sum(maps, 100_000, "full")


def test_infomask_fill_must_be_a_number():
    from infocam.infomask.settings import infomask_settings
    from infocam.tasks.infomask import InfoMaskModule

    task = types.SimpleNamespace(settings=infomask_settings(), hparams={"num_classes": 2})
    with pytest.raises(ConfigError, match=r"infomask\.fill must be a number or null .*got 'abc'"):
        InfoMaskModule.configure_evaluation(task, infomask={"fill": "abc"})
    InfoMaskModule.configure_evaluation(task, infomask={"fill": 0.5})
    assert task.settings["fill"] == 0.5


@pytest.mark.slow
@pytest.mark.parametrize("value", ["0", "-4"])
def test_a_batch_size_below_one_is_one_line(tmp_path, value):
    proc = run_cli_in_process("train", [*MI, f"data.batch_size={value}", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert one_line(proc) == f"infocam: error: data.batch_size must be a whole number >= 1, got {value}"


def test_an_unwritable_run_directory_mid_run_is_an_output_error(tmp_path, monkeypatch):
    """torch.save reports a file it cannot open as a RuntimeError (what ``chattr +i`` gives)."""

    def refuse(obj, path, *args, **kwargs):
        raise RuntimeError(f"File {path} cannot be opened.")

    monkeypatch.setattr(torch, "save", refuse)
    target = tmp_path / "checkpoints" / "last.ckpt"
    with pytest.raises(OutputError, match=rf"^cannot write checkpoint {target} \(File .* cannot be opened\.\): is the run directory still writable\?"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, target)
    assert not list(target.parent.iterdir())


def test_a_read_only_checkpoint_directory_is_an_output_error(tmp_path, monkeypatch):
    import os

    target = tmp_path / "checkpoints" / "last.ckpt"
    target.parent.mkdir()

    def read_only(src, dst):
        raise PermissionError(1, "Operation not permitted", str(dst))

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(OutputError, match=rf"^cannot write checkpoint {target} \(Operation not permitted\)"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, target)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_launcher_count_below_one_is_one_line(tmp_path, value):
    proc = run_cli_in_process("train", ["-m", *MI, "hydra/launcher=local", f"hydra.launcher.tasks_per_node={value}",
                                        f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert one_line(proc) == f"infocam: error: hydra.launcher.tasks_per_node={value} must be a whole number >= 1"
    assert not (tmp_path / "sweep").exists()


def test_python_tags_in_a_users_config_dir_are_one_line(tmp_path):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    evil = tmp_path / "conf" / "experiment" / "evil.yaml"
    evil.write_text("# @package _global_\nseed: !!python/object/apply:os.system ['touch ran']\n")
    proc = run_cli_in_process("train", ["--config-dir", str(tmp_path / "conf"), "experiment=evil",
                                        f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    line = one_line(proc)
    assert line.startswith(f"infocam: error: cannot read a config file: {evil}:2: could not determine a constructor "
                           "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"), line
    assert line.endswith("(configs are data: python tags are refused, nothing ran)")
    assert not (tmp_path / "ran").exists()
