"""Atomic writes (infocam.runtime.io) follow the umask."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import QUIET

from infocam.runtime.io import atomic_write_text

TINY = ["experiment=mi_gmm", "data.size_scale=0.01", "data.mc_samples=500", "model.hidden_dims=[8]",
        "trainer.max_epochs=1", *QUIET]
NOTHING = [*TINY, "train=false", "test=false"]  # builds everything, trains nothing, writes the run files




@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "metrics.json", json.dumps({}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
