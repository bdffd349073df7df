"""Does a quick run reach the full run's conclusions? (issue 11: quick mode must preserve the
full mode's qualitative conclusions, or say which it cannot).

A conclusion is the ordering of methods within a group (domain, task, dataset, setting,
metric). A quick run is compared with the committed full-mode records of the same groups:
for every group present in both, the best method and every pairwise order of the methods
present in both are checked.

Two optional record fields say how a quick record is read (docs/design.md, record schema):

- ``counterpart``: ``{"setting": ..., "method": ...}`` (and ``"dataset"`` where it differs): the
  full-mode group and method this record stands for. Quick mode's ``shipped-pipelines``
  records (the full-mode models, applied to the same held-out data or part of it) carry one,
  so their orderings are checked against the full-mode numbers of the same models and
  baselines.
- ``check: "training"``: a model trained from scratch within the quick run (minutes), a check
  that training works rather than a conclusion; such groups are compared too, but counted
  apart (:attr:`Agreement.training`), so that the headline says whether quick mode's
  conclusions hold.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import counterpart_problem, group_records


@dataclass
class Agreement:
    """Outcome of comparing a run with reference (full-mode) records."""

    compared: int = 0
    same_best: int = 0
    pairs: int = 0
    same_pairs: int = 0
    unmatched: int = 0
    disagreements: list[str] = field(default_factory=list)
    tied_best: int = 0  # of same_best: the two methods' 95% intervals overlap in this run
    tied_pairs: int = 0  # of same_pairs: likewise
    training: Agreement | None = None  # the groups of quick mode's from-scratch training checks

    def summary(self) -> str:
        """One sentence for the report and the console."""
        if not self.compared:
            s = (f"no group of this run has full-mode results to compare with "
                 f"({self.unmatched} group(s) unmatched)")
        else:
            s = (f"{self.same_best}/{self.compared} groups pick the same best method as full mode; "
                 f"{self.same_pairs}/{self.pairs} pairwise orders agree")
            if self.tied_best or self.tied_pairs:
                s += (f" ({self.tied_best} best-method and {self.tied_pairs} pairwise agreements are orders this "
                      "run cannot tell apart: overlapping 95% intervals)")
            if self.unmatched:
                s += f"; {self.unmatched} group(s) have no full-mode counterpart"
        if self.training is not None and (self.training.compared or self.training.unmatched):
            t = self.training
            s += (f". Training checks (models trained from scratch in this run, not conclusions): "
                  f"{t.same_best}/{t.compared} groups pick the same best method as full mode")
            if t.unmatched:
                s += f", {t.unmatched} without a full-mode counterpart"
        return s


def _oriented(r: Mapping[str, Any]) -> float:
    return float(r["value"]) if r["higher_is_better"] else -float(r["value"])


def as_counterpart(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """``record`` as the full-mode record it stands for (its ``counterpart``'s dataset, setting
    and method; itself when it has none).

    Raises:
        ValueError: ``counterpart`` is not a dict naming at least a ``setting`` and a ``method``.
    """
    c = record.get("counterpart")
    if c is None:
        return record
    if problem := counterpart_problem(c):
        raise ValueError(f"record {record.get('method')!r}: {problem}")
    return {**record, **c}


def compare(run: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]]) -> Agreement:
    """Compare the method orderings of ``run`` with those of ``reference``, group by group
    (records with a ``counterpart`` under the full-mode group and method it names; groups of
    ``check: "training"`` records counted in :attr:`Agreement.training`).

    Ties (equal values) count as agreeing with either order, and so do two records of the run
    whose 95% intervals overlap (:func:`overlapping`; counted in ``tied_best``/``tied_pairs``).
    """
    mapped = [as_counterpart(r) for r in run]
    out = _compare([r for r in mapped if r.get("check") != "training"], reference)
    out.training = _compare([r for r in mapped if r.get("check") == "training"], reference)
    return out


def _compare(run: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]]) -> Agreement:
    ref = group_records(reference)
    out = Agreement()
    for key, group in group_records(run).items():
        if key not in ref:
            out.unmatched += 1
            continue
        mine = {r["method"]: _oriented(r) for r in group}
        mine_rec = {r["method"]: r for r in group}
        theirs = {r["method"]: _oriented(r) for r in ref[key]}
        common = [m for m in mine if m in theirs]
        if len(common) < 2:
            out.unmatched += 1
            continue
        out.compared += 1
        best_mine = max(common, key=mine.__getitem__)
        best_theirs = max(common, key=theirs.__getitem__)
        label = " · ".join(key[1:])
        if best_mine == best_theirs or mine[best_mine] == mine[best_theirs]:
            out.same_best += 1
        elif overlapping(mine_rec[best_mine], mine_rec[best_theirs]):
            out.same_best += 1
            out.tied_best += 1
        else:
            out.disagreements.append(f"{label}: best is {best_mine} here, {best_theirs} in full mode")
        for i, a in enumerate(common):
            for b in common[i + 1:]:
                out.pairs += 1
                d_mine, d_theirs = mine[a] - mine[b], theirs[a] - theirs[b]
                if d_mine * d_theirs >= 0:
                    out.same_pairs += 1
                elif overlapping(mine_rec[a], mine_rec[b]):
                    out.same_pairs += 1
                    out.tied_pairs += 1
    return out


def overlapping(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two records of a run carry 95% intervals (``ci_low``/``ci_high``) that overlap:
    the run cannot order them, so either order agrees with full mode's."""
    keys = ("ci_low", "ci_high")
    if not all(k in r and r[k] is not None for r in (a, b) for k in keys):
        return False
    return a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]


def load_reference(results_dir: Path, domains: Sequence[str]) -> list[dict[str, Any]]:
    """Committed full-mode records of ``domains`` (missing or unreadable files are skipped)."""
    records: list[dict[str, Any]] = []
    for d in domains:
        path = Path(results_dir) / f"{d}.json"
        try:
            records += json.loads(path.read_text())["records"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records
