"""DataLoaders that batch in-memory tensors fast and shard exactly under DDP.

Lightning's automatic DistributedSampler pads evaluation splits with repeated samples, which
changes test metrics; the trainers here set ``use_distributed_sampler: false`` and the
DataModules build their samplers with :func:`make_loader` instead.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class TensorBatchDataset(Dataset):
    """Tensors indexed a whole batch at a time (``__getitems__``), not sample by sample."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors or any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("TensorBatchDataset needs tensors with the same first dimension")
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, ...]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[index] for t in self.tensors)


def _identity_collate(batch: Any) -> Any:
    return batch


class ShardedEvalSampler(Sampler[int]):
    """Rank r takes indices r, r+W, r+2W, ...: every sample exactly once, no padding."""

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


class EpochSeededSampler(DistributedSampler):
    """A ``DistributedSampler`` that also reseeds the loader's generator at every ``set_epoch``.

    The loader draws its workers' base seed from that generator when an epoch's iterator is
    made, so the workers' random streams (augmentation in the workers) are a function of
    (seed, epoch, rank) alone, and a run resumed at epoch e draws what an uninterrupted one did.
    """

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, seed: int, drop_last: bool,
                 generator: torch.Generator) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=drop_last)
        self.generator = generator
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.generator.manual_seed(((self.seed * 1_000_003 + epoch) * 1_009 + self.rank) % 2**63)


def distributed_context() -> tuple[int, int]:
    """(rank, world_size) of the initialised process group, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    epoch: int = 0,
) -> DataLoader:
    """A loader for one split.

    Training shuffles with an :class:`EpochSeededSampler` even on one process: its permutation
    and its workers' seeds are functions of (seed, epoch, rank) alone, so a run resumed from a
    checkpoint sees the same batches and augmentations as one that was never interrupted.
    Training workers are therefore not persistent (a persistent worker's random stream would
    carry over from epochs a resumed run never ran). ``epoch`` is the epoch the first iterator
    serves: Lightning makes that iterator before it calls ``set_epoch``, and with workers the
    iterator seeds them and prefetches indices at once. Evaluation shards without padding.
    """
    rank, world_size = distributed_context()
    sampler: Sampler[int]
    generator = None
    if train:
        generator = torch.Generator()
        sampler = EpochSeededSampler(
            dataset, num_replicas=world_size, rank=rank, seed=seed, drop_last=drop_last, generator=generator
        )
        sampler.set_epoch(epoch)
    else:
        sampler = ShardedEvalSampler(len(dataset), rank, world_size)
    batched = isinstance(dataset, TensorBatchDataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last and train,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0 and not train,
        generator=generator,
        collate_fn=_identity_collate if batched else None,
    )
