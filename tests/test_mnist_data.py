"""MNIST from IDX files: reader/writer, DataModule splits, imbalance, bad inputs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from fixtures.classification import make_mnist

from infocam.data.formats.idx import read_idx, write_idx
from infocam.data.mnist import MNISTDataModule
from infocam.errors import DataError

OPTIONS = {
    "original": None,
    "balanced": {"name": "equalize_classes"},
    "unbalanced": {"name": "drop_fraction_of_classes", "fraction": 0.9, "classes": [0, 2, 4, 6, 8]},
}


def datamodule(root, balance="original", **kwargs):
    dm = MNISTDataModule(str(root), balance=balance, balance_options=OPTIONS, **kwargs)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 5) * 7 % 251).astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / f"x.idx{suffix}", array)
    assert np.array_equal(read_idx(path).numpy(), array)
    raw = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    assert raw[:4] == bytes([0, 0, {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[dtype], 3])


@pytest.mark.parametrize("gz", [True, False])
def test_datamodule_reads_plain_and_gzip_files(tmp_path, gz):
    make_mnist(tmp_path, gz=gz)
    dm = datamodule(tmp_path, val_fraction=0.1)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 450, "val": 50, "test": 70}
    x, y = dm.splits["train"].tensors
    assert x.shape == (450, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert dm.train_class_counts.tolist() == [45] * 10
    assert torch.bincount(dm.splits["val"].tensors[1]).tolist() == [5] * 10


def test_unbalanced_drops_ninety_percent_of_even_digits_only_in_training(tmp_path):
    make_mnist(tmp_path)
    summary = tmp_path / "run" / "data_summary.json"
    dm = datamodule(tmp_path, balance="unbalanced", val_fraction=0.1, summary_path=str(summary))
    # 45 training images per digit after the val split; floor(0.9 * 45) = 40 dropped
    assert dm.train_class_counts.tolist() == [5, 45] * 5
    assert torch.bincount(dm.splits["val"].tensors[1]).tolist() == [5] * 10
    assert torch.bincount(dm.splits["test"].tensors[1]).tolist() == [7] * 10
    recorded = json.loads(summary.read_text())
    assert recorded["reduced_classes"] == [0, 2, 4, 6, 8]
    assert recorded["train_class_counts"] == [5, 45] * 5


def test_unbalanced_subset_depends_on_data_seed_only(tmp_path):
    make_mnist(tmp_path)
    a = datamodule(tmp_path, balance="unbalanced", seed=1).splits["train"].tensors[0]
    b = datamodule(tmp_path, balance="unbalanced", seed=1).splits["train"].tensors[0]
    c = datamodule(tmp_path, balance="unbalanced", seed=2).splits["train"].tensors[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_balanced_equalises_to_the_rarest_digit(tmp_path):
    make_mnist(tmp_path, train_per_class=(50, 40, 60, 50, 50, 50, 50, 50, 50, 30))
    dm = datamodule(tmp_path, balance="balanced", val_fraction=0.1)
    assert dm.train_class_counts.tolist() == [27] * 10  # 30 - round(3.0) = 27


def test_missing_dataset_names_the_expected_files(tmp_path):
    with pytest.raises(DataError) as err:
        datamodule(tmp_path / "nowhere")
    message = str(err.value)
    assert "MNIST not found under" in message and "train-images-idx3-ubyte[.gz]" in message
    assert str(tmp_path / "nowhere" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte") in message


def _raw(root, name):
    return root / "MNIST" / "raw" / name


@pytest.mark.parametrize(
    "corrupt, file, needle",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), "train-images-idx3-ubyte", "bytes"),
        (lambda p: p.write_bytes(b"\x01\x02" + p.read_bytes()[2:]), "t10k-images-idx3-ubyte", "not an IDX file"),
        (lambda p: p.write_bytes(b"\x00\x00"), "train-labels-idx1-ubyte", "not an IDX file"),
        (lambda p: write_idx(p, np.zeros(3, np.uint8)), "train-labels-idx1-ubyte", "3 labels but"),
        (lambda p: write_idx(p, np.full(70, 12, np.uint8)), "t10k-labels-idx1-ubyte", "record 0 has label 12"),
        (lambda p: write_idx(p, np.zeros((500, 28), np.uint8)), "train-images-idx3-ubyte", r"shape \[N, H, W\]"),
    ],
)
def test_malformed_idx_names_the_file(tmp_path, corrupt, file, needle):
    make_mnist(tmp_path, gz=False)
    corrupt(_raw(tmp_path, file))
    with pytest.raises(DataError, match=needle) as err:
        datamodule(tmp_path)
    assert file in str(err.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    make_mnist(tmp_path, gz=True)
    path = _raw(tmp_path, "train-images-idx3-ubyte.gz")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: cannot read"):
        datamodule(tmp_path)
