"""Pickle-free serialisation of training state: safetensors for tensors, JSON for the rest.

Nested state (an optimizer's ``state_dict``, RNG states) is split by :func:`flatten_state`
into a flat ``{key: Tensor}`` dict (for safetensors) and a JSON tree in which every tensor
is replaced by ``{"__tensor__": key}``; :func:`unflatten_state` puts them back together.
Readers (:func:`read_safetensors`, :func:`read_json`) never unpickle and turn every problem
(a pickle in place of the file, truncation, bad header) into a :class:`CheckpointError`
naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

__all__ = [
    "CheckpointError",
    "flatten_state",
    "fsync_dir",
    "read_json",
    "read_safetensors",
    "tensors_to_bytes",
    "unflatten_state",
    "write_file",
]

# Test hook: seconds to sleep after each file written (makes a checkpoint write slow enough
# for a test to SIGKILL the writer in the middle of it).
WRITE_DELAY_ENV = "POLYDIFF_CKPT_WRITE_DELAY"


class CheckpointError(ValueError):
    """A checkpoint file is missing, not what it claims to be, or does not fit the network."""


# --- nested state <-> (tensors, JSON) --------------------------------------------------------
def flatten_state(obj: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split ``obj`` (dicts, lists, tuples, tensors, JSON scalars) into tensors and JSON.

    Dicts with non-string keys (an optimizer's integer parameter ids) and tuples are encoded
    as ``{"__items__": [[k, v], ...]}`` and ``{"__tuple__": [...]}`` so that they round-trip
    exactly.
    """
    tensors: dict[str, torch.Tensor] = {}

    def enc(o: Any, path: str) -> Any:
        if isinstance(o, torch.Tensor):
            key = path if path not in tensors else f"{path}#{len(tensors)}"
            tensors[key] = o.detach().to("cpu").contiguous()
            return {"__tensor__": key}
        if isinstance(o, dict):
            plain = all(isinstance(k, str) and not k.startswith("__") for k in o)
            if plain:
                return {k: enc(v, f"{path}.{k}") for k, v in o.items()}
            for k in o:
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise TypeError(f"flatten_state: dict key {k!r} at {path} is not a JSON scalar")
            return {"__items__": [[k, enc(v, f"{path}.{k}")] for k, v in o.items()]}
        if isinstance(o, tuple):
            return {"__tuple__": [enc(v, f"{path}.{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [enc(v, f"{path}.{i}") for i, v in enumerate(o)]
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        raise TypeError(
            f"flatten_state: cannot serialise {type(o).__name__} at {path} without pickle"
        )

    return tensors, enc(obj, prefix)


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """Inverse of :func:`flatten_state`; a tensor key absent from ``tensors`` is an error."""

    def dec(o: Any) -> Any:
        if isinstance(o, dict):
            if set(o) == {"__tensor__"}:
                key = o["__tensor__"]
                if key not in tensors:
                    raise CheckpointError(f"{where}: missing tensor {key!r}")
                return tensors[key]
            if set(o) == {"__items__"}:
                return {k: dec(v) for k, v in o["__items__"]}
            if set(o) == {"__tuple__"}:
                return tuple(dec(v) for v in o["__tuple__"])
            return {k: dec(v) for k, v in o.items()}
        if isinstance(o, list):
            return [dec(v) for v in o]
        return o

    return dec(tree)


def tensor_keys(tree: Any) -> set[str]:
    """The tensor keys a JSON tree from :func:`flatten_state` refers to."""
    out: set[str] = set()

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            if set(o) == {"__tensor__"}:
                out.add(o["__tensor__"])
            else:
                for v in o.values():
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(tree)
    return out


# --- writing ---------------------------------------------------------------------------------
def tensors_to_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """safetensors bytes of CPU-contiguous copies; tensors sharing storage (tied weights)
    are cloned so that each key owns its data."""
    seen: set[tuple[int, int]] = set()
    out: dict[str, torch.Tensor] = {}
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"tensors_to_bytes: value of {k!r} is {type(v).__name__}, not a Tensor")
        v = v.detach().to("cpu").contiguous()
        ident = (v.untyped_storage().data_ptr(), v.storage_offset()) if v.numel() else (id(v), 0)
        if ident in seen or v.untyped_storage().nbytes() != v.numel() * v.element_size():
            v = v.clone()
        seen.add(ident)
        out[k] = v
    return st_save(out, metadata={"format": "pt"})


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` and fsync it (durable before the directory that holds it is renamed)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    delay = os.environ.get(WRITE_DELAY_ENV)
    if delay:
        time.sleep(float(delay))


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames inside it are durable (no-op where unsupported)."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open directories
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading ---------------------------------------------------------------------------------
def _sniff_pickle(path: Path, head: bytes) -> None:
    if head[:4] == b"PK\x03\x04":
        raise CheckpointError(
            f"{path}: is a zip archive (torch.save/pickle format); "
            "refusing to unpickle, expected safetensors/JSON"
        )
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        raise CheckpointError(
            f"{path}: is a Python pickle (protocol {head[1]}); refusing to unpickle"
        )


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file without ever unpickling; problems raise :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a safetensors file")
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    data = path.read_bytes()
    _sniff_pickle(path, data[:16])
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated ({len(data)} bytes, no safetensors header)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise CheckpointError(
            f"{path}: truncated (header declares {n} bytes, "
            f"file has {len(data) - 8} after the size)"
        )
    if data[8:9] != b"{":
        raise CheckpointError(f"{path}: not a safetensors file (no JSON header)")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as e:
        raise CheckpointError(f"{path}: corrupt safetensors header ({e})") from None
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    if ends and max(ends) > len(data) - 8 - n:
        raise CheckpointError(
            f"{path}: truncated (tensor data needs {max(ends)} bytes, "
            f"file holds {len(data) - 8 - n})"
        )
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupt safetensors file ({e})") from None


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing, pickled or truncated file raises :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a JSON file")
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    data = path.read_bytes()
    _sniff_pickle(path, data[:16])
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON, truncated or corrupt ({e})") from None
