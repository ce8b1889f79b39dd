"""Bad trainer values and unusable log directories give one line, not a traceback."""

from __future__ import annotations

import pytest
from conftest import QUIET, run_cli_in_process

from infocam.errors import ConfigError
from infocam.run import train

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




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
