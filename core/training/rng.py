"""RNG states as tensors (no pickle): torch CPU/CUDA, numpy's and python's global generators."""

from __future__ import annotations

import random
import warnings

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng"]


def capture_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's global RNG states as a flat dict of fixed-shape tensors."""
    out = {"torch_cpu": torch.get_rng_state()}
    if device.type == "cuda":
        out["torch_cuda"] = torch.cuda.get_rng_state(device)
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    out["numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    out["numpy_meta"] = torch.tensor([pos, has_gauss, gauss], dtype=torch.float64)
    version, internal, gauss_next = random.getstate()
    out["python_state"] = torch.tensor(internal, dtype=torch.int64)
    out["python_meta"] = torch.tensor(
        [version, gauss_next is not None, gauss_next if gauss_next is not None else 0.0],
        dtype=torch.float64,
    )
    return out


def restore_rng(states: dict[str, torch.Tensor], device: torch.device) -> None:
    """Inverse of :func:`capture_rng` (keys absent from ``states`` are left alone)."""
    if "torch_cpu" in states:
        torch.set_rng_state(states["torch_cpu"].to(torch.uint8))
    if "torch_cuda" in states:
        if device.type == "cuda":
            torch.cuda.set_rng_state(states["torch_cuda"].to(torch.uint8), device)
        else:
            warnings.warn("checkpoint holds a CUDA RNG state; not restored on a CPU run")
    if "numpy_keys" in states and "numpy_meta" in states:
        pos, has_gauss, gauss = states["numpy_meta"].tolist()
        keys = states["numpy_keys"].numpy().astype(np.uint32)
        np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), float(gauss)))
    if "python_state" in states and "python_meta" in states:
        version, has_next, gauss_next = states["python_meta"].tolist()
        internal = tuple(int(v) for v in states["python_state"].tolist())
        random.setstate((int(version), internal, gauss_next if has_next else None))
