"""Shared fixtures: compose configs without a CLI, run the CLI in a subprocess or in this process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = str(REPO_ROOT / "conf")
BIN_DIR = Path(sys.executable).parent

os.environ.setdefault("WANDB_MODE", "disabled")

#: overrides that keep a composed run small and quiet
QUIET = ["callbacks=quiet", "trainer.enable_progress_bar=false", "logger=none"]


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` as the CLI would, with outputs under ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=False)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir / "logs")
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    def _make(overrides: list[str], config_name: str = "train", output_dir: Path | None = None) -> DictConfig:
        return compose_config(config_name, overrides, output_dir or tmp_path)

    return _make


def run_cli(
    command: str,
    args: list[str],
    cwd: Path,
    timeout: float = 300,
    check: bool = False,
    extra_pythonpath: list[Path] = (),
) -> subprocess.CompletedProcess:
    """Run ``infocam-<command>`` as a user would, importing this checkout's package."""
    pythonpath = os.pathsep.join([str(REPO_ROOT), *map(str, extra_pythonpath)])
    env = {**os.environ, "PYTHONPATH": pythonpath, "WANDB_MODE": "disabled", "INFOCAM_ROOT": str(cwd)}
    proc = subprocess.run(
        [str(BIN_DIR / f"infocam-{command}"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"infocam-{command} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_cli_in_process(command: str, args: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    """``infocam-<command> ARGS`` through its entry function in this process: the same Hydra
    parsing, error handling and exit status as the console script, without a second
    interpreter importing torch and Lightning (about 8 s each on a 2-core CPU). For paths
    that fail or finish quickly; ``run_cli`` keeps the real console script covered."""
    import infocam.cli

    entry = getattr(infocam.cli, f"{command.replace('-', '_')}_main")
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    saved_env = {key: os.environ.get(key) for key in ("INFOCAM_ROOT", "WANDB_MODE")}
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = 0
    try:
        sys.argv = [f"infocam-{command}", *args]
        os.environ.update({"INFOCAM_ROOT": str(cwd), "WANDB_MODE": "disabled"})
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                entry()
            except SystemExit as done:
                returncode = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        GlobalHydra.instance().clear()
        infocam.cli.FAILED_CELLS.clear()  # a multirun's failed cells belong to that command only
    if check and returncode != 0:
        raise AssertionError(f"infocam-{command} failed ({returncode}):\n{stdout.getvalue()[-3000:]}\n{stderr.getvalue()[-3000:]}")
    return subprocess.CompletedProcess([f"infocam-{command}", *args], returncode, stdout.getvalue(), stderr.getvalue())
