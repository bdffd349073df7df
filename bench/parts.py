"""Parts of a domain's benchmark, run alone and added to the domain's committed document.

A new comparison need not cost a rerun of a domain's whole full-mode suite. An entry that
takes ``parts=`` runs some of its parts alone through :func:`part_main` (e.g.
``python -m polydiff.bench.timeseries --full --parts pbc --json PART.json``), which writes a
document of the committed schema (``bench/results/<domain>.json``, docs/bench.md).
:func:`merge_part` then adds its records to the domain's document::

    python -m polydiff.bench.parts bench/results/timeseries.json PART.json

Records already in the document (same task, dataset, setting, method and metric) are refused,
unless ``--replace`` says the part remeasures them (a rerun of the same models, e.g. from their
cache, that adds fields): then each takes its old record's place. Every record keeps its own
``commit``, and the document's ``commands`` lists each run that contributed (command, commit,
date, duration, machine, number of records). Nothing here knows a domain.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .jsonio import write_json
from .machine import git_commit, machine_info
from .schema import record_problems

__all__ = ["merge_part", "part_main", "run_part"]

#: The fields that name one measurement: a merged document holds each at most once.
RECORD_KEY = ("task", "dataset", "setting", "method", "metric")
_RUN_FIELDS = ("command", "commit", "date", "duration_s", "machine")


def run_part(domain: str, entry: Callable[..., Any], mode: str, out_dir: Path | str, *, command: str,
             device: str = "cpu", show_progress: bool = True) -> dict[str, Any]:
    """Run ``entry`` (a domain's ``run`` with its parts bound) once and return its document.

    Raises:
        RuntimeError: the entry did not finish ``ok`` (the message says why).
    """
    from .runner import domain_document, run_domain
    from .suite import SuiteResult

    if not callable(entry):
        raise TypeError(f"entry must be a callable bench entry, got {type(entry).__name__}")
    commit = git_commit()  # the commit the run starts from
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    o = run_domain(domain, entry, mode, Path(out_dir), device, commit=commit, show_progress=show_progress)
    if o.status != "ok":
        raise RuntimeError(f"{domain} part run ended {o.status!r}: {o.message}")
    result = SuiteResult(mode, device, command, commit, machine_info(device), started,
                         time.perf_counter() - t0, [o], Path(out_dir))
    return domain_document(result, o)


def part_main(domain: str, run: Callable[..., Any], parts: Sequence[str], argv: Sequence[str] | None,
              prog: str) -> int:
    """The command line of a domain entry's parts: ``prog [--quick | --full] --parts a,b
    --json OUT.json [--out DIR] [--device cpu|cuda] [--no-progress]``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog=prog, description=f"Run some parts of the {domain} benchmark "
                                "alone and write their results document.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    p.set_defaults(mode="quick")
    p.add_argument("--parts", required=True, type=functools.partial(_part_list, known=tuple(parts)),
                   help=f"comma-separated subset of {','.join(parts)}")
    p.add_argument("--json", metavar="PATH", required=True, type=Path, help="the document to write")
    p.add_argument("--out", metavar="DIR", default=f"polydiff-bench-{domain}-parts",
                   help="folder for figures and the trained-network cache")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    command = shlex.join([*prog.split(), *argv])
    try:
        doc = run_part(domain, functools.partial(run, parts=args.parts), args.mode,
                       Path(args.out), command=command, device=args.device,
                       show_progress=not args.no_progress)
    except RuntimeError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    write_json(args.json, doc)
    print(f"{len(doc['records'])} records in {doc['duration_s']:.1f} s -> {args.json}")
    return 0


def _part_list(text: str, known: tuple[str, ...]) -> list[str]:
    names = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"parts must name some of {', '.join(known)}, got {text!r}")
    return names


def _check_document(doc: Any, name: str) -> None:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("records"), list):
        raise TypeError(f"{name} must be a results document (an object with a 'records' list), "
                        f"got {type(doc).__name__}")
    missing = [k for k in ("domain", "mode", *_RUN_FIELDS) if k not in doc]
    if missing:
        raise ValueError(f"{name} lacks the document keys {missing}")
    for i, rec in enumerate(doc["records"]):
        problems = record_problems(rec, domain=doc["domain"], with_added=True)
        if problems:
            raise ValueError(f"{name}: record {i}: " + "; ".join(problems))


def _runs(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs behind ``doc``: its ``commands``, or the one run its own keys describe."""
    if "commands" in doc:
        return [dict(c) for c in doc["commands"]]
    return [{**{k: doc[k] for k in _RUN_FIELDS}, "records": len(doc["records"])}]


def merge_part(doc: Mapping[str, Any], part: Mapping[str, Any], replace: bool = False) -> dict[str, Any]:
    """``doc`` with the records of ``part`` (same domain and mode) added after its own.

    The top-level command, commit and machine stay ``doc``'s; ``commands`` lists the runs of
    both. Raises ``ValueError`` when ``part`` holds a measurement twice, or one ``doc`` already
    has unless ``replace``: then the part's record takes the place of the document's.
    """
    _check_document(doc, "doc")
    _check_document(part, "part")
    for key in ("domain", "mode"):
        if doc[key] != part[key]:
            raise ValueError(f"part's {key} is {part[key]!r}, the document's {doc[key]!r}: "
                             "only parts of the same domain and mode merge")
    if not isinstance(replace, bool):
        raise TypeError(f"replace must be a bool, got {type(replace).__name__}")
    have = {tuple(r[k] for k in RECORD_KEY): r["commit"] for r in doc["records"]}
    new: dict[tuple, dict] = {}
    clashes = []
    for r in part["records"]:
        key = tuple(r[k] for k in RECORD_KEY)
        if key in new or (key in have and not replace):
            clashes.append(f"{'/'.join(map(str, key))} (commit {have.get(key, r['commit'])})")
        new[key] = dict(r)
    if clashes:
        raise ValueError(f"{len(clashes)} part record(s) measure what the document already holds: "
                         f"{'; '.join(clashes[:3])}{' ...' if len(clashes) > 3 else ''}")
    out = {k: v for k, v in doc.items() if k not in ("commands", "records")}
    runs = _runs(doc)
    records = []
    for r in doc["records"]:
        key = tuple(r[k] for k in RECORD_KEY)
        if key in new:
            _uncount(runs, r["commit"])
            records.append(new.pop(key))
        else:
            records.append(dict(r))
    out["commands"] = [run for run in runs if run["records"] > 0] + _runs(part)
    out["records"] = records + list(new.values())  # what is left is new
    return out


def _uncount(runs: list[dict[str, Any]], commit: str) -> None:
    """One record of the run at ``commit`` was replaced: it no longer holds it (a run left with
    none drops out of ``commands``)."""
    for run in runs:
        if run["commit"] == commit and run["records"] > 0:
            run["records"] -= 1
            return


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m polydiff.bench.parts DOC.json PART.json [PART.json ...] [--out PATH] [--replace]``:
    add the parts' records to ``DOC.json`` (in place unless ``--out``)."""
    p = argparse.ArgumentParser(prog="python -m polydiff.bench.parts",
                                description="Add part documents' records to a domain's results document.")
    p.add_argument("doc", type=Path, help="the domain's document, e.g. bench/results/timeseries.json")
    p.add_argument("parts", type=Path, nargs="+", help="part documents (from an entry's --parts run)")
    p.add_argument("--out", type=Path, help="write here instead of over DOC")
    p.add_argument("--replace", action="store_true",
                   help="a part's record replaces the document's record of the same measurement")
    args = p.parse_args(argv)
    try:
        doc = json.loads(args.doc.read_text())
        for path in args.parts:
            doc = merge_part(doc, json.loads(path.read_text()), replace=args.replace)
    except (OSError, ValueError, TypeError) as e:
        print(f"python -m polydiff.bench.parts: {e}", file=sys.stderr)
        return 1
    write_json(args.out or args.doc, doc)
    print(f"{len(doc['records'])} records -> {args.out or args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
