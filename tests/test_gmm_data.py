import pytest
import torch

from infocam.data.gmm import GaussianMixtureDataModule
from infocam.errors import ConfigError


def test_unbalanced_counts_are_table1_and_stratified():
    dm = GaussianMixtureDataModule(dim=3, balance="unbalanced", seed=7)
    dm.setup()
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sum(sizes.values()) == 90_000
    counts = dm.train_class_counts
    assert counts.tolist() == [3600, 7200, 10800, 14400, 18000]
    assert dm.splits["train"].tensors[0].shape[1] == 3


def test_same_seed_same_data_and_splits_disjoint():
    a = GaussianMixtureDataModule(dim=2, seed=1, size_scale=0.05)
    b = GaussianMixtureDataModule(dim=2, seed=1, size_scale=0.05)
    a.setup(), b.setup()
    assert torch.equal(a.splits["test"].tensors[0], b.splits["test"].tensors[0])
    train = {tuple(r.tolist()) for r in a.splits["train"].tensors[0]}
    test = {tuple(r.tolist()) for r in a.splits["test"].tensors[0]}
    assert not train & test


def test_class_means_are_where_table1_puts_them():
    dm = GaussianMixtureDataModule(dim=4, balance="balanced", seed=0)
    dm.setup()
    x, y = dm.splits["train"].tensors
    means = torch.stack([x[y == c].mean() for c in range(5)])
    assert torch.allclose(means, torch.tensor([0.0, 2.0, -2.0, 4.0, -4.0]), atol=0.03)


@pytest.mark.parametrize("kwargs, match", [
    ({"dim": 0}, "data.dim"),
    ({"dim": "ten"}, "data.dim"),
    ({"dim": 2.5}, "data.dim"),
    ({"balance": "skewed"}, "data.balance"),
    ({"val_fraction": 0.9}, "fraction"),
])
def test_bad_values_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GaussianMixtureDataModule(**kwargs)
