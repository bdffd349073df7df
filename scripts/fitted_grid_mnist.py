"""Time steps fitted to the shipped MNIST generator (issue #25): the vision benchmark's piece
:mod:`polydiff.bench.vision_fitted_grid` at its full setting, written as a supplementary document.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/fitted_grid_mnist.py --cache /tmp/full/out/vision/cache \\
        --out /tmp/fitgrid --json bench/results/supplementary/core-fitted-grid-mnist.json

The classifier is the vision benchmark's full-mode MNIST classifier, loaded from ``--cache`` by
the benchmark's own cache key (trained there, 2,000 steps, when the cache lacks it). The fitted
grids are written to ``--out/fitted_grids/`` (``pc.grid_from_json`` reads them) and their
times are repeated in the document. One torch thread.
"""
from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time

import torch
from polydiff.bench.machine import git_commit
from polydiff.bench.supplementary import write_document
from polydiff.bench.vision import CONFIGS
from polydiff.bench.vision_common import mnist, trained
from polydiff.bench.vision_fitted_grid import FULL, run_fitted_grid


def classifier(cache: pathlib.Path, device: str) -> torch.nn.Module:
    """The vision benchmark's full-mode evaluation classifier (its cache key and settings)."""
    cfg = CONFIGS["full"]
    x_tr, y_tr = mnist("train", cfg["size"], cfg["n_train"])
    clf, _ = trained(cache, "classifier", "classifier", x_tr, y_tr, device, steps=cfg["steps"]["classifier"],
                     lr=1e-3, net_kwargs={"width": 16}, batch_size=cfg["batch"], seed=0)
    return clf.to(device).eval()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=pathlib.Path, required=True, help="the vision benchmark's cache folder")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="where the fitted grids go")
    ap.add_argument("--json", type=pathlib.Path, default=None, help="the supplementary document to write")
    ap.add_argument("--steps", type=int, nargs="+", default=list(FULL["steps"]))
    for key in ("n_fit", "n_eval", "n_rmse", "reference_steps", "sweeps", "iters", "bootstrap"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=FULL[key])
    ap.add_argument("--budget-s", type=float, default=FULL["budget_s"])
    argv = list(sys.argv[1:] if argv is None else argv)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    commit = git_commit()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    cfg = {**FULL, "steps": tuple(a.steps), "budget_s": a.budget_s,
           **{k: getattr(a, k) for k in ("n_fit", "n_eval", "n_rmse", "reference_steps", "sweeps", "iters",
                                          "bootstrap")}}
    clf = classifier(a.cache, "cpu")
    x_te, y_te = mnist("test", CONFIGS["full"]["size"])
    records = run_fitted_grid(cfg, clf, x_te, y_te, a.out, "cpu",
                              say=lambda stage: print(f"[{time.perf_counter() - t0:7.0f} s] {stage}", flush=True))
    for r in records:
        extra = f"  rmse {r['rmse_to_fine']:.4f}" if r["metric"] == "classifier-frechet" and "rmse_to_fine" in r else ""
        ci = f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if "ci_low" in r else ""
        print(f"{r['setting']:>26} {r['method']:>30} {r['metric']:>22} {r['value']:.4f}{ci}{extra}")
    for r in records:
        if "fit_seconds" in r and r["metric"] == "classifier-frechet":
            print(f"{r['setting']}: fit {r['fit_seconds']:.0f} s ({r['fit_cpu_seconds']:.0f} CPU s), "
                  f"{r['fit_evaluations']} image evaluations, {r['cpu_ms_per_evaluation']:.2f} CPU ms each; "
                  f"Frechet fitted - log-SNR 95% CI {r['frechet_minus_log_snr_ci']}")
    if a.json is not None:
        write_document(a.json, domain="vision", script="scripts/fitted_grid_mnist.py", argv=argv, commit=commit,
                       started=started, duration_s=time.perf_counter() - t0, records=records, torch_threads=1,
                       extra={"setting": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}})


if __name__ == "__main__":
    main()
