"""infocam-doctor (one line per check, exit 1 on a failure), infocam-data, and the docker entry
point running the doctor before training."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN_DIR, REPO_ROOT
from fixtures.archive_server import archive_server, closed_port, md5, tgz_of
from fixtures.wsol import make_tiny_imagenet
from infocam.entry import data_cli, doctor


def run_doctor(capsys, overrides: list[str]) -> tuple[int, list[str]]:
    status = doctor.main(overrides)
    return status, capsys.readouterr().out.strip().splitlines()


def test_two_gpus_asked_on_this_cpu_machine_fail_in_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, even where the tests run on one
    status, lines = run_doctor(capsys, ["experiment=wsol_synthetic", "trainer=gpu", "trainer.devices=2",
                                        f"paths.log_dir={tmp_path}"])
    assert status == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith("FAIL  accelerator")
    assert "asks for 2 GPU(s) per node but 0 CUDA device(s) are visible" in failed[0]
    assert lines[-1] == "infocam-doctor: 1 of 6 checks failed (accelerator)"


@pytest.mark.parametrize("experiment", ["mi_gmm", "wsol_synthetic", "mnist", "wsol_cub_small"])
def test_cpu_recipes_pass(capsys, tmp_path, experiment):
    from test_fetch import mnist_files
    from infocam.data.standins.cub_layout import write_cub_layout

    data = tmp_path / "data"
    if experiment == "mnist":
        for name, body in mnist_files(tmp_path).items():
            (data / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
            (data / "MNIST" / "raw" / name).write_bytes(body)
    if experiment == "wsol_cub_small":
        write_cub_layout(data, num_images=4, min_side=32, max_side=36)
    files = [f"data.root={data}"] if experiment in ("mnist", "wsol_cub_small") else []
    status, lines = run_doctor(capsys, [f"experiment={experiment}", "trainer=cpu", *files, f"paths.log_dir={tmp_path}"])
    assert status == 0, lines
    assert [line.split()[:2] for line in lines[:-1]] == [["ok", n] for n in ("accelerator", "ddp", "data", "weights", "disk", "wandb")]
    assert lines[-1] == "infocam-doctor: all 6 checks passed"


def test_missing_dataset_imagenet_offline_and_wandb_online_without_key(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("INFOCAM_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    status, lines = run_doctor(capsys, ["experiment=wsol_cub_resnet50", f"data.root={tmp_path / 'data'}", "trainer=cpu",
                                        "logger=wandb", f"paths.log_dir={tmp_path}"])
    checks = {line.split()[1]: line for line in lines[:-1]}
    assert status == 1 and all(checks[n].startswith("FAIL") for n in ("data", "weights", "wandb"))
    assert f"infocam-data dataset=cub root={tmp_path / 'data'}" in checks["data"]
    assert "resnet50-0676ba61.pth is not in " + str(tmp_path / "torch" / "hub" / "checkpoints") in checks["weights"]
    assert "no API key" in checks["wandb"] and checks["accelerator"].startswith("ok")


def test_data_download_with_a_reachable_server_passes(capsys, tmp_path):
    make_tiny_imagenet(tmp_path / "source", train_per_class=1, val_per_class=1, size=16)
    with archive_server() as server:
        server.files["/tiny-imagenet-200.zip"] = b"zip"
        url = server.url("/tiny-imagenet-200.zip")
        status, lines = run_doctor(capsys, ["experiment=wsol_tiny_vgg16", f"data.root={tmp_path / 'data'}", "trainer=cpu",
                                            "model.weights=null",
                                            "data.download=true", f"data.download_url={url}", f"paths.log_dir={tmp_path}"])
        assert server.requests == ["HEAD /tiny-imagenet-200.zip"]  # probed, not downloaded
    assert status == 0, lines
    assert any(line.startswith("ok    data") and f"will fetch {url} (reachable)" in line for line in lines)


def test_infocam_data_stages_then_reports_in_place(capsys, tmp_path):
    make_tiny_imagenet(tmp_path / "source", train_per_class=1, val_per_class=1, size=16)
    archive = tmp_path / "tiny-imagenet-200.tgz"
    archive.write_bytes(tgz_of(tmp_path / "source", "tiny-imagenet-200"))
    args = ["dataset=tiny_imagenet", f"root={tmp_path / 'data'}", f"local={archive}", f"md5={md5(archive.read_bytes())}"]
    assert data_cli.main(args) == 0
    assert "3 classes listed in wnids.txt, all present" in capsys.readouterr().out
    assert data_cli.main(["dataset=tiny_imagenet", f"root={tmp_path / 'data'}", f"url=http://127.0.0.1:{closed_port()}/x.zip"]) == 0
    assert data_cli.main(["dataset=cub", f"root={tmp_path / 'data'}", f"url=http://127.0.0.1:{closed_port()}/CUB_200_2011.tgz"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len([e for e in err if e.startswith("infocam: error:")]) == 1 and "to stage it by hand" in err[-1]
    assert data_cli.main(["dataset=imagenet", "root=/x"]) == 1
    assert "choose one of cub, mnist, tiny_imagenet" in capsys.readouterr().err


def fake_bin(tmp_path: Path, doctor_status: int) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "infocam-train").write_text('#!/bin/sh\necho "train $*"\n')
    (folder / "infocam-doctor").write_text(f'#!/bin/sh\necho "doctor $*"\nexit {doctor_status}\n')
    for script in folder.iterdir():
        script.chmod(0o755)
    return folder


@pytest.mark.parametrize("doctor_status", [0, 1])
def test_the_docker_entry_point_runs_the_doctor_first_unless_told_not_to(tmp_path, doctor_status):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    env = {**os.environ, "PATH": f"{fake_bin(tmp_path, doctor_status)}{os.pathsep}{os.environ['PATH']}", "INFOCAM_LOGS": str(outputs)}
    script = str(REPO_ROOT / "docker" / "entrypoint.sh")
    proc = subprocess.run(["sh", script, "experiment=wsol_cub_vgg16"], capture_output=True, text=True, env=env, timeout=60)
    assert "doctor hydra.run.dir=" in proc.stderr and "experiment=wsol_cub_vgg16" in proc.stderr  # the job's own overrides
    assert (proc.returncode, "train" in proc.stdout) == ((0, True) if doctor_status == 0 else (1, False))
    skipped = subprocess.run(["sh", script, "experiment=wsol_cub_vgg16"], capture_output=True, text=True,
                             env={**env, "INFOCAM_DOCTOR": "0"}, timeout=60)
    assert skipped.returncode == 0 and "doctor" not in skipped.stderr and skipped.stdout.startswith("train ")


def test_console_scripts_are_installed():
    for name in ("infocam-data", "infocam-doctor"):
        assert (BIN_DIR / name).is_file(), f"{name}: re-run pip install -e ."
