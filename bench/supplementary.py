"""Documents of supplementary re-runs: one comparison group, run by a script, same schema.

A script under ``scripts/`` that re-runs one group of a domain's benchmark on more data
writes its records with :func:`write_document` to ``bench/results/supplementary/``: the same
keys as ``bench/results/<domain>.json`` (docs/bench.md), with the script's own command line.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .jsonio import plain_numbers, write_json
from .machine import machine_info


def write_document(path: Path, *, domain: str, script: str, argv: Sequence[str], commit: str, started: str,
                   duration_s: float, records: Sequence[dict[str, Any]], torch_threads: int,
                   device: str = "cpu", machine: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the full-mode document of ``records`` (each stamped with ``commit``) atomically to ``path``.

    Args:
        script: the script's path from the repository root, e.g. ``scripts/x.py``.
        argv: its arguments; the command recorded is ``python <script> <argv>``.
        commit: the commit the run started from (read it before the run, not after).
        started: ISO time the run started; duration_s: its wall time.
        device: "cpu" or "cuda", recorded in ``machine``.
        machine: the machine the records were measured on, when not this one (a merge).
        extra: further top-level keys (e.g. the parts a merged document was made from).
    """
    if not records:
        raise ValueError("records is empty: a supplementary document needs at least one record")
    clash = set(extra or {}) & {"domain", "mode", "command", "commit", "date", "machine", "duration_s", "records"}
    if clash:
        raise ValueError(f"extra must not override the document's own keys {sorted(clash)}")
    doc = {"domain": domain, "mode": "full", "command": shlex.join(["python", script, *argv]),
           "commit": commit, "date": started, "machine": machine or {**machine_info(device), "torch_threads": torch_threads},
           "duration_s": round(duration_s, 3), **(extra or {}),
           "records": [plain_numbers({**r, "commit": commit, "mode": "full"}) for r in records]}
    write_json(Path(path), doc)
    return doc
