"""What every DataModule here shares: three splits, exact DDP loaders, served class counts."""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from infocam.data.loading import make_loader
from infocam.errors import ConfigError


class SplitDataModule(L.LightningDataModule):
    """``setup`` fills ``self.splits`` with ``train``/``val``/``test`` datasets; this class serves them.

    Subclasses save ``batch_size``, ``eval_batch_size``, ``seed``, ``num_workers`` and
    ``num_classes`` as hyper-parameters. Loaders come from :func:`make_loader`, so evaluation is
    sharded across DDP ranks without padding and training order depends on (seed, epoch) only.
    """

    splits: dict[str, Dataset]
    #: pin host memory for GPU copies (image datasets decoded per sample)
    pin_memory: bool = False
    #: the :mod:`infocam.data.fetch` name of a dataset ``data.download=true`` can fetch (None: none)
    fetch_name: str | None = None

    def prepare_data(self) -> None:
        """``data.download=true``: fetch the dataset into ``data.root`` unless it is complete there.

        Lightning calls this on each node's local rank 0 only, then holds every rank at a
        barrier before ``setup``, so one process per node downloads and the others read the
        finished folder (the fetch renames it into place only once it is complete). A fetch
        longer than the process group's time-out (30 min) would stop the waiting ranks: stage
        big sets first with ``infocam-data``.
        """
        hp = self.hparams
        if self.fetch_name is None or not hp.get("download", False):
            return
        from infocam.data.fetch import fetch_dataset

        fetch_dataset(self.fetch_name, hp.root, hp.get("download_url"), hp.get("download_md5"))

    def train_labels(self) -> Tensor:
        """Labels of the training split; tensor datasets keep them as their second tensor."""
        return self.splits["train"].tensors[1]

    @property
    def train_class_counts(self) -> Tensor:
        """Per-class counts of the training labels actually served (PC-softmax priors)."""
        self.setup("fit")
        return torch.bincount(self.train_labels(), minlength=self.hparams.num_classes)

    def _loader(self, split: str) -> DataLoader:
        train = split == "train"
        key = "batch_size" if train else "eval_batch_size"
        size = self.hparams[key]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:  # DataLoader's own error is a traceback
            raise ConfigError(f"data.{key} must be a whole number >= 1, got {size!r}")
        return make_loader(
            self.splits[split],
            size,
            train=train,
            seed=self.hparams.seed,
            num_workers=self.hparams.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            epoch=self._current_epoch() if train else 0,
        )

    def _current_epoch(self) -> int:
        """The epoch the fit loop is at (restored from the checkpoint on resume; 0 otherwise)."""
        trainer = getattr(self, "trainer", None)
        fit_loop = getattr(trainer, "fit_loop", None)
        return int(fit_loop.epoch_progress.current.processed) if fit_loop is not None else 0

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
