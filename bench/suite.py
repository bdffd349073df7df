"""What a benchmark suite is made of: the domains' entries, where committed results live, and
the outcome of a run. Kept apart from :mod:`~polydiff.bench.runner` (which runs a suite) and
:mod:`~polydiff.bench.report` / :mod:`~polydiff.bench.readme_table` (which read one), so that
none of them imports another in a circle.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .compare import Agreement

__all__ = ["DOMAINS", "ENTRIES", "QUICK_BUDGET_S", "RESULTS_DIR", "STATUSES", "DomainOutcome",
           "SuiteResult"]

#: Where each domain's entry lives. Tests and plug-ins may pass their own mapping.
ENTRIES: dict[str, str] = {
    "core": "polydiff.bench.core_bench:run",
    "vision": "polydiff.bench.vision:run",
    "text": "polydiff.bench.text_tasks:run",
    "timeseries": "polydiff.bench.timeseries:run",
    "molecules": "polydiff.bench.molecules:run",
    "robustness": "polydiff.bench.robustness:run",
}
DOMAINS: tuple[str, ...] = tuple(ENTRIES)
#: Committed full-mode results: ``bench/results/<domain>.json`` in the source tree.
RESULTS_DIR = Path(__file__).resolve().parent / "results"
STATUSES = ("ok", "skipped", "not available", "error")
#: Quick mode's budget for all domains together on 2 CPU cores (issue 11).
QUICK_BUDGET_S = 20 * 60

Entry = Callable[..., Any]


@dataclass
class DomainOutcome:
    """What happened to one domain: status, message, wall time, records and figures."""

    domain: str
    status: str
    message: str = ""
    seconds: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    torch_threads: int | None = None  # what the domain ran with (entries may pin their own)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description without the records."""
        return {"domain": self.domain, "status": self.status, "message": self.message,
                "seconds": round(self.seconds, 3), "n_records": len(self.records),
                "figures": self.figures}


@dataclass
class SuiteResult:
    """Everything one ``polydiff bench`` run produced."""

    mode: str
    device: str
    command: str
    commit: str
    machine: dict[str, Any]
    started: str
    duration_s: float
    outcomes: list[DomainOutcome]
    out_dir: Path
    agreement: Agreement | None = None  # quick mode vs the committed full-mode results

    @property
    def records(self) -> list[dict[str, Any]]:
        """All valid records of all domains, in run order."""
        return [r for o in self.outcomes for r in o.records]

    def to_json(self) -> dict[str, Any]:
        """The ``results.json`` document."""
        return {"mode": self.mode, "device": self.device, "command": self.command,
                "commit": self.commit, "machine": self.machine, "started": self.started,
                "duration_s": round(self.duration_s, 3),
                "domains": [o.summary() for o in self.outcomes],
                "agreement_with_full": asdict(self.agreement) if self.agreement else None,
                "records": self.records}
