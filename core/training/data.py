"""Deterministic, restorable data order, sharded over ranks and accumulation micro-batches.

Epoch ``e`` visits the dataset in the permutation ``randperm(n)`` drawn from a generator
seeded with ``(seed, e)``; step ``s`` takes global batch ``s mod steps_per_epoch`` of epoch
``s div steps_per_epoch`` (the last incomplete batch of an epoch is dropped). The global
batch is cut into ``world_size * grad_accum`` contiguous chunks; rank ``r`` takes chunks
``r * grad_accum + k``, ``k < grad_accum`` — the order ``DistributedSampler`` would give
contiguous blocks of one shared permutation. The data seen at a step is a pure function of
``(seed, step)``, so resuming needs only the step, and one process with ``grad_accum = W``
sees exactly the chunks that ``W`` ranks see with ``grad_accum = 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["DataOrder", "derive_seed", "iter_batches", "to_device"]


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (numpy ``SeedSequence`` hashing: nearby inputs give
    unrelated streams)."""
    words = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


class DataOrder:
    """Which dataset indices rank ``rank`` uses for micro-batch ``micro`` of step ``step``."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        grad_accum: int = 1,
    ):
        if n < batch_size:
            raise ValueError(f"dataset has {n} samples, fewer than one batch of {batch_size}")
        if batch_size % (world_size * grad_accum):
            raise ValueError(
                f"batch_size={batch_size} is not divisible by world_size*grad_accum="
                f"{world_size}*{grad_accum}"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size, self.grad_accum = rank, world_size, grad_accum
        self.steps_per_epoch = n // batch_size
        self.chunk = batch_size // (world_size * grad_accum)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(derive_seed(self.seed, 0, epoch))
            self._perm, self._epoch = torch.randperm(self.n, generator=g), epoch
        return self._perm

    def chunk_index(self, micro: int) -> int:
        """Global index of this rank's micro-batch among the step's chunks."""
        return self.rank * self.grad_accum + micro

    def indices(self, step: int, micro: int) -> torch.Tensor:
        epoch, b = divmod(step, self.steps_per_epoch)
        start = b * self.batch_size + self.chunk_index(micro) * self.chunk
        return self.permutation(epoch)[start : start + self.chunk]

    def position(self, step: int) -> dict[str, int]:
        epoch, b = divmod(step, self.steps_per_epoch)
        return {
            "epoch": epoch,
            "batch_in_epoch": b,
            "samples_seen": step * self.batch_size,
            "dataset_len": self.n,
            "seed": self.seed,
        }


class _IndexBatches(torch.utils.data.Sampler):
    """Batch sampler yielding this rank's index lists from ``start`` to ``stop`` steps."""

    def __init__(self, order: DataOrder, start: int, stop: int):
        self.order, self.start, self.stop = order, start, stop

    def __len__(self) -> int:
        return (self.stop - self.start) * self.order.grad_accum

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            for k in range(self.order.grad_accum):
                yield self.order.indices(step, k).tolist()


def iter_batches(
    dataset: Any,
    order: DataOrder,
    start: int,
    stop: int,
    *,
    collate_fn: Callable | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[Any]:
    """Micro-batches for steps ``start..stop-1`` in order (``grad_accum`` per step).

    A tensor or ``TensorDataset`` without ``collate_fn`` is indexed directly (a tensor gives a
    tensor batch, a ``TensorDataset`` a list of tensors like ``default_collate``); any other
    map-style dataset goes through a ``DataLoader`` with a batch sampler.
    """
    if collate_fn is None and num_workers == 0:
        if isinstance(dataset, torch.Tensor):
            for step in range(start, stop):
                for k in range(order.grad_accum):
                    yield dataset[order.indices(step, k)]
            return
        if isinstance(dataset, TensorDataset):
            for step in range(start, stop):
                for k in range(order.grad_accum):
                    idx = order.indices(step, k)
                    yield [t[idx] for t in dataset.tensors]
            return
    loader = DataLoader(
        dataset,
        batch_sampler=_IndexBatches(order, start, stop),
        collate_fn=collate_fn,
        num_workers=num_workers,
        pin_memory=pin_memory,
        # its own generator: the workers' base seed must not be drawn from the global RNG
        # (that would shift dropout masks and break bitwise resume)
        generator=torch.Generator().manual_seed(derive_seed(order.seed, 2, start)),
    )
    yield from loader


def dataset_len(dataset: Any) -> int:
    """Length of a map-style dataset or tensor, with a clear error otherwise."""
    if isinstance(dataset, (torch.Tensor, Dataset)) or hasattr(dataset, "__getitem__"):
        try:
            return len(dataset)
        except TypeError:
            pass
    raise TypeError(
        f"dataset must be a tensor or a map-style Dataset with __len__ and __getitem__, "
        f"got {type(dataset).__name__}"
    )


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested dict/list/tuple) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device) for v in batch]
        if hasattr(batch, "_fields"):  # namedtuple
            return type(batch)(*moved)
        return tuple(moved) if isinstance(batch, tuple) else moved
    return batch
