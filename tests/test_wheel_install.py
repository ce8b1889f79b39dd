"""The project as users and the container get it: a wheel installed without ``-e``, configs inside.

The wheel is built from a copy of the sources (the checkout gets no build/ folder) and installed
with ``pip install --no-deps --target`` into a fresh directory; its dependencies come from this
environment. The checkout is kept off the path, so ``infocam`` must import from the install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT

pytestmark = pytest.mark.slow

CONF = REPO_ROOT / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "local")
    shutil.copytree(REPO_ROOT / "infocam", src / "infocam", ignore=ignore)
    shutil.copytree(CONF, src / "conf", ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(src)],
                   check=True, capture_output=True, cwd=root)
    [wheel] = list((root / "dist").glob("infocam-*.whl"))
    target = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    return target


def clean_env(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INFOCAM_ROOT")}
    return {**env, "PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1", "WANDB_MODE": "disabled"}


def test_wheel_carries_every_config_file(installed):
    shipped = {p.relative_to(installed / "infocam" / "conf") for p in (installed / "infocam" / "conf").rglob("*.yaml")}
    in_checkout = {p.relative_to(CONF) for p in CONF.rglob("*.yaml") if "local" not in p.parts}
    assert shipped == in_checkout
    assert any(p.parts[:2] == ("hydra", "launcher") for p in shipped)


def test_installed_package_imports_from_the_install_not_the_checkout(installed, tmp_path):
    code = "import infocam, infocam.runtime.shipped_conf as c; print(infocam.__file__); print(c.config_dir())"
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(installed), cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    module, config = proc.stdout.split()
    assert Path(module).is_relative_to(installed) and Path(config) == installed / "infocam" / "conf"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_installed_cli_composes_every_experiment(installed, tmp_path, experiment):
    script = installed / "bin" / "infocam-train"
    assert script.is_file()
    proc = subprocess.run([sys.executable, str(script), "--cfg", "job", f"experiment={experiment}"],
                          env=clean_env(installed), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = yaml.safe_load(proc.stdout)
    expected = yaml.safe_load((CONF / "experiment" / f"{experiment}.yaml").read_text())
    assert cfg["task_name"] == expected["task_name"]
    assert cfg["data"]["_target_"].startswith("infocam.data.") and "_target_" in cfg["task"]
