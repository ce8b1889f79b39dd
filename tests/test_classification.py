"""ClassificationModule, models and the mnist/cub experiments end to end."""

from __future__ import annotations

import json

import lightning as L
import pytest
import timm
import torch
from fixtures.classification import make_cub, make_mnist
from conftest import QUIET, run_cli_in_process
from hydra.utils import instantiate

from infocam.errors import ConfigError
from infocam.registry import MODELS
from infocam.run import evaluate, train
from infocam.tasks.classify import ClassificationModule

TINY_MNIST = ["experiment=mnist", *QUIET, "trainer.max_epochs=1", "data.batch_size=32", "data.eval_batch_size=16"]


def identity_task(num_classes: int, top_k=None) -> ClassificationModule:
    task = ClassificationModule(
        model={"name": "mlp", "hidden_dims": [4]}, loss={"name": "softmax"},
        optimizer={"_target_": "torch.optim.SGD", "lr": 0.1}, num_classes=num_classes,
        model_kwargs={"input_dim": num_classes}, top_k=top_k,
    )
    task.net = torch.nn.Identity()  # logits = inputs
    return task


def test_per_class_accuracy_matches_a_hand_computed_example():
    # truth  0 0 0 0 | 1 1 | 2 2 2 2 ;  predicted 0 0 0 1 | 1 0 | 2 2 2 2
    y = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = torch.tensor([0, 0, 0, 1, 1, 0, 2, 2, 2, 2])
    task = identity_task(3)
    logits = torch.nn.functional.one_hot(pred, 3).float()
    task._eval_step("test", (logits[:6], y[:6]))  # two batches: states accumulate
    task._eval_step("test", (logits[6:], y[6:]))
    metrics = task.metrics["test"]
    # recalls 3/4, 1/2, 4/4 -> mean 0.75; micro accuracy 8/10
    assert metrics["acc_per_class_mean"].compute().item() == pytest.approx(0.75)
    assert metrics["acc"].compute().item() == pytest.approx(0.8)
    assert task.test_confusion.compute().tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 4]]


def test_top_k_is_logged_only_when_it_means_something():
    assert "acc_top5" not in identity_task(5, top_k=5).metrics["val"]
    task = identity_task(7, top_k=2)
    logits = torch.tensor([[0.0, 2, 1, 0, 0, 0, 0], [3.0, 0, 0, 0, 0, 0, 2]])
    task.metrics["val"]["acc_top2"].update(logits, torch.tensor([2, 1]))
    assert task.metrics["val"]["acc_top2"].compute().item() == pytest.approx(0.5)


def test_pc_softmax_priors_are_the_served_training_frequencies(tmp_path, make_cfg):
    make_mnist(tmp_path / "data")
    cfg = make_cfg([*TINY_MNIST, f"data.root={tmp_path / 'data'}", "data.balance=unbalanced", "loss=pc_softmax",
                    "+trainer.fast_dev_run=1"])
    datamodule, task = instantiate(cfg.data), instantiate(cfg.task)
    L.Trainer(fast_dev_run=1, logger=False, enable_progress_bar=False, enable_model_summary=False).fit(task, datamodule=datamodule)
    served = torch.bincount(datamodule.splits["train"].tensors[1], minlength=10).double()
    assert served.tolist() == [5, 45] * 5
    assert torch.allclose(task.loss_fn.log_prior.double().exp(), served / served.sum(), atol=1e-6)


def test_mnist_experiment_trains_and_tests(tmp_path, make_cfg):
    make_mnist(tmp_path / "data")
    out = tmp_path / "run"
    cfg = make_cfg([*TINY_MNIST, f"data.root={tmp_path / 'data'}", "data.balance=unbalanced", "loss=pc_softmax",
                    "logger=tensorboard"], output_dir=out)
    metrics = train(cfg)
    written = json.loads((out / "metrics.json").read_text())
    assert "test/loss" in written
    for key in ("test/acc", "test/acc_per_class_mean", "val/acc_per_class_mean"):
        assert 0 <= written[key] <= 1, key
    assert written["test/acc"] == pytest.approx(metrics["test/acc"])
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    matrix = [[int(v) for v in line.split(",")] for line in (out / "confusion_matrix.csv").read_text().splitlines()]
    assert [sum(row) for row in matrix] == [7] * 10  # every test image once
    assert json.loads((out / "data_summary.json").read_text())["reduced_classes"] == [0, 2, 4, 6, 8]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((out / "tensorboard").rglob("events.out.tfevents.*")).parent)).Reload()
    assert "test/confusion_matrix" in events.Tags()["images"]
    restored = ClassificationModule.load_from_checkpoint(next((out / "checkpoints").glob("epoch_*.ckpt")), weights_only=True)
    assert restored.hparams.loss["name"] == "pc_softmax" and restored.hparams.top_k is None


@pytest.mark.slow
def test_cub_experiment_trains_and_tests_with_a_tiny_timm_model(tmp_path, make_cfg):
    make_cub(tmp_path / "data")
    out = tmp_path / "run"
    cfg = make_cfg(
        ["experiment=cub", *QUIET, f"data.root={tmp_path / 'data'}", "data.num_classes=4", "data.image_size=32",
         "data.num_workers=0", "data.batch_size=8", "data.eval_batch_size=8", "data.balance=unbalanced",
         "model=timm", "model.arch=test_resnet", "loss=pc_softmax", "trainer.max_epochs=1", "task.top_k=2"],
        output_dir=out,
    )
    train(cfg)
    written = json.loads((out / "metrics.json").read_text())
    assert {"test/acc", "test/acc_per_class_mean", "test/acc_top2"} <= set(written)
    assert len(json.loads((out / "data_summary.json").read_text())["reduced_classes"]) == 2


@pytest.mark.slow
def test_ddp_test_metrics_equal_the_one_process_metrics(tmp_path, make_cfg):
    # 10 classes x 7 = 70 test images; 2 processes x batch 16 = 32 does not divide 70
    make_mnist(tmp_path / "data")
    data = [f"data.root={tmp_path / 'data'}", "data.balance=unbalanced"]
    train(make_cfg([*TINY_MNIST, *data], output_dir=tmp_path / "fit"))
    ckpt = next((tmp_path / "fit" / "checkpoints").glob("epoch_*.ckpt"))
    common = ["experiment=mnist", "logger=none", "trainer.enable_progress_bar=false", "data.eval_batch_size=16", *data,
              f"ckpt_path={ckpt}"]
    one = evaluate(make_cfg([*common, "trainer=cpu"], config_name="eval", output_dir=tmp_path / "one"))
    two = evaluate(make_cfg([*common, "trainer=ddp_cpu", "trainer.strategy=ddp_fork"], config_name="eval", output_dir=tmp_path / "two"))
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    for key in ("test/acc", "test/acc_per_class_mean", "test/loss"):
        assert written[key] == pytest.approx(one[key], abs=1e-6), key
    assert two["test/acc"] == pytest.approx(one["test/acc"], abs=1e-6)


@pytest.mark.slow
def test_missing_mnist_is_one_line_naming_the_files(tmp_path):
    proc = run_cli_in_process("train", ["experiment=mnist", f"data.root={tmp_path / 'none'}", *QUIET, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert proc.returncode == 1
    assert "infocam: error: MNIST not found under" in proc.stderr
    assert "train-images-idx3-ubyte[.gz]" in proc.stderr and "Traceback" not in proc.stderr


def test_mnist_cnn_shape_and_layers():
    net = MODELS.create("mnist_cnn", num_classes=10)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    kinds = [type(m).__name__ for m in net]
    assert kinds.count("Conv2d") == 2 and kinds.count("MaxPool2d") == 2 and kinds.count("Linear") == 2


def test_timm_weights_load_from_a_local_file_and_resize_the_head(tmp_path):
    from safetensors.torch import save_file

    source = timm.create_model("inception_v3", pretrained=False, num_classes=10)
    path = tmp_path / "inception_v3.safetensors"
    save_file(source.state_dict(), str(path))
    model = MODELS.create("inception_v3", num_classes=5, weights=str(path))
    assert torch.equal(model.Conv2d_1a_3x3.conv.weight, source.Conv2d_1a_3x3.conv.weight)
    assert model.get_classifier().out_features == 5
    assert model.eval()(torch.zeros(1, 3, 75, 75)).shape == (1, 5)


def test_timm_weights_errors(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError, match=f"weights file {missing} does not exist"):
        MODELS.create("timm", arch="test_resnet", num_classes=3, weights=str(missing))
    other = tmp_path / "other.pth"
    torch.save(timm.create_model("test_vit", pretrained=False).state_dict(), other)
    with pytest.raises(ConfigError, match="does not match the architecture"):
        MODELS.create("timm", arch="test_resnet", num_classes=3, weights=str(other))
    same = tmp_path / "same.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False, num_classes=3).state_dict(), same)
    assert MODELS.create("timm", arch="test_resnet", num_classes=3, weights=str(same)) is not None


def test_gpu_recipe_composes_with_the_paper_settings(make_cfg):
    cfg = make_cfg(["experiment=cub_inception_ddp", "data.root=/data"])
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2 and cfg.trainer.precision == "16-mixed"
    assert cfg.model.name == "inception_v3" and cfg.data.image_size == 299 and cfg.data.batch_size == 32
    assert cfg.task.optimizer._target_ == "torch.optim.SGD" and cfg.task.optimizer.momentum == 0.9
    assert cfg.callbacks.model_checkpoint.monitor == "val/acc_per_class_mean"
    assert cfg.task.scheduler.T_max == cfg.trainer.max_epochs == 40


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("mnist_cnn", {}, (2, 1, 28, 28)),
        ("inception_v3", {}, (2, 3, 75, 75)),
        ("resnet50", {}, (2, 3, 32, 32)),
        ("timm", {"arch": "test_resnet"}, (2, 3, 32, 32)),
    ],
)
def test_every_classification_model_builds_offline(name, kwargs, shape):
    net = MODELS.create(name, num_classes=7, **kwargs).eval()
    with torch.no_grad():
        assert net(torch.zeros(shape)).shape == (2, 7)
