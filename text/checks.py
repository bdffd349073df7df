"""Argument checks the text front doors share, on top of :mod:`polydiff.core.validate`:
token-id tensors, lists of texts, loss masks, one-generator samplers and configs read from
a file. Each raises ``TypeError`` / ``ValueError`` naming the argument (or the file), what
was expected and what was got."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from polydiff.core.validate import check_generator, check_tensor, describe
from torch import Tensor

__all__ = ["check_bool", "check_config_dict", "check_ids", "check_loss_mask", "check_one_generator",
           "check_texts"]


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a ``bool`` (a NumPy bool too); ``'no'``, ``1`` or ``None`` are refused."""
    if type(value).__name__ == "bool_":  # numpy.bool_
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def check_ids(ids: Any, name: str, *, vocab_size: int | None = None, ndim: int | None = 2,
              nonempty: bool = True, ranged: bool = True, long: bool = True) -> Tensor:
    """``ids`` if it is a ``torch.long`` (any integer dtype when not ``long``) tensor of token
    ids (rank ``ndim``), with ``ranged`` inside ``[0, vocab_size)`` (``[0, inf)`` without a
    ``vocab_size``)."""
    if isinstance(ids, Tensor) and (ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool):
        raise TypeError(f"{name} must be an integer tensor of token ids, got {describe(ids)}")
    if long and isinstance(ids, Tensor) and ids.dtype != torch.long:
        raise TypeError(f"{name} must be a torch.long tensor of token ids, got {describe(ids)}")
    check_tensor(ids, name, ndim=ndim, floating=False, finite=False, nonempty=nonempty)
    if nonempty and ids.ndim >= 2 and ids.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one token per row, got shape {tuple(ids.shape)}")
    if ranged and ids.numel():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or (vocab_size is not None and hi >= vocab_size):
            top = "inf" if vocab_size is None else vocab_size
            raise ValueError(f"{name} must hold token ids in [0, {top}), got values in [{lo}, {hi}]")
    return ids


def check_texts(texts: Any, name: str, *, nonempty: bool = True) -> list[str]:
    """``texts`` as a list of strings (a sequence of ``str``, not one ``str``); with
    ``nonempty``, at least one and none blank."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not one str: got {str(texts)[:60]!r}")
    if not isinstance(texts, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {describe(texts)}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str, got {describe(t)}")
        if nonempty and not t.strip():
            raise ValueError(f"{name}[{i}] must be a non-empty text, got {t!r}")
    if nonempty and len(texts) == 0:
        raise ValueError(f"{name} must hold at least one text, got an empty list")
    return list(texts)


def check_loss_mask(mask: Any, name: str, shape: Sequence[int]) -> Tensor:
    """``mask`` if it is a tensor of ``shape`` holding only 0 and 1 (bool, int or float)."""
    check_tensor(mask, name, nonempty=False)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.numel() and mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} must hold only 0 and 1, got values in "
                         f"[{float(mask.min()):g}, {float(mask.max()):g}]")
    return mask


def check_one_generator(generator: Any, name: str = "generator") -> torch.Generator | None:
    """``None`` or one ``torch.Generator`` (for samplers that draw from a single stream)."""
    g = check_generator(generator, name)
    if isinstance(g, list):
        raise TypeError(f"{name} must be one torch.Generator or None here, got a list of {len(g)}")
    return g


def check_config_dict(cls: type, data: Any, source: str, *, optional: Sequence[str] = ()) -> Any:
    """``cls(**data)`` for a dataclass ``cls``, refusing a non-mapping, a missing field or an
    unknown one with a ``ValueError`` that names the field and ``source`` (the file).

    Every field is required, defaults included (a saved config holds them all; a silent default
    would change the model), except those in ``optional``."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{source}: the {cls.__name__} must be a JSON object, got {describe(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    missing = [n for n in fields if n not in data and n not in optional]
    if missing:
        raise ValueError(f"{source}: the {cls.__name__} lacks the key(s) {missing}")
    unknown = sorted(k for k in data if k not in fields)
    if unknown:
        raise ValueError(f"{source}: unknown {cls.__name__} key(s) {unknown}; expected some of {sorted(fields)}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{source}: {e}") from None
