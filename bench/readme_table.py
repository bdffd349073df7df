"""Generates the README's results table from the committed ``bench/results/*.json``.

The table lives between ``<!-- results:start -->`` and ``<!-- results:end -->`` in README.md
and is never typed by hand (a result file's optional ``"note"`` is printed under its
provenance line, e.g. to say that its numbers predate changes to the code)::

    python -m polydiff.bench.readme_table            # rewrite the README section
    python -m polydiff.bench.readme_table --check    # exit 1 if the README is stale

A test runs the check, so a README whose numbers differ from the result files fails CI.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .report import compact_group, metric_label
from .schema import SELF_CHECKED, group_records, record_problems
from .suite import DOMAINS, RESULTS_DIR

START, END = "<!-- results:start -->", "<!-- results:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"


def load_results(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """The committed result documents, in the suite's domain order, each validated."""
    docs = []
    for path in sorted(Path(results_dir).glob("*.json")):
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
            raise TypeError(f"{path}: expected an object with a 'records' list")
        for key in ("domain", "command", "commit", "machine", "duration_s"):
            if key not in doc:
                raise ValueError(f"{path}: missing key {key!r}")
        for i, rec in enumerate(doc["records"]):
            problems = record_problems(rec, domain=doc["domain"], with_added=True)
            if problems:
                raise ValueError(f"{path}: record {i}: " + "; ".join(problems))
        docs.append(doc)
    order = {d: i for i, d in enumerate(DOMAINS)}
    return sorted(docs, key=lambda d: (order.get(d["domain"], len(order)), d["domain"]))


def _provenance(doc: dict[str, Any]) -> str:
    """Command, commit, duration and machine of the run behind ``doc``; a document merged from
    parts (:mod:`.parts`) names each run and how many records it gave."""
    if doc.get("commands"):
        return "; ".join(f"{_run(r)} ({r['records']} records)" for r in doc["commands"])
    return _run(doc)


def _run(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    threads = m.get("torch_threads", "?")
    return (f"`{doc['command']}` at commit `{doc['commit']}`, "
            f"{float(doc['duration_s']):.0f} s on {m.get('cpu', '?')} "
            f"({threads} torch thread{'' if threads == 1 else 's'}{gpu})")


def _unchecked_note(doc: dict[str, Any]) -> list[str]:
    """A line for a document of a domain that checks itself whose records predate the checks."""
    if doc["domain"] not in SELF_CHECKED or all("valid" in r for r in doc["records"]
                                                if r["metric"].endswith("accuracy")):
        return []
    note = (f"These {doc['domain']} results predate the bench's self-checks (no `valid`/`problems` on "
            "their records: baseline strength, gradient masking, attack convergence were not checked), "
            "so no method is marked best; rerun the full bench to replace them.")
    return [note, ""]


def _domain_table(doc: dict[str, Any]) -> list[str]:
    lines = [*_unchecked_note(doc),
             "| task | dataset | setting | metric | methods (bold: best of the valid, ranked results; notes in brackets) |",
             "|---|---|---|---|---|"]
    for (_, task, dataset, setting, _), group in group_records(doc["records"]).items():
        cells = [task, dataset, setting, metric_label(group), compact_group(group)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def render_table(docs: Sequence[dict[str, Any]]) -> str:
    """Markdown for the README section: per domain, a folded table with one row per compared
    group (task, dataset, setting, metric) and the command, commit and machine behind it."""
    if not docs:
        return ("No full-mode results are committed yet: `polydiff bench --full` writes "
                "`bench/results/<domain>.json`, then `python -m polydiff.bench.readme_table` "
                "fills this table.")
    lines: list[str] = []
    for doc in docs:
        n = len(group_records(doc["records"]))
        lines += [f"<details><summary><b>{doc['domain']}</b>: {n} comparisons</summary>", "",
                  f"Measured by {_provenance(doc)}.", ""]
        if doc.get("note"):  # what a reader must know about these numbers (e.g. that they are stale)
            lines += [f"**Note:** {doc['note']}", ""]
        if doc["domain"] == "core":  # ~190 solver records: the core bench summarises them
            from .core_bench import summary_markdown

            lines += [("Solver error vs the exact probability-flow solution on Gaussian "
                       "mixtures, and sampling-loop overhead; all records in "
                       "`bench/results/core.json`:"), "", summary_markdown(doc["records"])]
        else:
            lines += _domain_table(doc)
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip()


def splice(readme_text: str, table: str) -> str:
    """``readme_text`` with the part between the markers replaced by ``table``."""
    if readme_text.count(START) != 1 or readme_text.count(END) != 1:
        raise ValueError(f"README must contain {START} and {END} exactly once each")
    head, rest = readme_text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or ``--check``) the README's results table; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m polydiff.bench.readme_table",
                                description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    text = args.readme.read_text()
    new = splice(text, render_table(load_results(args.results_dir)))
    if args.check:
        if new != text:
            print(f"{args.readme} is stale: run python -m polydiff.bench.readme_table",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
