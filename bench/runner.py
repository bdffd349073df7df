"""Runs the domains' benchmark entries and writes what they measured.

Each domain plugs in through one function (the contract in docs/design.md)::

    def run(mode: str, out_dir: pathlib.Path, device: str = "cpu", progress=None) -> list[dict]

:data:`ENTRIES` names it per domain as ``"module:function"``; the module is imported only when
that domain runs, so a missing extra touches nothing else. Every domain ends in one of four
states:

- ``ok`` — it returned valid records (``commit`` and ``mode`` are added to each);
- ``skipped`` — its extra is not installed (an ``ImportError`` whose message is the
  ``pip install "polydiff[...]"`` line, which the report repeats);
- ``not available`` — it has no ``bench`` module yet, or its entry raises ``NotImplementedError``;
- ``error`` — it raised, or returned invalid records; the others still run.

Outputs under ``out_dir``: ``results.json``, ``report.md``, ``summary-<domain>.png``, and each
domain's own files (figures, ``cache/``) under ``out_dir/<domain>/``. Full mode also writes
``<results_dir>/<domain>.json`` (committed under ``bench/results/``) with the command, commit,
machine and duration.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .compare import compare, load_reference
from .jsonio import plain_numbers, write_json
from .machine import git_commit, machine_info
from .schema import MODES, record_problems

# The suite's constants live in .suite (report and readme_table read them too); re-exported here.
from .suite import (
    DOMAINS,
    ENTRIES,
    QUICK_BUDGET_S,
    RESULTS_DIR,
    STATUSES,
    DomainOutcome,
    Entry,
    SuiteResult,
)

__all__ = ["DOMAINS", "ENTRIES", "QUICK_BUDGET_S", "RESULTS_DIR", "STATUSES", "DomainOutcome",
           "SuiteResult", "domain_document", "run_domain", "run_suite", "write_committed_results"]


class _Unavailable(Exception):
    """A domain that cannot run here: ``status`` is "skipped" or "not available"."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _pip_line(err: BaseException) -> str | None:
    """The ``pip install ...`` line of a missing-extra ImportError (following its causes)."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ImportError) and str(e).startswith("pip install"):
            return str(e)
        e = e.__cause__ or e.__context__
    return None


def load_entry(spec: str | Entry) -> Entry:
    """Import ``"module:function"`` (or pass a callable through).

    Raises:
        _Unavailable: the extra is missing ("skipped") or the module/function does not exist
            yet ("not available").
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"a bench entry must be 'module:function' or a callable, got {spec!r}")
    module, _, attr = spec.partition(":")
    attr = attr or "run"
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        line = _pip_line(e)
        if line:
            raise _Unavailable("skipped", line) from e
        missing = getattr(e, "name", None)
        if isinstance(e, ModuleNotFoundError) and missing and (
                module == missing or module.startswith(missing + ".")):
            raise _Unavailable("not available", f"{module} does not exist yet") from e
        raise
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise _Unavailable("not available", f"{module} defines no {attr}() yet")
    return fn


def _figures(dom_out: Path) -> list[str]:
    """PNG files a domain wrote, relative to the suite's output folder (cache excluded)."""
    if not dom_out.is_dir():
        return []
    return sorted(str(p.relative_to(dom_out.parent)) for p in dom_out.rglob("*.png")
                  if "cache" not in p.relative_to(dom_out).parts)


class _ProgressBar:
    """``progress(stage)`` for one domain: a tqdm bar on stderr, opened at the first stage."""

    def __init__(self, domain: str, enabled: bool) -> None:
        self.domain, self.enabled, self.bar = domain, enabled, None

    def __call__(self, stage: str) -> None:
        if not isinstance(stage, str):
            raise TypeError(f"progress(stage) takes a str, got {type(stage).__name__}")
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=f"{self.domain:<10}", unit="stage", total=None,
                            file=sys.stderr, disable=not self.enabled, leave=True,
                            dynamic_ncols=True)
        self.bar.set_postfix_str(stage[:60], refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_domain(domain: str, spec: str | Entry, mode: str, out_dir: Path, device: str = "cpu",
               *, commit: str = "unknown", show_progress: bool = True) -> DomainOutcome:
    """Run one domain's entry and turn whatever happens into a :class:`DomainOutcome`.

    The entry gets ``out_dir / domain`` as its folder (figures, ``cache/``). Its records are
    validated (docs/design.md schema, ``domain`` must match); invalid ones are dropped and the
    domain is reported as an error naming them. ``KeyboardInterrupt`` is not caught.
    """
    dom_out = Path(out_dir) / domain
    t0 = time.perf_counter()
    try:
        fn = load_entry(spec)
    except _Unavailable as u:
        return DomainOutcome(domain, u.status, str(u))
    except Exception as e:  # noqa: BLE001 - a broken module is reported; the others still run
        return DomainOutcome(domain, "error", _describe(e), time.perf_counter() - t0)
    dom_out.mkdir(parents=True, exist_ok=True)
    progress = _ProgressBar(domain, show_progress)
    threads = _torch_threads()
    ran_with = None
    quiet = None if show_progress else os.environ.get("TQDM_DISABLE")
    if not show_progress:
        os.environ["TQDM_DISABLE"] = "1"  # the domains' training bars too, not only the suite's
    try:
        raw = fn(mode, dom_out, device, progress)
        ran_with = _torch_threads()
    except NotImplementedError as e:
        return DomainOutcome(domain, "not available", str(e) or "entry not implemented yet",
                             time.perf_counter() - t0)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - reported; the others still run
        line = _pip_line(e)
        status, msg = ("skipped", line) if line else ("error", _describe(e))
        if status == "error":
            (dom_out / "error.txt").write_text(traceback.format_exc())
        return DomainOutcome(domain, status, msg, time.perf_counter() - t0)
    finally:
        progress.close()
        _torch_threads(threads)  # a domain's thread setting must not slow the next one
        if not show_progress:
            if quiet is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = quiet
    seconds = time.perf_counter() - t0
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return DomainOutcome(domain, "error", f"run() must return a list of records, got "
                             f"{type(raw).__name__}", seconds, figures=_figures(dom_out))
    records, bad = [], []
    for i, rec in enumerate(raw):
        rec = plain_numbers(rec)
        problems = record_problems(rec, domain=domain)
        if problems:
            bad.append(f"record {i}: " + "; ".join(problems))
        else:
            records.append({**rec, "commit": commit, "mode": mode})
    status, msg = "ok", ""
    if bad:
        status, msg = "error", f"{len(bad)} invalid record(s): " + " | ".join(bad[:3])
    elif not records:
        status, msg = "error", "run() returned no records"
    return DomainOutcome(domain, status, msg, seconds, records, _figures(dom_out), ran_with)


def _torch_threads(n: int | None = None) -> int | None:
    """torch's intra-op thread count (set it when ``n`` is given); None without torch loaded."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def _describe(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


def _check_args(mode: str, device: str, domains: Sequence[str], entries: Mapping[str, Any]) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    unknown = [d for d in domains if d not in entries]
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; known: {', '.join(entries)}")
    if not domains:
        raise ValueError("no domains to run")


def run_suite(mode: str = "quick", domains: Sequence[str] | None = None,
              out_dir: Path | str = "polydiff-bench", device: str = "cpu", *,
              entries: Mapping[str, str | Entry] | None = None, json_path: Path | str | None = None,
              results_dir: Path | str | None = None, command: str | None = None,
              show_progress: bool = True, log: Callable[[str], None] | None = print) -> SuiteResult:
    """Run the domains one after another and write ``results.json``, ``report.md`` and PNGs.

    Args:
        mode: "quick" (minutes on a laptop CPU) or "full" (the committed results).
        domains: which domains to run (default: all of ``entries``), in this order.
        out_dir: output folder; created if needed.
        device: "cpu" or "cuda[:N]", passed to every entry.
        entries: domain -> ``"module:function"`` or callable (default :data:`ENTRIES`).
        json_path: also write the results document here.
        results_dir: full mode writes ``<results_dir>/<domain>.json`` for every domain that
            finished ok (default :data:`RESULTS_DIR`).
        command: the command line recorded in the outputs.
        show_progress: tqdm bars on stderr.
        log: called with one line per finished domain (``None``: silent).
    """
    from .report import write_report, write_summary_pngs  # matplotlib stays lazy

    entries = dict(ENTRIES if entries is None else entries)
    domains = list(entries if domains is None else domains)
    _check_args(mode, device, domains, entries)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    commit = git_commit()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    command = command or f"polydiff bench --{mode} --domains {','.join(domains)} --device {device}"
    t0 = time.perf_counter()
    machine = machine_info(device)
    result = SuiteResult(mode, device, command, commit, machine, started, 0.0, [], out)
    for domain in domains:
        o = run_domain(domain, entries[domain], mode, out, device, commit=commit,
                       show_progress=show_progress)
        result.outcomes.append(o)
        result.duration_s = time.perf_counter() - t0
        write_json(out / "results.json", result.to_json())  # kept current: a crash loses little
        if log:
            note = f" — {o.message}" if o.message else ""
            log(f"[{domain}] {o.status}: {len(o.records)} records in {o.seconds:.1f} s{note}")
    results_dir = Path(results_dir) if results_dir else RESULTS_DIR
    if mode == "quick":
        result.agreement = compare(result.records, load_reference(results_dir, domains))
        write_json(out / "results.json", result.to_json())
    if json_path is not None:
        write_json(Path(json_path), result.to_json())
    summaries = write_summary_pngs(result)
    write_report(result, out / "report.md", summaries)
    if mode == "full" and write_committed_results(result, results_dir):
        _refresh_readme(results_dir, log)
    return result


def _refresh_readme(results_dir: Path, log: Callable[[str], None] | None) -> None:
    """In a source checkout, regenerate README.md's results table from the committed files."""
    from . import readme_table

    readme = readme_table.README
    if results_dir.resolve() != RESULTS_DIR or not readme.exists():
        return
    if readme_table.START not in readme.read_text():
        return
    readme_table.main(["--readme", str(readme), "--results-dir", str(results_dir)])
    if log:
        log(f"updated the results table of {readme}")


def domain_document(result: SuiteResult, outcome: DomainOutcome) -> dict[str, Any]:
    """The document of one domain of ``result`` (``bench/results/<domain>.json``'s schema):
    domain, mode, command, commit, date, machine (with the domain's torch threads), duration
    and records."""
    o = outcome
    return {"domain": o.domain, "mode": result.mode, "command": result.command,
            "commit": result.commit, "date": result.started,
            "machine": {**result.machine, "torch_threads": o.torch_threads or result.machine.get("torch_threads")},
            "duration_s": round(o.seconds, 3), "records": o.records}


def write_committed_results(result: SuiteResult, results_dir: Path) -> list[Path]:
    """Write ``<results_dir>/<domain>.json`` for every domain that finished ok (full mode)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for o in result.outcomes:
        if o.status != "ok":
            continue
        path = results_dir / f"{o.domain}.json"
        write_json(path, domain_document(result, o))
        written.append(path)
    return written
