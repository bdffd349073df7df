"""The core engine's entry in the benchmark suite (placeholder until issue 3 lands)."""
from __future__ import annotations

import pathlib
from collections.abc import Callable


def run(mode: str, out_dir: pathlib.Path, device: str = "cpu",
        progress: Callable[[str], None] | None = None) -> list[dict]:
    """Benchmark the solvers of ``polydiff.core`` (see ``polydiff.bench.runner``)."""
    raise NotImplementedError("core benchmark lands with issue 3")
