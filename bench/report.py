"""Human-readable views of benchmark records: ``report.md``, summary PNGs, console lines.

Records are compared within their group (domain, task, dataset, setting, metric); the best
value among the records that may be ranked (:func:`~.schema.rankable`: valid, not one of a sweep
tried on the test data, not a sanity reading) is marked, and a group holding a single method is
flagged because a number without a baseline or peer beside it says nothing. A record's
problems, its attack-convergence check and its paired differences are printed beside it
(:func:`record_notes`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import best_index, best_indices, group_records, has_peer

if TYPE_CHECKING:
    from .suite import SuiteResult

NO_PEER = "no baseline/peer in this group"


def fmt_value(v: float) -> str:
    """A value with 4 significant digits (``0.01234``, ``12.35``, ``1.235e+05``)."""
    return f"{float(v):.4g}"


def fmt_record_value(r: Mapping[str, Any]) -> str:
    """A record's value and, when it carries one, its 95% interval: ``47.25 (CI 43.9–50.6)``."""
    s = fmt_value(r["value"])
    if r.get("ci_low") is not None and r.get("ci_high") is not None:
        s += f" (CI {fmt_value(r['ci_low'])}–{fmt_value(r['ci_high'])})"
    return s


def _by_value(group: Sequence[Mapping[str, Any]], first: set[int]) -> list[int]:
    """Indices of ``group``: ``first`` (the best), then the rest best to worst when the group agrees
    on ``higher_is_better``, else in record order."""
    dirs = {bool(r["higher_is_better"]) for r in group}
    sign = (-1.0 if dirs == {True} else 1.0) if len(dirs) == 1 else 0.0
    return sorted(range(len(group)), key=lambda i: (i not in first, sign * float(group[i]["value"]), i))


def metric_label(group: Sequence[Mapping[str, Any]]) -> str:
    """``"MAE ↓"`` / ``"accuracy ↑"`` (no arrow when the group disagrees on the direction)."""
    metric = group[0]["metric"]
    dirs = {bool(r["higher_is_better"]) for r in group}
    return f"{metric} {'↑' if dirs == {True} else '↓'}" if len(dirs) == 1 else metric


def _signed(v: float) -> str:
    return f"{float(v):+.3f}"


def record_notes(r: Mapping[str, Any]) -> list[str]:
    """What a reader must see beside a record's value: ``INVALID: <problems>`` when the bench's
    self-checks failed, the attack's plateau check, how a pre-registered configuration was
    chosen, the sweep or sanity reading it belongs to, and its paired differences (value, 95% interval) from the records it is compared with."""
    notes = []
    if r.get("valid") is False:
        notes.append("INVALID: " + "; ".join(r.get("problems") or ["no reason recorded"]))
    if r.get("plateau"):
        notes.append(f"plateau check: {r['plateau']}")
    if r.get("preregistered"):
        notes.append(f"pre-registered: {r['preregistered']}")
    if r.get("sweep"):
        notes.append(f"not ranked: {r['sweep']}")
    if r.get("sanity"):
        notes.append(f"sanity reading: {r['sanity']}")
    for key, what in (("minus_baseline", f"minus {r.get('baseline', 'baseline')}"),
                      ("minus_paper", "minus the paper solver"),
                      ("minus_full_gradient", "minus the full-gradient attack's reading")):
        if key in r:
            lo, hi = r.get(f"{key}_ci", (float("nan"), float("nan")))
            notes.append(f"{what}: {_signed(r[key])} (paired 95% CI {_signed(lo)} to {_signed(hi)})")
    return notes


def compact_group(group: Sequence[Mapping[str, Any]], bold: str = "**") -> str:
    """One line for a group: ``**polydiff-csdi 0.312** (50 NFE) · linear 0.35``, best first
    (only a :func:`~.schema.rankable` record is marked best), then the rest best to worst, each
    record's 95% interval when it has one and its notes in brackets."""
    best = best_indices(list(group))
    parts = []
    for i in _by_value(group, best):
        r = group[i]
        s = f"{r['method']} {fmt_record_value(r)}"
        if i in best:
            s = f"{bold}{s}{bold}"
        if r.get("nfe"):
            s += f" ({r['nfe']} NFE)"
        s += "".join(f" [{n}]" for n in record_notes(r))
        parts.append(s)
    line = " · ".join(parts)
    return line if has_peer(list(group)) else f"{line} ⚠ {NO_PEER}"


def domain_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The markdown table of one domain: rows grouped by (task, dataset, setting, metric)."""
    lines = ["| task | dataset | setting | metric | method | value | NFE | seconds | n | note |",
             "|---|---|---|---|---|---:|---:|---:|---:|---|"]
    for group in group_records(records).values():
        best, peer = best_indices(group), has_peer(group)
        for i, r in enumerate(group):
            head = ([r["task"], r["dataset"], r["setting"], metric_label(group)] if i == 0
                    else ["", "", "", ""])
            is_best = i in best
            method = f"**{r['method']}**" if is_best else r["method"]
            value = f"**{fmt_record_value(r)}**" if is_best else fmt_record_value(r)
            note = ("best (tie)" if len(best) > 1 else "best") if is_best else ""
            if not peer:
                note = f"⚠ {NO_PEER}"
            elif best_index(group) is None and i == 0:
                note = "records disagree on higher_is_better"
            note = "; ".join(n for n in (note, *record_notes(r)) if n).replace("|", "\\|")
            nfe = "–" if r["nfe"] is None else str(r["nfe"])
            lines.append("| " + " | ".join(
                head + [method, value, nfe, f"{float(r['seconds']):.2f}", str(r["n"]), note]) + " |")
    return "\n".join(lines)


def render_report(result: SuiteResult, summaries: Mapping[str, Path] | None = None) -> str:
    """The whole ``report.md`` of a suite run."""
    m = result.machine
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    where = (f"commit `{result.commit}` · started {result.started} · "
             f"{result.duration_s:.1f} s · device {result.device} · {m.get('cpu')}, "
             f"{m.get('cpu_count')} cores, {m.get('torch_threads')} torch threads{gpu} · "
             f"torch {m.get('torch')}")
    out = [f"# polydiff bench — {result.mode} mode", "", where, "",
           f"Command: `{result.command}`", "",
           "| domain | status | records | seconds | message |", "|---|---|---:|---:|---|"]
    for o in result.outcomes:
        msg = o.message.replace("|", "\\|").replace("\n", " ")
        out.append(f"| {o.domain} | {o.status} | {len(o.records)} | {o.seconds:.1f} | {msg} |")
    out += [""] + _mode_notes(result)
    for o in result.outcomes:
        if not o.records:
            continue
        out += ["", f"## {o.domain}", "", domain_table(o.records)]
        lonely = sum(not has_peer(g) for g in group_records(o.records).values())
        if lonely:
            out += ["", f"⚠ {lonely} group(s) of {o.domain} have no baseline or peer beside them."]
        pngs = ([str(summaries[o.domain].relative_to(result.out_dir))]
                if summaries and o.domain in summaries else []) + o.figures
        if pngs:
            out += [""] + [f"![{Path(p).stem}]({p})" for p in pngs]
    return "\n".join(out) + "\n"


def _mode_notes(result: SuiteResult) -> list[str]:
    """Quick mode: the time budget, and whether the full mode's conclusions hold."""
    from .suite import QUICK_BUDGET_S

    if result.mode != "quick":
        return []
    over = result.duration_s > QUICK_BUDGET_S
    notes = [f"Quick-mode budget: {QUICK_BUDGET_S / 60:.0f} min for all domains on 2 CPU cores; "
             f"this run took {result.duration_s / 60:.1f} min"
             + (" — over budget." if over else ".")]
    if result.agreement is not None:
        notes += ["", f"Quick vs full mode: {result.agreement.summary()}."]
        notes += [f"- {d}" for d in result.agreement.disagreements]
        training = result.agreement.training
        if training is not None and training.disagreements:
            notes += ["", "Training checks that order methods differently from full mode:"]
            notes += [f"- {d}" for d in training.disagreements]
    return notes


def write_report(result: SuiteResult, path: Path, summaries: Mapping[str, Path] | None = None) -> Path:
    """Write :func:`render_report` to ``path``."""
    path.write_text(render_report(result, summaries))
    return path


def console_summary(result: SuiteResult) -> str:
    """What ``polydiff bench`` prints at the end: one line per group, best in ``*...*``."""
    lines = []
    for o in result.outcomes:
        lines.append(f"{o.domain}: {o.status}" + (f" — {o.message}" if o.message else ""))
        for key, group in group_records(o.records).items():
            _, task, dataset, setting, _ = key
            lines.append(f"  {task} · {dataset} · {setting} · {metric_label(group)}: "
                         f"{compact_group(group, bold='*')}")
    lines += [line for line in _mode_notes(result) if line]
    return "\n".join(lines)


#: Bars per summary panel: every baseline and peer, then polydiff's best methods.
MAX_BARS = 8


def panel_rows(group: Sequence[Mapping[str, Any]], max_bars: int = MAX_BARS) -> list[Mapping[str, Any]]:
    """The records one summary panel shows, in the group's order: at most ``max_bars``, the best
    of polydiff's methods and the best baselines and peers, half the bars each when both sides
    have more (a side with fewer leaves its bars to the other); the best of each side always."""
    if max_bars < 2:
        raise ValueError(f"max_bars must be >= 2, got {max_bars}")
    sign = -1.0 if group and group[0]["higher_is_better"] else 1.0
    ours = sorted((r for r in group if r["method"].startswith("polydiff")), key=lambda r: sign * float(r["value"]))
    others = sorted((r for r in group if not r["method"].startswith("polydiff")),
                    key=lambda r: sign * float(r["value"]))
    n_ours = min(len(ours), max(max_bars - len(others), max_bars // 2))
    chosen = {id(r) for r in [*ours[:n_ours], *others[:max_bars - n_ours]]}
    return [r for r in group if id(r) in chosen]


def log_axis(values: Sequence[float]) -> bool:
    """A log axis when the values are positive and span more than 1.5 decades."""
    vals = [float(v) for v in values]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 10 ** 1.5


def _short(label: str, width: int = 34) -> str:
    """``label`` cut in the middle to ``width`` characters: method names differ at their ends."""
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return label[:head] + "…" + label[len(label) - (width - 1 - head):]


def write_summary_pngs(result: SuiteResult, max_panels: int = 24) -> dict[str, Path]:
    """``summary-<domain>.png``: one bar panel per group (best bar outlined, polydiff blue), at
    most :data:`MAX_BARS` bars a panel (:func:`panel_rows`), log axes where values span decades.

    Returns domain -> path; empty when matplotlib is missing (the bench extra).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    written = {}
    for o in result.outcomes:
        all_groups = list(group_records(o.records).items())
        groups = all_groups[:max_panels]
        if not groups:
            continue
        cols = min(3, len(groups))
        rows = -(-len(groups) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 2.8 * rows), squeeze=False)
        for ax, (key, full) in zip(axes.flat, groups):
            group = panel_rows(full)
            best = best_indices(group)
            values = [float(r["value"]) for r in group]
            # polydiff's methods blue, baselines and peers gray; the best bar outlined
            colors = ["tab:blue" if r["method"].startswith("polydiff") else "tab:gray"
                      for r in group]
            edges = [2.0 if i in best else 0.0 for i in range(len(group))]
            ax.barh(range(len(group)), values, color=colors, edgecolor="black", linewidth=edges)
            if log_axis(values):
                ax.set_xscale("log")
            ax.set_yticks(range(len(group)), [_short(r["method"]) for r in group], fontsize=7)
            for i, label in enumerate(ax.get_yticklabels()):
                if i in best:
                    label.set_fontweight("bold")
            ax.invert_yaxis()
            title = f"{_short(key[1], 40)} · {_short(key[2], 40)}\n{key[3]} · {metric_label(group)}"
            if len(group) < len(full):
                title += f" ({len(group)} of {len(full)})"
            ax.set_title(title if has_peer(group) else title + " (no peer!)", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
            if not log_axis(values):
                ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        for ax in list(axes.flat)[len(groups):]:
            ax.axis("off")
        shown = "" if len(groups) == len(all_groups) else f", first {len(groups)} of {len(all_groups)} groups"
        fig.suptitle(f"polydiff bench — {o.domain} ({result.mode}, {result.commit}{shown}); "
                     "blue: polydiff (best few), gray: baselines and peers, outlined: best", fontsize=9)
        fig.tight_layout()
        path = result.out_dir / f"summary-{o.domain}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written[o.domain] = path
    return written
