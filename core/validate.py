"""Argument checks shared by every public entry point: one helper per concern.

Each helper returns the (normalised) value or raises ``TypeError`` / ``ValueError`` /
``FileNotFoundError`` whose message names the argument, what was expected and what was got::

    steps = check_int(steps, "steps", low=1)
    eta = check_number(eta, "eta", low=0.0, high=1.0)
    check_tensor(x, "x0", min_ndim=2, finite=True)
    generator = check_generator(generator, "generator", batch=x.shape[0])

Concerns: numbers (finite, ranged, integral), choices, shapes, tensors (type, dtype, rank,
finiteness, range), generators, files.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "check_choice",
    "check_device",
    "check_file",
    "check_finite",
    "check_generator",
    "check_int",
    "check_number",
    "check_shape",
    "check_tensor",
    "describe",
]


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (bool, numbers.Number, str)) or value is None:
        return repr(value)
    return type(value).__name__


def _bounds(low, high, low_open, high_open) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float: a real number (not a bool), finite unless ``allow_inf``, within
    ``[low, high]`` (open ends with ``low_open`` / ``high_open``)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {v}")
    below = low is not None and (v < low or (low_open and v == low))
    above = high is not None and (v > high or (high_open and v == high))
    if below or above:
        raise ValueError(f"{name} must lie in {_bounds(low, high, low_open, high_open)}, got {v:g}")
    return v


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int (a Python or NumPy integer or an integral 0-d tensor; not a bool or a
    float such as ``2.0``), within ``[low, high]``."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]" if low is not None else f"<= {high}"
        raise ValueError(f"{name} must be an integer {rng}, got {v}")
    return v


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    options = tuple(choices)
    if not any(value == c and type(value) is type(c) for c in options):
        raise ValueError(f"{name} must be one of {list(options)}, got {describe(value)}")
    return value


def check_shape(shape: Any, name: str = "shape", *, min_ndim: int = 1) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints; an int ``n`` means ``(n,)``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, torch.Size)):
        raise TypeError(f"{name} must be a tuple of ints, got {describe(shape)}")
    dims = []
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"{name}[{i}] must be an int, got {describe(s)} (in {tuple(shape)!r})")
        if s < 1:
            raise ValueError(f"{name} must have positive sizes, got {tuple(shape)!r}")
        dims.append(int(s))
    if len(dims) < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got {tuple(dims)!r}")
    return tuple(dims)


def check_finite(x: Tensor, name: str) -> Tensor:
    """``x`` if it holds no NaN and no inf; otherwise a ``ValueError`` naming ``name`` and where."""
    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0].tolist())
            kind = "NaN" if bool(torch.isnan(x).any()) else "inf"
            raise ValueError(
                f"{name} contains {int(bad.sum())} non-finite value(s) ({kind} first at index "
                f"{first})"
            )
    return x


def check_tensor(
    x: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    floating: bool | None = None,
    finite: bool = True,
    nonempty: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> Tensor:
    """``x`` if it is a tensor of the stated kind.

    Args:
        ndim: required rank (or ranks); ``min_ndim``: smallest rank.
        floating: ``True`` requires a floating dtype, ``False`` an integer (or bool) dtype.
        finite: refuse NaN and inf; ``nonempty``: refuse zero elements.
        low, high: closed range every value must lie in (checked, never clipped).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(x)}")
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in ranks:
            want = ranks[0] if len(ranks) == 1 else f"one of {list(ranks)}"
            raise ValueError(f"{name} must have rank {want}, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if floating is True and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if floating is False and (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{name} must be an integer tensor, got {x.dtype}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if finite:
        check_finite(x, name)
    if (low is not None or high is not None) and x.numel():
        lo, hi = float(x.min()), float(x.max())
        if (low is not None and lo < low) or (high is not None and hi > high):
            raise ValueError(
                f"{name} must lie in [{'-inf' if low is None else low}, "
                f"{'inf' if high is None else high}], got values in [{lo:g}, {hi:g}]"
            )
    return x


def check_generator(
    generator: Any, name: str = "generator", *, batch: int | None = None
) -> torch.Generator | list[torch.Generator] | None:
    """``None``, a ``torch.Generator``, or a list of them (one per sample when ``batch``)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (list, tuple)):
        for i, g in enumerate(generator):
            if not isinstance(g, torch.Generator):
                raise TypeError(f"{name}[{i}] must be a torch.Generator, got {describe(g)}")
        if batch is not None and len(generator) != batch:
            raise ValueError(f"{name}: got {len(generator)} generators for a batch of {batch}")
        return list(generator)
    hint = (
        f"; for a seed, pass torch.Generator().manual_seed({generator})"
        if isinstance(generator, numbers.Integral) and not isinstance(generator, bool)
        else ""
    )
    raise TypeError(
        f"{name} must be a torch.Generator, a list of them or None, got {describe(generator)}{hint}"
    )


def check_device(device: Any, name: str = "device") -> torch.device | None:
    """``device`` (``None``, a ``torch.device`` or a string such as ``"cuda:0"``) as a
    ``torch.device``; an unknown device type is a ``ValueError`` naming ``name``."""
    if device is None or isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"{name} must be a torch.device, a string such as 'cpu' or 'cuda:0', or None, "
                        f"got {describe(device)}")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"{name} must name a torch device type such as 'cpu', 'cuda' or 'mps', "
                         f"got {device!r}") from None


def check_file(path: Any, name: str = "path", *, suffixes: Sequence[str] = ()) -> Path:
    """``path`` as a ``Path`` to an existing regular file (with one of ``suffixes``, if given)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {describe(path)}")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{name}: no file {p}")
    if not p.is_file():
        raise ValueError(f"{name}: {p} is not a regular file")
    if suffixes and not any(p.name.endswith(s) for s in suffixes):
        raise ValueError(f"{name}: {p} should end with one of {list(suffixes)}")
    return p
