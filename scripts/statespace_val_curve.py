"""Validation learning curve of the state-space CSDI (issue #29): train the full bench's small
network on ``n_train`` windows for ``steps`` steps and score it beside the exact posterior on 32
*validation* windows (seeds 100 / 200: the bench's test windows come from seed 0 / 1 and are
never read here). One JSON line per run: CRPS and 90% coverage error at MCAR 10% and 50%.

Usage: python scripts/statespace_val_curve.py N_TRAIN STEPS [--cache DIR]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import torch
from polydiff.bench.timeseries import SETTINGS, _train_csdi
from polydiff.timeseries.statespace import var1_model
from polydiff.timeseries.statespace_eval import statespace_records, statespace_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("n_train", type=int)
    p.add_argument("steps", type=int)
    p.add_argument("--cache", default="statespace-val-cache")
    a = p.parse_args()
    torch.set_num_threads(1)
    ss = SETTINGS["full"]["ss"]
    model = var1_model(ss["features"])
    train, _ = statespace_split(model, a.n_train, 2, ss["length"], seed=100)
    _, val = statespace_split(model, 2, 32, ss["length"], seed=200)
    t0 = time.time()
    imp = _train_csdi({"train_steps": a.steps, "batch_size": 16, "net": ss["net"]}, train, pathlib.Path(a.cache),
                      lambda s: None, name=f"csdi-ssval-{a.n_train}")
    train_s = time.time() - t0
    recs = statespace_records(imp, model, val, rates=(0.1, 0.5), samplers=(("dpmpp_2m_sde", 10),), n_samples=100,
                              max_batch=32)
    out = {f"{r['setting']} {r['method']} {r['metric']}": round(r["value"], 4) for r in recs
           if r["metric"] in ("CRPS", "coverage-90%-error")}
    print(json.dumps({"n_train": a.n_train, "steps": a.steps, "train_s": round(train_s), **out}), flush=True)


if __name__ == "__main__":
    main()
