"""Run the robustness bench's paper-solver comparison: DiffPure's solver vs <= 20 NFE, one attack.

The issue's target compares DiffPure's paper solver (Euler–Maruyama, dt = 1e-3, 100 NFE) with
the <= 20 NFE purifiers under the bench's adaptive attack (APGD-CE, APGD-DLR, EOT-PGD with
full gradients and EOT, a per-example worst case). The paper solver makes that attack cost
about 2 s per MNIST image on one H100 and far more on a CPU, so the full-mode suite leaves the
group to this script. It uses the full-mode networks (cached under ``OUT/cache``, trained
there if missing) and attacks the first ``--n`` test images::

    python scripts/robustness_paper_comparison.py --dataset mnist --n 256 --device cuda \\
        --out OUT/robustness --json bench/results/supplementary/robustness-paper-mnist.json

``--fast-solver`` swaps the fast purifiers' solver (default DDPM ancestral steps, as in the
bench). ``--solvers paper`` (or ``5,10,20``) runs a part of the group, so the parts can run on
separate machines or calls; each robust-accuracy record keeps its per-example outcomes
(``correct``), and ``--merge A.json B.json --json F`` joins the parts of one commit
(``--mixed-commits`` accepts several, when the attack code between them is the same) and
dataset and pairs each fast solver with the paper solver (``minus_paper``). Parts attacked on
different numbers of images are compared on the first ``--first N``: records with per-example
outcomes are recomputed on those images (``restricted_from_n`` says from how many), the others
keep their own ``n``.
``--skip K`` attacks images K..K+N-1 instead, so one method can run in parts (one call each
within a machine's time limit); ``--merge`` joins a method's parts on consecutive ranges into
one record (``joined_from``). Every record names the trained networks by a digest of their
weights (``networks``), and ``--merge`` refuses parts of different networks. ``--gradient
checkpoint`` recomputes each solver step in the backward pass: the same gradient in the memory
of one step, so the 100-step solver can be attacked in larger batches.
``--pool A.json B.json ...`` pools merged comparisons (other datasets, retrained networks) into
one paired comparison over every attacked (image, run) pair.
The document has the schema of ``bench/results/<domain>.json`` (mode "full").
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import pathlib
import sys
import time

import polydiff.core as pc
import torch
from polydiff.bench import robustness as bench
from polydiff.bench.machine import git_commit
from polydiff.bench.supplementary import write_document
from polydiff.robustness.metrics import accuracy

_SCRIPT = "scripts/robustness_paper_comparison.py"


def _restrict(records: list[dict], first: int) -> None:
    """Accuracy records that carry per-example outcomes, recomputed on the first ``first`` images
    (records without them keep their own ``n``)."""
    for r in records:
        if "correct" not in r or r["n"] == first:
            continue
        if r["n"] < first:
            raise SystemExit(f"--first {first}: {r['method']!r} was attacked on only {r['n']} images")
        acc = accuracy(bench.outcomes(r["correct"][:first]))
        r.update(value=acc.value, n=first, ci_low=acc.low, ci_high=acc.high, restricted_from_n=r["n"],
                 correct=r["correct"][:first])
        r.pop("robust_after_attack", None)  # not recomputable from the final outcomes


def _join(group: list[dict]) -> dict:
    """One method's records from parts attacked on consecutive image ranges (``--skip``), as one
    record on their union: outcomes concatenated, accuracy and interval recomputed, attack
    seconds summed, the running accuracies averaged by images (``joined_from``: each part's
    first image, images and gradient mode)."""
    if len(group) == 1:
        return group[0]
    name = group[0]["method"]
    if any("correct" not in r for r in group):
        raise SystemExit(f"--merge: {name!r} appears in several parts without per-example outcomes")
    group = sorted(group, key=lambda r: r.get("first_image", 0))
    for a, b in itertools.pairwise(group):
        if b.get("first_image", 0) != a.get("first_image", 0) + a["n"]:
            raise SystemExit(f"--merge: the parts of {name!r} start at images "
                             f"{[r.get('first_image', 0) for r in group]} with {[r['n'] for r in group]} "
                             "images: not consecutive ranges (two parts hold the same images?)")
    correct = "".join(r["correct"] for r in group)
    acc = accuracy(bench.outcomes(correct))
    joined = {**group[0], "value": acc.value, "n": acc.n, "ci_low": acc.low, "ci_high": acc.high,
              "correct": correct, "seconds": sum(r["seconds"] for r in group),
              "gradient": "+".join(dict.fromkeys(r.get("gradient", "full") for r in group)),
              "joined_from": [{"first_image": r.get("first_image", 0), "n": r["n"],
                               "gradient": r.get("gradient", "full")} for r in group]}
    after = [r.get("robust_after_attack") for r in group]
    if all(a is not None and a.keys() == after[0].keys() for a in after):
        joined["robust_after_attack"] = {k: sum(a[k] * r["n"] for a, r in zip(after, group)) / acc.n
                                         for k in after[0]}
    else:
        joined.pop("robust_after_attack", None)
    return joined


def _merge(paths: list[pathlib.Path], out: pathlib.Path, argv: list[str], first: int | None,
           mixed_commits: bool = False) -> dict:
    """Join part documents (same commit unless ``mixed_commits``, same dataset and networks):
    a method's parts on consecutive image ranges become one record (:func:`_join`), then each
    fast solver is paired with the paper solver."""
    docs = [json.loads(p.read_text()) for p in paths]
    commits = list(dict.fromkeys(d["commit"] for d in docs))
    if len(commits) != 1 and not mixed_commits:
        raise SystemExit(f"--merge: the parts come from different commits {commits}; if their attack "
                         "code is the same, say so with --mixed-commits")
    records = [r for d in docs for r in d["records"]]
    networks = {r["networks"] for r in records if r.get("networks")}
    if len(networks) > 1:
        raise SystemExit(f"--merge: the parts attack different trained networks {sorted(networks)}")
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r["metric"] != "seconds_per_image":
            groups.setdefault((r["setting"], r["method"], r["metric"]), []).append(r)
    timing = [r for r in records if r["metric"] == "seconds_per_image"]
    records = [_join(g) for g in groups.values()]
    if first is not None:
        _restrict(records, first)
    sizes = {(r["dataset"], r.get("first_image", 0), r["n"]) for r in records
             if r.get("correct") and r["metric"] == "robust_accuracy"}
    if len(sizes) != 1:
        raise SystemExit(f"--merge: the parts attack different image sets (dataset, first image, n) "
                         f"{sorted(sizes)}; compare them on a common prefix with --first N")
    records += timing[:2]  # one timing pair
    bench.pair_with_paper(records)
    parts = [{k: d[k] for k in ("command", "commit", "date", "machine", "duration_s")} for d in docs]
    machines = [d["machine"] for d in docs]
    return write_document(out, domain=bench.DOMAIN, script=_SCRIPT, argv=argv, commit="+".join(commits),
                          started=min(d["date"] for d in docs), duration_s=sum(d["duration_s"] for d in docs),
                          records=records, torch_threads=machines[0]["torch_threads"],
                          machine=machines[0] if all(m == machines[0] for m in machines)
                          else {**machines[0], "parts_differ": True},  # the first part's; each in parts
                          extra={"parts": parts})


def _pool(paths: list[pathlib.Path], out: pathlib.Path, argv: list[str]) -> dict:
    """Pool merged comparisons (datasets, networks, runs) into one paired comparison: each
    method's per-example outcomes concatenated in document order, the paper solver's likewise,
    so ``minus_paper`` is the mean difference over every attacked (image, run) pair."""
    docs = [json.loads(p.read_text()) for p in paths]
    per_doc = []
    for p, d in zip(paths, docs, strict=True):
        robust = {r["method"]: r for r in d["records"] if r["metric"] == "robust_accuracy" and r.get("correct")}
        papers = [m for m in robust if m.startswith("DiffPure paper")]
        if len(papers) != 1 or len({len(r["correct"]) for r in robust.values()}) != 1:
            raise SystemExit(f"--pool: {p} is not one merged comparison (one paper-solver record and "
                             "every method on the same images)")
        per_doc.append(robust)
    methods = [m for m in per_doc[0] if all(m in robust for robust in per_doc)]
    missing = sorted({m for robust in per_doc for m in robust} - set(methods))
    if missing:
        raise SystemExit(f"--pool: {missing} are not in every document; pool the methods all runs share")
    label = " + ".join(f"{r['dataset']} ({r['setting'].split(',')[0]}, n={r['n']}, networks "
                       f"{r.get('networks', 'unrecorded')})" for r in (robust[methods[0]] for robust in per_doc))
    records = []
    for m in methods:
        rs = [robust[m] for robust in per_doc]
        correct = "".join(r["correct"] for r in rs)
        acc = accuracy(bench.outcomes(correct))
        records.append({**{k: rs[0][k] for k in ("domain", "task", "method", "metric", "higher_is_better",
                                                 "nfe", "attack")},
                        "dataset": "+".join(dict.fromkeys(r["dataset"] for r in rs)),
                        "setting": f"{bench.ADAPTIVE}, DiffPure paper solver vs <= 20 NFE, t*={bench.PAPER_T_STAR}; "
                                   f"pooled: {label}",
                        "value": acc.value, "n": acc.n, "ci_low": acc.low, "ci_high": acc.high,
                        "seconds": sum(r["seconds"] for r in rs), "correct": correct})
    bench.pair_with_paper(records)
    parts = [{"path": str(p), "commit": d["commit"], "date": d["date"]} for p, d in zip(paths, docs, strict=True)]
    return write_document(out, domain=bench.DOMAIN, script=_SCRIPT, argv=argv,
                          commit="+".join(dict.fromkeys(d["commit"] for d in docs)),
                          started=min(d["date"] for d in docs), duration_s=sum(d["duration_s"] for d in docs),
                          records=records, torch_threads=docs[0]["machine"]["torch_threads"],
                          machine={**docs[0]["machine"], "parts_differ": True}, extra={"pooled": parts})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=tuple(bench.DATASET_LABELS))
    ap.add_argument("--n", type=int, help="first N test images (after --skip)")
    ap.add_argument("--skip", type=int, default=0,
                    help="test images skipped first: a part on images SKIP..SKIP+N-1, joined by --merge")
    ap.add_argument("--gradient", choices=("full", "checkpoint"), default="full",
                    help="backpropagation through the solver: plain, or recomputing each step "
                         "(the same gradient in one step's memory, so larger --batch)")
    ap.add_argument("--solvers", default=None,
                    help="comma list of 'paper' and fast-solver steps (default: the whole group)")
    ap.add_argument("--fast-solver", choices=pc.SOLVERS, default=None,
                    help="solver of the <= 20 NFE purifiers (default: the bench's, DDPM ancestral steps)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--batch", type=int, default=None, help="images per attack call, paper solver")
    ap.add_argument("--fast-batch", type=int, default=None, help="images per attack call, fast solvers")
    ap.add_argument("--out", type=pathlib.Path, help="the robustness bench's folder (cache/)")
    ap.add_argument("--merge", type=pathlib.Path, nargs="+", help="part documents to join (no attack runs)")
    ap.add_argument("--pool", type=pathlib.Path, nargs="+",
                    help="merged comparisons to pool into one paired comparison (no attack runs)")
    ap.add_argument("--first", type=int, default=None, help="with --merge: compare on the first N images")
    ap.add_argument("--mixed-commits", action="store_true",
                    help="with --merge: accept parts of different commits (commit becomes 'a+b')")
    ap.add_argument("--json", type=pathlib.Path, required=True, help="where to write the records")
    ap.add_argument("--threads", type=int, default=2)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    if args.first is not None and (not args.merge or args.first < 1):
        ap.error("--first N (N >= 1) goes with --merge")
    if args.pool:
        if args.merge:
            ap.error("--pool and --merge are separate steps: merge each run, then pool the merged files")
        doc = _pool(args.pool, args.json, argv)
        _print(doc["records"])
        return
    if args.merge:
        doc = _merge(args.merge, args.json, argv, args.first, args.mixed_commits)
        _print(doc["records"])
        return
    for name in ("dataset", "n", "out"):
        if getattr(args, name) is None:
            ap.error(f"--{name} is required unless --merge is given")
    for name in ("n", "batch", "fast_batch"):
        v = getattr(args, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if args.skip < 0:
        ap.error(f"--skip must be >= 0, got {args.skip}")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is available")
    (cfg,) = [c for c in bench.CONFIGS["full"] if c.dataset == args.dataset]
    cfg = dataclasses.replace(cfg, paper_n=args.n, paper_skip=args.skip, paper_gradient=args.gradient,
                              paper_batch=args.batch or cfg.paper_batch,
                              solver=args.fast_solver or cfg.solver,
                              paper_fast_batch=args.fast_batch or cfg.paper_fast_batch)
    solvers = tuple(s.strip() for s in args.solvers.split(",")) if args.solvers else None
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its convolution kernels
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    commit = git_commit()  # the code that runs, even if HEAD moves during the hours of the run
    t0 = time.perf_counter()
    try:
        records = bench._run_dataset(cfg, args.out, args.device, lambda s: print(s, flush=True),
                                     paper_only=True, solvers=solvers)
    except ValueError as e:
        ap.error(str(e))
    doc = write_document(args.json, domain=bench.DOMAIN, script=_SCRIPT, argv=argv, commit=commit,
                         started=started, duration_s=time.perf_counter() - t0, records=records,
                         torch_threads=torch.get_num_threads(), device=args.device)
    _print(doc["records"])


def _print(records: list[dict]) -> None:
    for r in records:
        if r["metric"] == "robust_accuracy":
            extra = f"  minus_paper {r['minus_paper']:+.4f} {r['minus_paper_ci']}" if "minus_paper" in r else ""
            print(f"{r['method']:<48} robust {r['value']:.4f} (n={r['n']}){extra}", flush=True)


if __name__ == "__main__":
    main()
