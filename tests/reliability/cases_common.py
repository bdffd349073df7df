"""What every catalogue module shares: the case record, a path that does not exist, and the
``polydiff`` command called in-process."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    api: str
    problem: str
    call: Callable[[], object]
    error: type
    match: str


#: A path that does not exist: loaders of download-only datasets must say how to provide the files.
MISSING = Path("/nonexistent/polydiff-data")


def polydiff_cli(*argv):
    """``polydiff argv...`` in this process (its exit status, or the SystemExit it raises)."""
    from polydiff.bench.cli import main
    return main(list(argv))
