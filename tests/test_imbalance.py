"""The shared index transform that makes balanced/unbalanced training splits."""

from __future__ import annotations

import pytest
import torch

import infocam.data  # noqa: F401  (registers the transforms)
from infocam.data.imbalance import balance_spec, eval_spec, select_indices, split_specs
from infocam.errors import ConfigError
from infocam.registry import INDEX_TRANSFORMS


def labels_with_counts(counts):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]


def test_the_transforms_are_registered():
    assert INDEX_TRANSFORMS.available() == ["drop_fraction_of_classes", "equalize_classes", "first_per_class"]
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
        {"name": "first_per_class", "even": -1},
        {"name": "first_per_class", "odd": 2.5},
    ],
)
def test_bad_arguments_are_config_errors(spec):
    with pytest.raises(ConfigError):
        select_indices(spec, labels_with_counts([5, 5]), 2, seed=0)


def test_unknown_balance_lists_the_options():
    with pytest.raises(ConfigError, match=r"\['balanced', 'unbalanced'\]"):
        balance_spec("skewed", {"balanced": None, "unbalanced": {}})


def test_first_per_class_keeps_the_first_instances_by_label_parity():
    labels = torch.tensor([1, 0, 0, 1, 2, 0, 1, 2, 2, 3])
    selection = select_indices({"name": "first_per_class", "even": 2, "odd": None}, labels, 4, seed=0)
    # even labels 0 and 2: their first two positions; odd labels 1 and 3: every position
    assert selection.indices.tolist() == [0, 1, 2, 3, 4, 6, 7, 9]
    assert selection.reduced_classes == [0, 2] and selection.transform == "first_per_class"
    assert select_indices({"name": "first_per_class", "even": 0, "odd": 1}, labels, 4, seed=9).indices.tolist() == [0, 9]


def test_eval_splits_reuse_the_training_draws_classes():
    labels = labels_with_counts([20] * 6)
    spec = {"name": "drop_fraction_of_classes", "fraction": 0.5, "class_fraction": 0.5}
    training = select_indices(spec, labels, 6, seed=4)
    pinned = eval_spec(spec, training)
    assert pinned == {"name": "drop_fraction_of_classes", "fraction": 0.5, "classes": training.reduced_classes}
    assert select_indices(pinned, labels, 6, seed=99).reduced_classes == training.reduced_classes
    named = {"name": "drop_fraction_of_classes", "fraction": 0.9, "classes": [0, 2]}
    assert eval_spec(named, training) is named and eval_spec(None, training) is None


def test_split_specs_per_split_or_one_for_all():
    rule = {"name": "first_per_class", "even": 1}
    assert split_specs(rule) == {"train": rule, "val": rule, "test": rule}
    per_split = split_specs({"train": rule, "test": {"name": "equalize_classes"}})
    assert per_split["val"] == per_split["test"] == {"name": "equalize_classes"} and per_split["train"] == rule
    assert split_specs(None) == {"train": None, "val": None, "test": None}
