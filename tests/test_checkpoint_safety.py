"""A checkpoint is data: a file that would run code when unpickled is refused, and nothing runs."""

import os

import pytest
import torch

from conftest import run_cli, run_cli_in_process
from infocam.runtime.checkpoints import load_checkpoint
from infocam.errors import ConfigError

SMALL = ["experiment=mi_gmm", "data.size_scale=0.03", "data.mc_samples=1000", "model.hidden_dims=[16]",
         "logger=none", "callbacks=quiet", "trainer.enable_progress_bar=false", "trainer.max_epochs=1"]


class Payload:
    """Unpickling this calls os.system(command): what a crafted checkpoint would carry."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _plant(ckpt, marker) -> None:
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    checkpoint["extra"] = Payload(f"touch {marker}")
    torch.save(checkpoint, ckpt)


def _one_line(proc, needle):
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("infocam: error:")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]


@pytest.mark.slow
def test_planted_payload_is_refused_by_eval_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    run_cli_in_process("train", [*SMALL, f"hydra.run.dir={run_dir}"], cwd=tmp_path, check=True)
    marker = tmp_path / "payload_ran"
    for ckpt in (run_dir / "checkpoints").glob("*.ckpt"):
        _plant(ckpt, marker)
    best = next((run_dir / "checkpoints").glob("epoch_*.ckpt"))

    # the installed console script, as a user would meet a crafted file
    evaluated = run_cli("eval", [*SMALL, f"ckpt_path={best}", f"hydra.run.dir={tmp_path / 'eval'}"], cwd=tmp_path)
    _one_line(evaluated, "not a plain checkpoint; refusing to unpickle code")
    assert str(best) in evaluated.stderr

    # a finished run is left as it is on resume (nothing loaded); an interrupted one loads last.ckpt
    (run_dir / "metrics.json").unlink()
    resumed = run_cli_in_process("train", [*SMALL, "trainer.max_epochs=2", "ckpt_path=last", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    _one_line(resumed, "not a plain checkpoint; refusing to unpickle code")
    assert not marker.exists(), "the payload ran"


def test_load_checkpoint_errors_are_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ConfigError, match="is not a torch checkpoint"):
        load_checkpoint(text)
    with pytest.raises(ConfigError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")
    payload = tmp_path / "payload.ckpt"
    torch.save({"state_dict": {}, "x": Payload(f"touch {tmp_path / 'ran'}")}, payload)
    with pytest.raises(ConfigError, match="refusing to unpickle code"):
        load_checkpoint(payload)
    assert not (tmp_path / "ran").exists()
    plain = tmp_path / "plain.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, plain)
    assert torch.equal(load_checkpoint(plain)["state_dict"]["w"], torch.ones(2))
