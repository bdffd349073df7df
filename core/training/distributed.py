"""Data parallelism under ``torchrun``: process group set-up, collectives, parallel sampling.

Run any polydiff training script as ``torchrun --nproc_per_node=N script.py``: torchrun sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`setup_distributed` then joins the process group (NCCL on CUDA, Gloo on CPU). Without
those variables everything here is a single-process no-op.

Collectives move tensors only (``all_gather_object`` would pickle); variable-size results are
padded to a common length and trimmed afterwards.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "DistInfo",
    "all_gather_tensor",
    "all_reduce_max",
    "all_reduce_mean",
    "barrier",
    "cleanup",
    "dist_info",
    "sample_data_parallel",
    "setup_distributed",
    "unwrap",
    "wrap_ddp",
]

_DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the data-parallel group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _resolve_device(device: str, local_rank: int, distributed: bool) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        if dev.index is None:  # a concrete index: generators and DDP need one
            dev = torch.device("cuda", local_rank if distributed else torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def setup_distributed(device: str = "cpu") -> DistInfo:
    """Join the torchrun process group if the environment describes one.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``; under torchrun ``"cuda"`` becomes
            ``cuda:LOCAL_RANK`` and the backend is NCCL, otherwise Gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {world}")
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _resolve_device(device, local_rank, world > 1)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    if dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


class _NetDDP(DistributedDataParallel):
    """``DistributedDataParallel`` whose attribute reads fall through to the wrapped network.

    A loss written for the raw network (``net.null_class``, ``net.embed_tokens(ids)``,
    ``net.config``) works unchanged on the wrapper: calling it goes through DDP's forward
    (gradient synchronisation), every other attribute is the raw network's.
    """

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("module"), name)


def wrap_ddp(net: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """Wrap ``net`` for data-parallel training; attributes still read the raw network."""
    ids = [device.index] if device.type == "cuda" else None
    return _NetDDP(net, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap(net: nn.Module) -> nn.Module:
    """The raw network inside a ``DistributedDataParallel`` wrapper (``net`` itself otherwise)."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"unwrap: net must be an nn.Module, got {type(net).__name__}")
    return net.module if isinstance(net, DistributedDataParallel) else net


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of the current process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (no-op single-process)."""
    if dist_info()[1] > 1:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (call at the end of a torchrun script).

    Every rank first waits for the others and frees unreachable DDP wrappers (whose Gloo work
    objects hold tensors), so no rank tears its sockets down while a peer still talks to it and
    no Gloo object is destroyed during interpreter shutdown (a rare SIGABRT at exit otherwise:
    "terminate called without an active exception").
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ranks (a copy; ``x`` itself single-process)."""
    if dist_info()[1] == 1:
        return x
    y = x.detach().to(_comm_device(), copy=True)
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return (y / dist.get_world_size()).to(x.device)


def all_reduce_max(x: torch.Tensor) -> torch.Tensor:
    """Elementwise maximum of ``x`` over ranks (a copy; ``x`` itself single-process)."""
    if dist_info()[1] == 1:
        return x
    y = x.detach().to(_comm_device(), copy=True)
    dist.all_reduce(y, op=dist.ReduceOp.MAX)
    return y.to(x.device)


def all_gather_tensor(x: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``x`` (same shape and dtype on every rank), in rank order."""
    _, world = dist_info()
    if world == 1:
        return [x]
    y = x.detach().to(_comm_device()).contiguous()
    out = [torch.empty_like(y) for _ in range(world)]
    dist.all_gather(out, y)
    return [o.to(x.device) for o in out]


def _gather_padded(local: torch.Tensor | None, rows: int, device: torch.device) -> torch.Tensor:
    """Concatenate every rank's ``local`` (``None`` on ranks without samples) in rank order."""
    # Exchange shapes/dtypes first: meta = [rows, dtype, ndim, *shape[1:] padded to 8].
    meta = torch.full((11,), -1, dtype=torch.long)
    if local is not None:
        if local.ndim > 9:
            raise ValueError(
                f"sample_data_parallel: results of rank > 9 dims unsupported ({local.ndim})"
            )
        if local.dtype not in _DTYPES:
            raise TypeError(f"sample_data_parallel: unsupported result dtype {local.dtype}")
        meta[0], meta[1], meta[2] = local.shape[0], _DTYPES.index(local.dtype), local.ndim
        meta[3 : 3 + local.ndim - 1] = torch.tensor(local.shape[1:], dtype=torch.long)
    metas = [m for m in all_gather_tensor(meta) if m[0] >= 0]
    ref = metas[0]
    for m in metas[1:]:
        if not torch.equal(m[1:], ref[1:]):
            raise ValueError(
                "sample_data_parallel: ranks returned results of different shape/dtype"
            )
    dtype, ndim = _DTYPES[int(ref[1])], int(ref[2])
    tail = [int(s) for s in ref[3 : 3 + ndim - 1]]
    padded = torch.zeros((rows, *tail), dtype=dtype, device=device)
    n_local = 0 if local is None else local.shape[0]
    if n_local:
        padded[:n_local] = local.to(device)
    counts = all_gather_tensor(torch.tensor([n_local], dtype=torch.long))
    parts = all_gather_tensor(padded)
    return torch.cat([p[: int(c)] for p, c in zip(parts, counts)])


def sample_data_parallel(
    fn: Callable[[list[int]], torch.Tensor],
    n: int,
    seeds: Sequence[int] | None = None,
    *,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Generate ``n`` samples split over the ranks; every rank gets all of them, in order.

    Rank ``r`` takes the contiguous block ``seeds[r*m:(r+1)*m]`` with ``m = ceil(n / world)``
    and calls ``fn(seed_chunk)`` (at most ``batch_size`` seeds a call); ``fn`` must return a
    tensor whose first dimension is ``len(seed_chunk)`` and whose sample ``i`` depends only on
    ``seed_chunk[i]`` (e.g. one ``torch.Generator`` per sample, the ``generator=`` list of
    :func:`polydiff.core.sample`). Then the result equals ``fn(seeds)`` of a single process.

    Args:
        fn: maps a list of per-sample seeds to a tensor ``[len(seeds), ...]``.
        n: number of samples.
        seeds: per-sample seeds (default ``range(n)``).
        batch_size: largest chunk passed to ``fn`` (default: the whole shard).

    Returns:
        Tensor ``[n, ...]`` on every rank (on the device ``fn`` returned).
    """
    if not callable(fn):
        raise TypeError(f"sample_data_parallel: fn must be callable, got {type(fn).__name__}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"sample_data_parallel: n must be a positive int, got {n!r}")
    from ..validate import check_int, describe

    if seeds is not None and (isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__")):
        raise TypeError(f"sample_data_parallel: seeds must be a sequence of ints, got {describe(seeds)}")
    seeds = list(range(n)) if seeds is None else [check_int(s, f"seeds[{i}]", low=0) for i, s in enumerate(seeds)]
    if len(seeds) != n:
        raise ValueError(f"sample_data_parallel: got {len(seeds)} seeds for n={n}")
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", low=1)
    rank, world = dist_info()
    per_rank = math.ceil(n / world)
    mine = seeds[rank * per_rank : (rank + 1) * per_rank]
    step = batch_size or max(len(mine), 1)
    outs = []
    for i in range(0, len(mine), step):
        chunk = mine[i : i + step]
        out = fn(chunk)
        if not isinstance(out, torch.Tensor) or out.ndim == 0 or out.shape[0] != len(chunk):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"sample_data_parallel: fn returned {got} for {len(chunk)} seeds; "
                "expected a tensor with first dimension len(seeds)"
            )
        outs.append(out)
    local = torch.cat(outs) if outs else None
    if world == 1:
        return local
    device = local.device if local is not None else torch.device("cpu")
    result = _gather_padded(local, per_rank, _comm_device())
    return result.to(device)
