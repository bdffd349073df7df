"""Re-run only the robustness bench's paper-solver comparison, on more test images.

The full robustness bench attacks DiffPure's paper solver (Euler–Maruyama, dt = 1e-3, 100 NFE)
and the <= 20 NFE purifiers on the first ``paper_n`` test images; the paper solver dominates
its cost (about 10 s per MNIST image on 2 CPU threads). This script runs that group alone, with
the full-mode networks (cached under ``OUT/cache``, trained there if missing) and the full-mode
attack, on the first ``--n`` images, to narrow the paired interval of the target comparison::

    python scripts/robustness_paper_comparison.py --dataset mnist --n 512 \\
        --out OUT/robustness --json bench/results/supplementary/robustness-paper-mnist-512.json

The document has the schema of ``bench/results/<domain>.json`` (mode "full").
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import pathlib
import sys
import time

import torch
from polydiff.bench.machine import git_commit
from polydiff.bench.supplementary import write_document
from polydiff.robustness import bench


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=tuple(bench.DATASET_LABELS), required=True)
    ap.add_argument("--n", type=int, required=True, help="first N test images")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="the robustness bench's folder (cache/)")
    ap.add_argument("--json", type=pathlib.Path, required=True, help="where to write the records")
    ap.add_argument("--threads", type=int, default=2)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"--n must be >= 1, got {args.n}")
    (cfg,) = [c for c in bench.CONFIGS["full"] if c.dataset == args.dataset]
    cfg = dataclasses.replace(cfg, paper_n=args.n)
    torch.set_num_threads(args.threads)
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    commit = git_commit()  # the code that runs, even if HEAD moves during the hours of the run
    t0 = time.perf_counter()
    records = bench._run_dataset(cfg, args.out, "cpu", lambda s: print(s, flush=True), paper_only=True)
    write_document(args.json, domain=bench.DOMAIN, script="scripts/robustness_paper_comparison.py", argv=argv,
                   commit=commit, started=started, duration_s=time.perf_counter() - t0, records=records,
                   torch_threads=torch.get_num_threads())
    for r in records:
        if r["metric"] == "robust_accuracy":
            extra = f"  minus_paper {r['minus_paper']:+.4f} {r['minus_paper_ci']}" if "minus_paper" in r else ""
            print(f"{r['method']:<48} robust {r['value']:.4f} (n={r['n']}){extra}")


if __name__ == "__main__":
    main()
