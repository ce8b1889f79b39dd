"""The Docker path without a Docker engine: lint the Dockerfile, validate the compose file and the
build context, and run the container's entry point on this machine."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN_DIR, REPO_ROOT

DOCKER = REPO_ROOT / "docker"
VOLUMES = {"/data", "/outputs", "/weights", "/wandb"}


def with_defaults(text: str) -> str:
    """Compose's ``${VAR:-default}`` as it resolves with none of the variables set."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(with_defaults((DOCKER / "compose.yaml").read_text()))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_lints_clean_with_every_ignore_justified():
    proc = subprocess.run([str(BIN_DIR / "hadolint"), str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    lines = (DOCKER / "Dockerfile").read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore" in line:  # the line above says why
            assert lines[i - 1].startswith("# ") and "hadolint" not in lines[i - 1], line


def test_dockerfile_is_multi_stage_cached_non_root_and_ships_a_wheel():
    steps = dockerfile_instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and all(f.startswith("${CUDA_IMAGE}") for f in froms)
    arg = next(rest for word, rest in steps if word == "ARG")
    assert re.fullmatch(r"CUDA_IMAGE=nvidia/cuda:13\.0\.\d+-runtime-ubuntu\d+\.04", arg)  # torch 2.14.1 = CUDA 13.0 wheels
    assert "nvidia-cuda-runtime==13.0." in (REPO_ROOT / "constraints.txt").read_text()
    copies = [rest for word, rest in steps if word == "COPY"]
    runs = [rest for word, rest in steps if word == "RUN"]
    # dependencies from constraints.txt in a layer before any source is copied
    assert copies[0] == "pyproject.toml constraints.txt ./"
    dep_layer = runs.index(next(r for r in runs if "-c constraints.txt -r requirements.txt" in r))
    wheel_layer = runs.index(next(r for r in runs if "pip wheel" in r))
    assert dep_layer < wheel_layer and "COPY infocam ./infocam" in [f"COPY {c}" for c in copies]
    assert "--no-deps /wheels/infocam-*.whl" in runs[wheel_layer] and " -e " not in runs[wheel_layer]
    final = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][-1]:]
    final_runs = " ".join(rest for word, rest in final if word == "RUN")
    assert "build-essential" not in final_runs and "gcc" not in final_runs and "python3-venv" not in final_runs
    assert "rm -rf /var/lib/apt/lists/*" in final_runs
    assert dict(final).get("USER") == "10001:10001"
    assert set(yaml.safe_load(dict(final)["VOLUME"])) == VOLUMES
    assert yaml.safe_load(dict(final)["ENTRYPOINT"]) == ["infocam-entrypoint"]
    assert "COPY --from=build /opt/venv /opt/venv" in [f"COPY {rest}" for word, rest in final if word == "COPY"]


def test_build_context_keeps_data_logs_outputs_venv_and_git_out():
    patterns = [line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"  # everything out, then only what the build copies back in
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "constraints.txt", "setup.py", "README.md", "infocam", "conf", "docker/entrypoint.sh"}
    copied = {c.split()[0] for w, c in dockerfile_instructions() if w == "COPY" and not c.startswith("--from")}
    for item in copied:
        for part in item.split():
            assert part.rstrip("/") in allowed or part.startswith("--") or part.startswith("./"), part


def test_compose_train_reserves_two_gpus_non_root_volumes_shm_and_wandb(compose):
    train, cpu = compose["services"]["train"], compose["services"]["cpu"]
    devices = train["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}]
    assert "deploy" not in cpu
    for service in (train, cpu):
        uid, _, gid = str(service["user"]).partition(":")
        assert int(uid) != 0 and int(gid) != 0
        targets = {v.split(":")[1] for v in service["volumes"]}
        assert targets == VOLUMES
        assert re.fullmatch(r"(\d+)gb", service["shm_size"]) and int(service["shm_size"][:-2]) >= 8
        assert {"WANDB_API_KEY", "WANDB_MODE"} <= set(service["environment"])
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert "trainer=ddp" in train["command"]
    assert "wandb" in compose["volumes"]
    # the GPU recipe composes as the train service runs it (2 devices, DDP)
    proc = subprocess.run([str(BIN_DIR / "infocam-train"), "--cfg", "job", *train["command"]], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    trainer = yaml.safe_load(proc.stdout)["trainer"]
    assert (trainer["strategy"], trainer["devices"], trainer["accelerator"]) == ("ddp", 2, "gpu")


def entrypoint(args: list[str], outputs: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO_ROOT),
                   "INFOCAM_LOGS": str(outputs), "INFOCAM_ROOT": str(outputs), **env}
    return subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), *args], capture_output=True, text=True,
                          env=environment, cwd=outputs if outputs.is_dir() else None, timeout=300)


def test_entrypoint_fixes_one_run_dir_on_the_outputs_volume(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    # --cfg hydra prints the Hydra config the run would use: its directory is fixed on the outputs volume
    proc = entrypoint(["experiment=mi_gmm", "--cfg", "hydra"], outputs)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hydra_cfg = yaml.safe_load(proc.stdout)["hydra"]
    run_dir = Path(hydra_cfg["run"]["dir"])
    assert run_dir.parent == outputs / "runs" and re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\w{6}", run_dir.name)
    assert f"hydra.run.dir='{run_dir}'" in hydra_cfg["overrides"]["hydra"]  # on the command line ranks re-run
    # a multirun gets a sweep directory there instead; INFOCAM_RUN_DIR chooses it; named commands pass through
    sweep = entrypoint(["infocam-train", "--cfg", "hydra", "experiment=mi_gmm", "sweep=mi_table2"], outputs,
                       INFOCAM_RUN_DIR=str(tmp_path / "x"))
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    assert yaml.safe_load(sweep.stdout)["hydra"]["sweep"]["dir"] == str(tmp_path / "x")


def test_entrypoint_refuses_an_unwritable_outputs_volume_in_one_line(tmp_path):
    proc = entrypoint(["experiment=mi_gmm"], tmp_path / "missing")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"infocam: error: outputs directory {tmp_path / 'missing'} is not writable (mount a volume there, or set INFOCAM_LOGS)"]


def test_entrypoint_wandb_sync_finds_every_offline_run_on_the_outputs_volume(tmp_path):
    outputs = tmp_path / "outputs"
    runs = [outputs / "runs" / "a" / "wandb" / "offline-run-1", outputs / "multiruns" / "b" / "0" / "wandb" / "offline-run-2"]
    for run in runs:
        run.mkdir(parents=True)
    (outputs / "runs" / "a" / "offline-run-not-wandb").mkdir()
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "wandb").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\n')  # records what sync was given
    (fake_bin / "wandb").chmod(0o755)
    proc = subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), "wandb-sync"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
                               "INFOCAM_LOGS": str(outputs), "RECORD": str(tmp_path / "args")})
    assert proc.returncode == 0, proc.stderr
    args = (tmp_path / "args").read_text().split()
    assert args[0] == "sync" and sorted(args[1:]) == sorted(map(str, runs))


def fake_command(tmp_path: Path, name: str = "infocam-train") -> Path:
    """A stand-in for the console script on PATH: prints the arguments the entry point passed, one a line."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / name).write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake_bin / name).chmod(0o755)
    (fake_bin / "date").write_text("#!/bin/sh\necho 2026-01-01_00-00-00\n")  # every start in the same second
    (fake_bin / "date").chmod(0o755)
    return fake_bin


def test_entrypoint_gives_two_starts_in_the_same_second_their_own_directories(tmp_path):
    """Issue 21 item 13: both starts used to get /outputs/runs/<second>."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    fake_bin = fake_command(tmp_path)
    dirs = []
    for _ in range(2):
        proc = subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), "experiment=mi_gmm"], capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
                                   "INFOCAM_LOGS": str(outputs), "INFOCAM_DOCTOR": "0"})  # the doctor: test_doctor.py
        assert proc.returncode == 0, proc.stderr
        first = proc.stdout.splitlines()[0]
        assert first.startswith("hydra.run.dir='") and first.endswith("'")
        dirs.append(Path(first[len("hydra.run.dir='"):-1]))
    assert dirs[0] != dirs[1] and all(d.is_dir() and d.parent == outputs / "runs" for d in dirs)
    assert all(d.name.startswith("2026-01-01_00-00-00_") for d in dirs)


def test_entrypoint_quotes_infocam_run_dir_for_hydra(tmp_path):
    """Issue 21 item 13: ``INFOCAM_RUN_DIR=/x/run,x`` was Hydra's "Ambiguous value" for an override never typed."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    weird = str(tmp_path / "run,x=1 [a]'b")
    proc = entrypoint(["experiment=mi_gmm", "--cfg", "hydra"], outputs, INFOCAM_RUN_DIR=weird)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert yaml.safe_load(proc.stdout)["hydra"]["run"]["dir"] == weird
