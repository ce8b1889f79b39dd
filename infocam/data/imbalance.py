"""Class-imbalance as one transform of a dataset's index, shared by every DataModule.

An index transform takes the labels of a split and returns the positions to keep, plus which
classes it reduced. It never touches images, so MNIST, CUB and any later dataset make their
balanced/unbalanced variants the same way, from one seeded generator (data identity).
Entries are registered in :data:`infocam.registry.INDEX_TRANSFORMS` and chosen in config as
``{name: drop_fraction_of_classes, fraction: 0.9, classes: [0, 2, 4, 6, 8]}``.

The paper's text reduces the training split only (``data.balance_splits=train``); the authors'
code imbalances the evaluation data as well, which is what makes overall and per-class test
accuracy differ (``data.balance_splits=all``; ``data.balance=authors`` rebuilds their splits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from infocam.errors import ConfigError
from infocam.registry import INDEX_TRANSFORMS


@dataclass
class IndexSelection:
    """Sorted positions kept from a split, and the classes the transform reduced."""

    indices: Tensor
    reduced_classes: list[int] = field(default_factory=list)
    transform: str = "identity"

    def summary(self) -> dict[str, Any]:
        return {"transform": self.transform, "reduced_classes": list(self.reduced_classes)}


def _class_positions(labels: Tensor, num_classes: int) -> list[Tensor]:
    return [torch.nonzero(labels == c).flatten() for c in range(num_classes)]


@INDEX_TRANSFORMS.register("drop_fraction_of_classes")
def drop_fraction_of_classes(
    labels: Tensor,
    num_classes: int,
    generator: torch.Generator,
    fraction: float,
    classes: Sequence[int] | None = None,
    class_fraction: float | None = None,
) -> IndexSelection:
    """Drop ``floor(fraction * n_c)`` random instances of each reduced class ``c``.

    The reduced classes are ``classes`` when given (MNIST: digits 0, 2, 4, 6, 8), else
    ``round(class_fraction * num_classes)`` classes drawn at random (CUB: half of the 200).
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"drop_fraction_of_classes: fraction must be in [0, 1), got {fraction}")
    if (classes is None) == (class_fraction is None):
        raise ConfigError("drop_fraction_of_classes: give exactly one of classes or class_fraction")
    if classes is not None:
        reduced = sorted({int(c) for c in classes})
        bad = [c for c in reduced if not 0 <= c < num_classes]
        if bad:
            raise ConfigError(f"drop_fraction_of_classes: classes {bad} are not in [0, {num_classes})")
    else:
        if not 0.0 < class_fraction <= 1.0:  # type: ignore[operator]
            raise ConfigError(f"drop_fraction_of_classes: class_fraction must be in (0, 1], got {class_fraction}")
        count = int(round(class_fraction * num_classes))  # type: ignore[operator]
        reduced = sorted(torch.randperm(num_classes, generator=generator)[:count].tolist())
    keep = []
    for c, positions in enumerate(_class_positions(labels, num_classes)):
        if c in reduced:
            drop = int(fraction * len(positions))
            order = torch.randperm(len(positions), generator=generator)
            positions = positions[order[drop:]]
        keep.append(positions)
    return IndexSelection(torch.cat(keep).sort().values, reduced, "drop_fraction_of_classes")


@INDEX_TRANSFORMS.register("equalize_classes")
def equalize_classes(
    labels: Tensor, num_classes: int, generator: torch.Generator, per_class: int | None = None
) -> IndexSelection:
    """Keep ``per_class`` random instances of every class (default: the smallest class's count).

    This is the paper's balanced MNIST: "a subset ... such that instance numbers for every
    class are all the same".
    """
    positions = _class_positions(labels, num_classes)
    smallest = min(len(p) for p in positions)
    target = smallest if per_class is None else int(per_class)
    if not 0 < target <= smallest:
        raise ConfigError(f"equalize_classes: per_class must be in [1, {smallest}] (smallest class), got {per_class}")
    reduced = [c for c, p in enumerate(positions) if len(p) > target]
    keep = [p[torch.randperm(len(p), generator=generator)[:target]] for p in positions]
    return IndexSelection(torch.cat(keep).sort().values, reduced, "equalize_classes")


@INDEX_TRANSFORMS.register("first_per_class")
def first_per_class(
    labels: Tensor, num_classes: int, generator: torch.Generator, even: int | None = None, odd: int | None = None
) -> IndexSelection:
    """Keep the first ``even`` (0-based even labels) / ``odd`` (odd labels) instances of each class
    in the split's own order; ``None`` keeps all of them.

    No randomness: this is how the authors' released code cut its Table 3 data (MNIST: the first
    300 of every even digit and 3,000 of every odd one; CUB: per class, by the parity of the label).
    """
    for name, count in (("even", even), ("odd", odd)):
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ConfigError(f"first_per_class: {name} must be a count >= 0 or null (keep all), got {count!r}")
    keep, reduced = [], []
    for c, positions in enumerate(_class_positions(labels, num_classes)):
        limit = even if c % 2 == 0 else odd
        if limit is not None and len(positions) > limit:
            positions = positions[:limit]
            reduced.append(c)
        keep.append(positions)
    return IndexSelection(torch.cat(keep).sort().values, reduced, "first_per_class")


#: ``data.balance_splits``: which splits the balance option's index transform reduces
BALANCE_SPLITS = ("train", "all")
#: ``data.balance=authors``: the released code's own splits (each DataModule builds them)
AUTHORS = "authors"
SPLITS = ("train", "val", "test")


def check_balance_splits(balance_splits: str) -> str:
    if balance_splits not in BALANCE_SPLITS:
        raise ConfigError(f"data.balance_splits must be one of {', '.join(BALANCE_SPLITS)}, got {balance_splits!r}")
    return balance_splits


def eval_spec(spec: Mapping[str, Any] | None, training: IndexSelection) -> Mapping[str, Any] | None:
    """The training split's reduction for a validation or test split: the same transform, with
    the classes the training draw reduced pinned (a random ``class_fraction`` would otherwise
    pick other classes there), so every split is imbalanced the same way."""
    if not spec or "class_fraction" not in spec:
        return spec
    pinned = {k: v for k, v in spec.items() if k != "class_fraction"}
    return {**pinned, "classes": list(training.reduced_classes)}


def split_specs(spec: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any] | None]:
    """An ``authors`` entry per split: ``{train: SPEC, test: SPEC}`` (validation follows the
    test rule unless given), or one SPEC for every split."""
    if spec and set(spec) <= set(SPLITS):
        return {"train": spec.get("train"), "test": spec.get("test"), "val": spec.get("val", spec.get("test"))}
    return {split: spec for split in SPLITS}


def class_counts(labels: Tensor, num_classes: int) -> list[int]:
    return torch.bincount(labels, minlength=num_classes).tolist()


def select_indices(
    spec: Mapping[str, Any] | None, labels: Tensor, num_classes: int, seed: int
) -> IndexSelection:
    """Apply the registered transform ``spec`` (``None``: keep everything) with its own seed."""
    if not spec:
        return IndexSelection(torch.arange(len(labels)))
    generator = torch.Generator().manual_seed(int(seed))
    return INDEX_TRANSFORMS.from_spec(spec, labels=labels, num_classes=num_classes, generator=generator)


def balance_spec(balance: str, options: Mapping[str, Mapping[str, Any] | None]) -> Mapping[str, Any] | None:
    """The index transform that ``data.balance`` names in ``data.balance_options``."""
    if balance not in options:
        raise ConfigError(f"data.balance must be one of {sorted(options)}, got {balance!r}")
    return options[balance]


def plain_options(options: Any) -> dict[str, Any] | None:
    """Config nodes (OmegaConf) to plain dicts/lists, so hparams pickle with weights_only."""
    if options is None:
        return None
    from omegaconf import OmegaConf

    if OmegaConf.is_config(options):
        return OmegaConf.to_container(options, resolve=True)  # type: ignore[return-value]
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in dict(options).items()}
