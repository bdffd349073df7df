"""What every domain's benchmark entry needs: cache keys, a trained-network cache, timing with
network-evaluation counts, and the record of the schema in ``docs/design.md``.

One copy for all domains (they used to keep five). Nothing here knows a domain.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

T = TypeVar("T")

__all__ = ["NFECounter", "cached", "checkpointing", "digest", "mean_interval", "one_torch_thread", "prepare_entry", "record", "timed", "timed_nfe"]


def _bytes(part: Any) -> bytes:
    if isinstance(part, bytes):
        return part
    if isinstance(part, str):
        return part.encode()
    if isinstance(part, torch.Tensor):
        return part.detach().cpu().contiguous().numpy().tobytes()
    if isinstance(part, np.ndarray):
        return np.ascontiguousarray(part).tobytes()
    raise TypeError(f"digest parts must be bytes, str, numpy arrays or tensors, got {type(part).__name__}")


def digest(obj: Any = None, *parts: Any, algo: str = "sha256", length: int = 16) -> str:
    """Hex digest (first ``length`` characters) of ``obj`` as sorted JSON, then of ``parts``.

    ``obj`` is a JSON-able configuration (``str()`` for anything else); ``parts`` are raw bytes,
    strings or arrays (their memory, not their shape). ``obj=None`` digests the parts alone.
    """
    h = hashlib.new(algo)
    if obj is not None:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    for p in parts:
        h.update(_bytes(p))
    return h.hexdigest()[:length]


def cached(folder: Path, done: str, load: Callable[[Path], T], build: Callable[[Path], T]) -> T:
    """``load(folder)`` when ``folder/done`` exists (a finished earlier run), else ``build(folder)``.

    ``build`` trains and saves into ``folder`` and writes ``done`` last, so a run killed while
    training is rebuilt (or resumed by ``build``) rather than loaded half-written.
    """
    if (folder / done).exists():
        return load(folder)
    return build(folder)


def checkpointing(folder: Path, steps: int) -> dict[str, Any]:
    """The ``TrainConfig`` fields that checkpoint a cached run of ``steps`` steps into
    ``folder / "run"`` every 5% of them (two kept): where a killed full-mode run resumes."""
    return {"ckpt_dir": str(Path(folder) / "run"), "ckpt_every": max(1, steps // 20), "keep_last": 2}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One torch intra-op thread inside the block, the caller's count restored after it (small
    networks on a shared 2-core machine: a second OpenMP thread only contends)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def prepare_entry(mode: str, modes, out_dir, device: str,
                  progress: Callable[[str], None] | None) -> tuple[Path, Callable[[str], None]]:
    """The start every entry shares: ``mode`` checked against ``modes``, ``out_dir`` created,
    a no-op ``progress`` when none is given, and one torch thread on the CPU (small networks:
    one thread beats two contending ones on a shared 2-core machine). Returns both."""
    if mode not in modes:
        raise ValueError(f"mode must be one of {tuple(modes)}, got {mode!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if device == "cpu":
        torch.set_num_threads(1)
    return out_dir, progress or (lambda stage: None)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``(fn(*args, **kwargs), wall seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


class NFECounter:
    """Counts a network's evaluations per sample through a forward pre-hook on ``net``."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.samples = 0
        self.handle = net.register_forward_pre_hook(self._hook)

    def _hook(self, module: torch.nn.Module, args: tuple) -> None:
        self.samples += int(args[0].shape[0])

    def nfe(self, n: int) -> int:
        """Evaluations per sample when ``n`` samples were made."""
        return round(self.samples / max(n, 1))

    def close(self) -> None:
        self.handle.remove()


def timed_nfe(net: torch.nn.Module, n: int, fn: Callable[..., T], *args: Any,
              **kwargs: Any) -> tuple[T, float, int]:
    """``(fn(*args, **kwargs), wall seconds, evaluations of net per sample)`` for ``n`` samples."""
    c = NFECounter(net)
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    finally:
        c.close()
    return out, time.perf_counter() - t0, c.nfe(n)


def record(domain: str, task: str, dataset: str, setting: str, method: str, metric: str,
           value: float, higher_is_better: bool, nfe: int | None, seconds: float, n: int,
           **extra: Any) -> dict[str, Any]:
    """One benchmark record (the schema of ``docs/design.md``; checked by
    :func:`polydiff.bench.schema.record_problems`). ``extra`` adds optional fields."""
    return {"domain": domain, "task": task, "dataset": dataset, "setting": setting,
            "method": method, "metric": metric, "value": float(value),
            "higher_is_better": bool(higher_is_better), "nfe": nfe, "seconds": float(seconds),
            "n": int(n), **extra}


def mean_interval(values: list[float], z: float = 1.96) -> tuple[float, float]:
    """Normal 95% interval of the mean of ``values`` (one per test item): mean +- z s / sqrt(n)."""
    if len(values) < 2:
        raise ValueError(f"values must hold at least 2 numbers for an interval, got {len(values)}")
    a = np.asarray(values, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("values must be finite")
    half = z * a.std(ddof=1) / np.sqrt(a.size)
    return float(a.mean() - half), float(a.mean() + half)


def training_checks(records: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """In quick mode, ``records`` marked ``check: "training"``: they come from models trained
    from scratch within the run (minutes), a check that training works, which
    :func:`polydiff.bench.compare.compare` counts apart from the run's conclusions. Records of
    the shipped pipelines (setting ``shipped-pipelines``) and full-mode records are unchanged."""
    if mode != "quick":
        return records
    return [r if r["setting"] == "shipped-pipelines" else dict(r, check="training") for r in records]
