"""Files that appear whole or not at all: write under a hidden temporary name beside the target
(same file system, so the final ``os.replace`` is atomic), rename when the block ends without
an error, remove the temporary file otherwise. Files are created with ``open`` and so get the
umask's permissions, as a plain write would."""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_file", "atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary path ``.<name>.<pid>-<hex>.part`` beside ``path`` for the block to
    write; renamed to ``path`` when the block succeeds, deleted when it raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful rename


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` that becomes ``path`` only when the block succeeds (``mode`` "w"
    or "wb"; the temporary file is opened exclusively)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode.replace("w", "x"), **kwargs) as f:
        yield f
