"""Batches for the loop: sharded over processes, shuffled per epoch from the seed, resumable mid-epoch.

The order of an epoch depends only on ``(seed, epoch, rank, world size)``, never on the global
RNG, so a resumed run sees exactly the batches an uninterrupted one would: it rebuilds the
epoch's order and skips the batches already consumed (without loading them).
"""

from __future__ import annotations

import itertools
import signal
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, Sampler

from text2sign.errors import ConfigError


class _SkipBatches(Sampler[list[int]]):
    def __init__(self, batches: BatchSampler, skip: int):
        self.batches = batches
        self.skip = skip

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batches), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.batches) - self.skip)


def epoch_loader(
    dataset: Dataset,
    batch_size: int,
    epoch: int,
    seed: int,
    rank: int,
    world_size: int,
    skip_batches: int = 0,
    collate_fn: Callable | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """The DataLoader of one epoch for one process, starting after `skip_batches` batches.

    A dataset with a ``set_epoch(epoch)`` method is told the epoch first (workers are started
    afresh every epoch, so they see it too).

    ``DistributedSampler`` shards (also with one process, so there is one code path); the last
    incomplete batch is dropped so every process takes the same number of steps.
    """
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    if hasattr(dataset, "set_epoch"):
        # Lets random augmentation depend on (seed, epoch, index) alone, which a resume can rebuild.
        dataset.set_epoch(epoch)
    batches = BatchSampler(sampler, batch_size, drop_last=True)
    if len(batches) == 0:
        raise ConfigError(
            f"the training data has {len(dataset)} items: too few for train.batch_size={batch_size} "
            f"on {world_size} process(es)"
        )
    # The loader's own generator (seeded per epoch) seeds its workers, and keeps the global RNG
    # untouched, which would otherwise advance whenever an epoch starts or a run resumes.
    generator = torch.Generator()
    generator.manual_seed(seed * 1_000_003 + epoch * 1_009 + rank)
    return DataLoader(
        dataset,
        batch_sampler=_SkipBatches(batches, skip_batches),
        collate_fn=collate_fn,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=generator,
        worker_init_fn=_ignore_sigint if num_workers else None,
    )


class BatchStream:
    """Batches over epochs without end; ``position`` = (epoch, batches consumed in that epoch)."""

    def __init__(self, make_loader: Callable[[int, int], DataLoader], epoch: int = 0, batch_in_epoch: int = 0):
        self.make_loader = make_loader
        self.epoch = epoch
        self.batch_in_epoch = batch_in_epoch
        self._iter = None

    @property
    def position(self) -> tuple[int, int]:
        return self.epoch, self.batch_in_epoch

    def take(self, n: int) -> list:
        batches = []
        while len(batches) < n:
            if self._iter is None:
                self._iter = iter(self.make_loader(self.epoch, self.batch_in_epoch))
            try:
                batches.append(next(self._iter))
            except StopIteration:
                self.epoch += 1
                self.batch_in_epoch = 0
                self._iter = None
                continue
            self.batch_in_epoch += 1
        return batches


def _ignore_sigint(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; only the main process should react (it finishes
    # the step and saves), and a worker dying under it would break that last step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def move_to(batch: Any, device: torch.device) -> Any:
    """`batch` on `device`: anything with ``.to(device)``, or tuples / lists / dicts of those."""
    if hasattr(batch, "to"):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch
