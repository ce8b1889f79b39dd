"""The user's arrays as an infocam DataModule: checked, labels mapped to classes, split by class.

Every problem is a one-line :class:`~infocam.errors.DataError` before any training starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch
from torch import Tensor

from infocam.data.base import SplitDataModule
from infocam.data.loading import TensorBatchDataset
from infocam.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


def as_float_tensor(x: Any, name: str = "X", dtype: torch.dtype = torch.float32) -> Tensor:
    """numpy / torch / nested lists -> a float (``dtype``) CPU tensor, refusing non-numbers and
    non-finite values. float64 keeps large offsets exact until :func:`standardise` removes them."""
    if isinstance(x, Tensor):
        tensor = x.detach().cpu()
    else:
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise DataError(f"{name} is not an array of numbers: {err}") from None
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise DataError(f"{name} must hold numbers, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.is_complex():
        raise DataError(f"{name} must hold real numbers, got {tensor.dtype}")
    tensor = tensor.to(dtype)
    bad = ~torch.isfinite(tensor)
    if bad.any():
        first = tuple(int(i) for i in torch.nonzero(bad)[0])
        raise DataError(f"{name} has {int(bad.sum())} NaN/inf values (first at index {first})")
    return tensor


def encode_labels(y: Any, n: int) -> tuple[Tensor, tuple[Hashable, ...]]:
    """Labels of any hashable kind -> class indices 0..M-1 and the classes in index order
    (sorted when they sort, else in order of first appearance)."""
    if isinstance(y, Tensor):
        y = y.detach().cpu().numpy()
    array = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if array.ndim != 1:
        raise DataError(f"y must be 1-D [n] labels, got shape {tuple(array.shape)}")
    if len(array) != n:
        raise DataError(f"X has {n} samples but y has {len(array)} labels")
    labels = array.tolist()
    missing = [i for i, v in enumerate(labels) if _is_missing(v)]
    if missing:
        raise DataError(f"y has {len(missing)} missing labels (NaN, None or pandas NA; first at index {missing[0]}): "
                        "drop those samples or give them a class")
    try:
        unique = set(labels)
    except TypeError as err:
        raise DataError(f"labels must be hashable (ints, strings, ...): {err}") from None
    try:
        classes = tuple(sorted(unique))
    except TypeError:
        classes = tuple(dict.fromkeys(labels))
    if len(classes) < 2:
        raise DataError(f"y has a single class ({classes[0]!r} if any): I(X;Y) needs at least two" if classes
                        else "y is empty")
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[v] for v in labels], dtype=torch.long), classes


def _is_missing(value: Any) -> bool:
    """None, a float NaN, or a value like pandas' ``NA`` whose ``!=`` is neither True nor False
    (checked by behaviour, so pandas need not be installed)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def standardise(x: Tensor, train_index: Tensor) -> Tensor:
    """``x`` centred and scaled with the training split's statistics, as float32.

    Per feature for ``[n, d]``, per channel for ``[n, C, H, W]``; a constant feature is only
    centred. I(X;Y) does not change under an invertible affine map of X, but a network trained
    by Adam from a fixed initialisation does: without this, ``X * 1000`` or ``X + 1e6`` ruin
    the estimate. The statistics come from the training split alone, so the held-out split
    stays unseen; they are computed in float64 (large offsets cancel exactly).
    """
    if x.ndim == 2:
        x64 = x.double()
        std, mean = torch.std_mean(x64[train_index], dim=0)
        return ((x64 - mean) / torch.where(std > 0, std, torch.ones_like(std))).float()
    out = torch.empty(x.shape, dtype=torch.float32)
    for c in range(x.shape[1]):  # one channel at a time: an image array is never copied whole in float64
        channel = x[:, c].double()
        std, mean = torch.std_mean(channel[train_index])
        out[:, c] = ((channel - mean) / (std if std > 0 else 1.0)).float()
    return out


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    numbers = all(isinstance(f, (int, float, np.integer, np.floating)) and not isinstance(f, bool)
                  for f in (val_fraction, test_fraction))
    if not numbers or not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"val_fraction and test_fraction must be in (0, 1) and sum below 1, got {val_fraction} and {test_fraction}"
        )


@dataclass
class Splits:
    """Stratified train/val/test index sets (each class split in the same proportions)."""

    train: Tensor
    val: Tensor
    test: Tensor


def stratified_splits(labels: Tensor, classes: Sequence[Hashable], val_fraction: float, test_fraction: float,
                      seed: int, minimum: int = 2) -> Splits:
    """Per class: ``round(n * test_fraction)`` held-out, ``round(n * val_fraction)`` validation,
    the rest training; every class needs ``minimum`` samples in every split."""
    check_fractions(val_fraction, test_fraction)
    generator = torch.Generator().manual_seed(int(seed))
    parts: dict[str, list[Tensor]] = {s: [] for s in SPLITS}
    for label, name in enumerate(classes):
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n = len(members)
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        sizes = {"test": n_test, "val": n_val, "train": n - n_test - n_val}
        for split, size in sizes.items():
            if size < minimum:
                raise DataError(
                    f"class {name!r} has {n} samples: {size} in the {split} split, which needs at least {minimum} "
                    f"(val_fraction={val_fraction}, test_fraction={test_fraction})"
                )
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    out = {}
    for split, chunks in parts.items():
        index = torch.cat(chunks)
        out[split] = index[torch.randperm(len(index), generator=generator)]
    return Splits(**out)


class ArrayDataModule(SplitDataModule):
    """Train/val/test tensors taken from one array by :func:`stratified_splits` indices."""

    def __init__(self, x: Tensor, labels: Tensor, splits: Splits, num_classes: int, batch_size: int = 512,
                 eval_batch_size: int = 8192, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["x", "labels", "splits"])
        self.splits = {s: TensorBatchDataset(x[getattr(splits, s)], labels[getattr(splits, s)]) for s in SPLITS}

    def setup(self, stage: str | None = None) -> None:
        """The splits are made in ``__init__`` from arrays already in memory."""
