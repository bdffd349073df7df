"""The vision benchmark's data and trained-network cache, shared by its three parts
(:mod:`polydiff.bench.vision`, :mod:`~polydiff.bench.vision_segment`,
:mod:`~polydiff.bench.vision_lesions`)."""
from __future__ import annotations

import pathlib

import torch
import torch.nn.functional as F
from polydiff.bench.common import cached, digest
from polydiff.vision.data import load_mnist
from polydiff.vision.train import load_trained, train

__all__ = ["mnist", "to_bench_size", "trained"]


def mnist(split: str, size: int, limit: int | None = None, classes=None):
    """MNIST ``split`` at ``size`` px (16: padded to 32 and 2x2 box-filtered; 28: as stored)."""
    x, y = load_mnist(split)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
    x, y = x[:limit], y[:limit]
    return to_bench_size(x, size).contiguous(), y.contiguous()


def to_bench_size(x: torch.Tensor, size: int) -> torch.Tensor:
    """28-px digits (MNIST, or a shipped 28-px pipeline's output) at the bench's ``size``: as they
    are (28), or padded to 32 and 2x2 box-filtered (16: the digit keeps its aspect and margin)."""
    if x.shape[-1] != 28:
        raise ValueError(f"images must be 28 px wide, got {tuple(x.shape[-2:])}")
    if size == 16:
        return F.avg_pool2d(F.pad(x, (2, 2, 2, 2)), 2)
    if size != 28:
        raise ValueError(f"MNIST bench size must be 16 or 28, got {size}")
    return x


def _fingerprint(x: torch.Tensor) -> str:
    step = max(1, len(x) // 256)
    return digest(None, x[::step], str(tuple(x.shape)), algo="sha1", length=40)


def trained(cache: pathlib.Path, name: str, task: str, x, y, device: str, **kw):
    """``(net, process)`` of ``task`` trained on ``(x, y)`` (or loaded from the cache; the key
    hashes the configuration and the data)."""
    key = digest({"task": task, **kw, "data": _fingerprint(x)}, algo="sha1", length=12)

    def load(run_dir: pathlib.Path):
        net, process, _ = load_trained(run_dir, device=device)
        return net, process

    return cached(cache / f"{name}-{key}", "latest", load,
                  lambda run_dir: train(task, x, y, out_dir=run_dir, device=device, log_every=100, **kw))
