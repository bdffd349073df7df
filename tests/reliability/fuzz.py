"""The contract every front-door fuzz test checks: a named error raised by polydiff, or a finite result.

``front_door(call)`` runs ``call()``. If it raises, the error must be one of the named kinds
(``ValueError``, ``TypeError``, ``FileNotFoundError``; ``FloatingPointError`` where a
computation is refused mid-way), carry a message, and be *raised by polydiff's own code*:
the innermost frame of the traceback lies in this repository, not inside torch, numpy,
RDKit or another library (an ``IndexError`` from ``torch.Tensor.__getitem__`` or a
``RuntimeError: shape mismatch`` is a crash, not a named error). If it returns, every
tensor / array / float in the result must be finite.
"""
from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, event, settings

REPO = Path(__file__).resolve().parents[2]
NAMED = (ValueError, TypeError, FileNotFoundError, FloatingPointError)
#: Bounded example counts: each domain's fuzz file stays within a few seconds of CI time.
FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _raised_by_polydiff(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    inner = Path(frames[-1].filename).resolve()
    return REPO in inner.parents and "site-packages" not in inner.parts and "tests" not in inner.parts


def assert_finite(value: Any, where: str = "result") -> None:
    """Every number reachable in ``value`` (tensors, arrays, floats, lists, dicts) is finite."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            assert torch.isfinite(value).all(), f"{where}: non-finite values in a tensor"
    elif isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            assert np.isfinite(value).all(), f"{where}: non-finite values in an array"
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where}: {value}"
    elif isinstance(value, Mapping):
        for k, v in value.items():
            assert_finite(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            assert_finite(v, f"{where}[{i}]")


def front_door(call: Callable[[], Any]) -> Any:
    """Run ``call``; return its (finite) result, or ``None`` when it raised a named error."""
    return outcome(call)[0]


def outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``(result, None)`` for a finite result, ``(None, error)`` for a named polydiff error;
    any other ending fails the test."""
    try:
        out = call()
    except NAMED as err:
        assert str(err).strip(), f"{type(err).__name__} without a message"
        assert _raised_by_polydiff(err), (
            f"{type(err).__name__} raised inside a library, not by polydiff's validation:\n"
            + "".join(traceback.format_exception(err))[-3000:])
        event(f"named {type(err).__name__}")
        return None, err
    except Exception as err:
        raise AssertionError("unnamed error from a front door:\n"
                             + "".join(traceback.format_exception(err))[-3000:]) from err
    assert_finite(out)
    event("finite result")
    return out, None
