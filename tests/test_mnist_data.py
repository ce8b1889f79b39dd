"""MNIST from IDX files: reader/writer, DataModule splits, imbalance, bad inputs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from fixtures.classification import make_mnist
from omegaconf import OmegaConf

from infocam.data.formats.idx import read_idx, write_idx
from infocam.data.mnist import AUTHORS_RECORDS, MNIST_FILES, MNISTDataModule
from infocam.errors import ConfigError, DataError

REPO_CONF = REPO_ROOT / "conf"

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


def test_balance_splits_all_reduces_val_and_test_the_same_way(tmp_path):
    make_mnist(tmp_path)
    summary = tmp_path / "run" / "data_summary.json"
    dm = datamodule(tmp_path, balance="unbalanced", balance_splits="all", val_fraction=0.1, summary_path=str(summary))
    assert dm.train_class_counts.tolist() == [5, 45] * 5
    # val: 5 per digit, floor(0.9 * 5) = 4 dropped; test: 7 per digit, 6 dropped
    assert torch.bincount(dm.splits["val"].tensors[1]).tolist() == [1, 5] * 5
    assert torch.bincount(dm.splits["test"].tensors[1]).tolist() == [1, 7] * 5
    recorded = json.loads(summary.read_text())
    assert recorded["balance_splits"] == "all"
    assert recorded["class_counts"] == {"train": [5, 45] * 5, "val": [1, 5] * 5, "test": [1, 7] * 5}
    with pytest.raises(ConfigError, match="balance_splits must be one of train, all"):
        MNISTDataModule(str(tmp_path), balance_options=OPTIONS, balance_splits="test")


def released_code_split(labels, start, stop, even, odd):
    """The authors' loop (dataset_tool.py) written out plainly: walk the records in order, count
    each label, keep a record while its label's count is within the limit."""
    seen, kept = {}, []
    for index in range(start, stop):
        label = int(labels[index])
        seen[label] = seen.get(label, 0) + 1
        if seen[label] <= (even if label % 2 == 0 else odd):
            kept.append(index)
    return kept


def test_authors_splits_reproduce_the_released_code(tmp_path):
    """Scaled down (their records 0-39,999 / 40,000-49,999 and 300 / 3,000 images need the full
    file): the same rule on a 600-record training file, the test file never read."""
    make_mnist(tmp_path, train_per_class=(60,) * 10, gz=False)
    for name in MNIST_FILES["test"]:
        (tmp_path / "MNIST" / "raw" / name).unlink()  # their splits come from the training file only
    records = {"train": [0, 400], "test": [400, 500], "val": [500, 600]}
    options = {**OPTIONS, "authors": {"name": "first_per_class", "even": 3, "odd": 30}}
    summary = tmp_path / "run" / "data_summary.json"
    dm = MNISTDataModule(str(tmp_path), balance="authors", balance_options=options, authors_records=records,
                         summary_path=str(summary))
    dm.setup("fit")
    images, labels = read_idx(_raw(tmp_path, "train-images-idx3-ubyte")), read_idx(_raw(tmp_path, "train-labels-idx1-ubyte"))
    for split, (start, stop) in records.items():
        expected = released_code_split(labels, start, stop, even=3, odd=30)
        x, y = dm.splits[split].tensors
        assert y.tolist() == labels[expected].long().tolist()
        torch.testing.assert_close(x, MNISTDataModule._to_float(images[expected]))
    counts = json.loads(summary.read_text())["class_counts"]
    assert counts["train"][0::2] == [3] * 5 and counts["train"][1::2] == [30] * 5  # ~40 of each in 400 records
    test_counts = torch.bincount(labels[400:500].long(), minlength=10).tolist()
    assert counts["test"] == [min(n, 3 if c % 2 == 0 else 30) for c, n in enumerate(test_counts)]
    assert max(counts["test"][1::2]) > 3  # the test split is imbalanced too
    with pytest.raises(DataError, match="records 500-699 of MNIST's training file, which has 600"):
        MNISTDataModule(str(tmp_path), balance="authors", balance_options=options,
                        authors_records={**records, "val": [500, 700]}).setup("fit")


def test_authors_option_is_the_released_code_by_default():
    conf = OmegaConf.load(REPO_CONF / "data" / "mnist.yaml")
    assert OmegaConf.to_container(conf.balance_options.authors) == {"name": "first_per_class", "even": 300, "odd": 3000}
    assert conf.balance_splits == "train"
    assert AUTHORS_RECORDS["train"] == (0, 40_000) and AUTHORS_RECORDS["test"] == (40_000, 50_000)
