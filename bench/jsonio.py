"""JSON for benchmark records: plain Python numbers in, atomic files out."""
from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def plain_numbers(rec: Any) -> Any:
    """numpy scalars (``np.float32`` values, ``np.int64`` counts) as Python numbers.

    numpy registers its scalars with :mod:`numbers`, so this needs no numpy import; bools and
    anything else are left for the schema check to judge.
    """
    if not isinstance(rec, Mapping):
        return rec
    out = dict(rec)
    for key in ("value", "seconds"):
        v = out.get(key)
        if isinstance(v, numbers.Real) and not isinstance(v, (bool, int, float)):
            out[key] = float(v)
    for key in ("nfe", "n"):
        v = out.get(key)
        if isinstance(v, numbers.Integral) and not isinstance(v, (bool, int)):
            out[key] = int(v)
    return out


def _default(obj: Any) -> Any:
    """Extra record fields a domain added (paths, numpy scalars) written as plain JSON."""
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    return str(obj)


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` as indented JSON, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_default) + "\n")
    tmp.replace(path)
