"""The shared index transform that makes balanced/unbalanced training splits."""

from __future__ import annotations

import pytest
import torch

import infocam.data  # noqa: F401  (registers the transforms)
from infocam.data.imbalance import balance_spec, select_indices
from infocam.errors import ConfigError
from infocam.registry import INDEX_TRANSFORMS


def labels_with_counts(counts):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]


def test_both_transforms_are_registered():
    assert INDEX_TRANSFORMS.available() == ["drop_fraction_of_classes", "equalize_classes"]
    with pytest.raises(ConfigError, match="drop_fraction_of_classes"):
        select_indices({"name": "drop_half"}, torch.zeros(3, dtype=torch.long), 2, seed=0)


def test_drop_fraction_of_named_classes_exact_counts():
    labels = labels_with_counts([100, 100, 57, 100])
    selection = select_indices(
        {"name": "drop_fraction_of_classes", "fraction": 0.9, "classes": [0, 2]}, labels, 4, seed=3
    )
    kept = labels[selection.indices]
    # floor(0.9 * 100) = 90 and floor(0.9 * 57) = 51 dropped
    assert torch.bincount(kept, minlength=4).tolist() == [10, 100, 6, 100]
    assert selection.reduced_classes == [0, 2]
    assert torch.equal(selection.indices, selection.indices.sort().values)
    assert len(selection.indices.unique()) == len(selection.indices)


def test_drop_random_half_of_classes_is_seeded():
    labels = labels_with_counts([30] * 10)
    spec = {"name": "drop_fraction_of_classes", "fraction": 0.5, "class_fraction": 0.5}
    a = select_indices(spec, labels, 10, seed=7)
    b = select_indices(spec, labels, 10, seed=7)
    c = select_indices(spec, labels, 10, seed=8)
    assert torch.equal(a.indices, b.indices) and a.reduced_classes == b.reduced_classes
    assert not torch.equal(a.indices, c.indices)
    assert len(a.reduced_classes) == 5
    counts = torch.bincount(labels[a.indices], minlength=10).tolist()
    assert counts == [15 if k in a.reduced_classes else 30 for k in range(10)]


def test_equalize_classes_cuts_to_the_rarest_class():
    labels = labels_with_counts([12, 9, 20])
    selection = select_indices({"name": "equalize_classes"}, labels, 3, seed=0)
    assert torch.bincount(labels[selection.indices], minlength=3).tolist() == [9, 9, 9]
    assert selection.reduced_classes == [0, 2]


def test_no_transform_keeps_everything():
    labels = labels_with_counts([3, 4])
    assert torch.equal(select_indices(None, labels, 2, seed=0).indices, torch.arange(7))


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "drop_fraction_of_classes", "fraction": 1.0, "classes": [0]},
        {"name": "drop_fraction_of_classes", "fraction": 0.5},
        {"name": "drop_fraction_of_classes", "fraction": 0.5, "classes": [5]},
        {"name": "equalize_classes", "per_class": 100},
    ],
)
def test_bad_arguments_are_config_errors(spec):
    with pytest.raises(ConfigError):
        select_indices(spec, labels_with_counts([5, 5]), 2, seed=0)


def test_unknown_balance_lists_the_options():
    with pytest.raises(ConfigError, match=r"\['balanced', 'unbalanced'\]"):
        balance_spec("skewed", {"balanced": None, "unbalanced": {}})
