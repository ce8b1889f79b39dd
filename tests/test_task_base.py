"""What every task shares: one way to publish a figure, one way to reset stage metrics."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infocam.tasks.classify import ClassificationModule, confusion_png


class _Recorder:
    def __init__(self) -> None:
        self.images: list[tuple[str, object]] = []


class _TensorBoardLike(_Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.experiment = self

    def add_image(self, key, image, step, dataformats):
        self.images.append((key, (image, step, dataformats)))


class _WandbLike(_Recorder):
    experiment = None

    def log_image(self, key, images):
        self.images.append((key, images))


class _Trainer:
    def __init__(self, root: Path, loggers: list, rank_zero: bool = True) -> None:
        self.default_root_dir, self.loggers, self.is_global_zero = str(root), loggers, rank_zero
        self.global_step = 3


def _task(num_classes: int = 3) -> ClassificationModule:
    return ClassificationModule(model={"name": "mlp", "hidden_dims": [4]}, loss={"name": "softmax"},
                                optimizer={"_target_": "torch.optim.SGD", "lr": 0.1}, num_classes=num_classes,
                                model_kwargs={"input_dim": num_classes}, top_k=None)


def test_publish_figure_writes_the_file_and_sends_one_image_to_each_image_logger(tmp_path):
    task = _task()
    png = confusion_png(torch.tensor([[3, 1, 0], [1, 1, 0], [0, 0, 4]]))
    board, wandb = _TensorBoardLike(), _WandbLike()
    task.trainer = _Trainer(tmp_path, [board, wandb])
    out = task.publish_figure("figures/confusion.png", png, "test/confusion_matrix")
    assert out == tmp_path / "figures" / "confusion.png" and out.read_bytes() == png
    size = Image.open(io.BytesIO(png)).size
    [(key, (array, step, layout))] = board.images
    assert (key, step, layout, array.shape) == ("test/confusion_matrix", 3, "HWC", (size[1], size[0], 3))
    [(key, [image])] = wandb.images
    assert key == "test/confusion_matrix" and np.array_equal(np.asarray(image), array)
    # no key: the file only; another rank: nothing at all
    task.publish_figure("figures/file_only.png", png)
    assert (tmp_path / "figures" / "file_only.png").is_file() and len(board.images) == len(wandb.images) == 1
    task.trainer = _Trainer(tmp_path / "rank1", [board], rank_zero=False)
    assert task.publish_figure("figures/x.png", png, "test/x") is None
    assert not (tmp_path / "rank1").exists() and len(board.images) == 1


def test_stage_metrics_are_reset_at_the_start_of_their_stage_and_stay_readable_after_it():
    task = _task()
    task.net = torch.nn.Identity()  # logits = inputs
    logits, y = torch.eye(3), torch.tensor([0, 1, 1])
    task._eval_step("test", (logits, y))
    assert task.test_confusion.compute().sum() == 3
    task._eval_step("val", (logits, y))
    task.reset_stage_metrics("test")  # what on_test_epoch_start does
    assert task.test_confusion.confmat.sum() == 0 and task.metrics["test"]["acc"].tp.sum() == 0
    assert float(task.metrics["val"]["acc"].compute()) == pytest.approx(2 / 3)  # other stages untouched
