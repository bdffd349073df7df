"""Is RePaint's centre-mask accuracy on MNIST limited by the model or by the method? (issue 27)

Continues the full-mode bench's unconditional U-Net (a copy of its cache run; the cache is not
touched) to ``--steps`` and scores RePaint at the bench's settings (25 steps, jump 1, 5
resamplings; 121 NFE) every ``--eval-every`` steps, on 100 *held-out* test digits that no
bench section uses (``x_te[5000:5100]``), with the bench's classifier: a learning curve of the
headline metric. Beside it, on the same digits: biharmonic and exemplar fill (the bench's
baselines) and RePaint with the **exact denoiser of the training set** (the posterior mean of
the 60,000 training images as point masses, eq. (7) of Karras et al. 2022 with sigma_data -> 0):
what the same sampler reaches with a perfect model of the data it was trained on::

    python scripts/inpaint_learning_curve.py --cache OUT/vision/cache --out /tmp/inp --steps 9600

Prints one line per evaluation and writes ``curve.json`` in ``--out``; ``--document PATH``
also writes the rows as a supplementary results document (``bench/supplementary.py``).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import time
import types

import torch
from torch import nn


class TrainingSetOracle(nn.Module):
    """Exact x0-prediction for data = the training images as point masses: the softmax-weighted
    mean ``sum_i w_i x_i``, ``w_i ~ exp(-|x - alpha x_i|^2 / (2 sigma^2))`` (model range)."""

    def __init__(self, process, images: torch.Tensor):
        super().__init__()
        self.process = process
        self.data = (2 * images - 1).flatten(1).float()
        self.sq = (self.data ** 2).sum(1)
        self.dummy = nn.Parameter(torch.zeros(()))  # the tasks read the device from a parameter
        self.config = types.SimpleNamespace(prediction="x0")

    def forward(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        a = self.process.alpha(t.double()).float().reshape(-1, 1)
        s = self.process.sigma(t.double()).float().reshape(-1, 1)
        xf = x.flatten(1).float()
        d2 = (xf ** 2).sum(1, keepdim=True) - 2 * a * (xf @ self.data.T) + a ** 2 * self.sq
        w = torch.softmax(-d2 / (2 * s ** 2), dim=1)
        return (w @ self.data).reshape(x.shape).to(x.dtype)


def _one(cache: pathlib.Path, prefix: str) -> pathlib.Path:
    found = sorted(p for p in cache.glob(f"{prefix}-*") if (p / "latest").exists())
    if len(found) != 1:
        raise SystemExit(f"--cache {cache}: expected one finished {prefix}-* run, found {[p.name for p in found]}")
    return found[0]


def main(argv: list[str] | None = None) -> None:
    from polydiff.bench.vision import CONFIGS
    from polydiff.bench.vision_common import mnist
    from polydiff.vision import inpaint, metrics
    from polydiff.vision.train import load_trained, train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=pathlib.Path, required=True, help="the full-mode vision bench's cache folder")
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--steps", type=int, default=9600, help="continue the U-Net to this many steps")
    ap.add_argument("--eval-every", type=int, default=1200)
    ap.add_argument("--document", type=pathlib.Path, default=None, help="write a supplementary results document")
    ap.add_argument("--budgets", default="", help="also RePaint at these 'STEPSxRESAMPLE' budgets (e.g. 100x10), "
                    "the exact denoiser and the network as it is before training, on the same digits")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from polydiff.bench.machine import git_commit
    t_start, commit = time.time(), git_commit()  # the commit the run started from
    cfg = CONFIGS["full"]
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.out / "run"
    if not run.exists():
        shutil.copytree(_one(args.cache, "inpaint-uncond"), run)
    clf, _, _ = load_trained(_one(args.cache, "classifier"))
    x_tr, y_tr = mnist("train", cfg["size"], cfg["n_train"])
    x_te, y_te = mnist("test", cfg["size"])
    xi, yi = x_te[5000:5100], y_te[5000:5100]  # held out: the bench's sections use 1000/2000/3000 and the last 300
    real = x_te[-300:]
    mask = inpaint.make_mask("center", len(xi), cfg["size"], generator=torch.Generator().manual_seed(0))
    settings = inpaint.repaint_settings(cfg["inpaint"]["steps"], cfg["inpaint"]["resample"])
    curve_path = args.out / "curve.json"
    rows = json.loads(curve_path.read_text()) if curve_path.exists() else []

    def score(name: str, out: torch.Tensor, seconds: float, **extra) -> dict:
        s = metrics.inpainting_scores(clf, out, yi, real, truth=xi, hole=1 - mask)
        row = {"method": name, **extra, **{k: round(float(v), 4) for k, v in s.items()}, "seconds": round(seconds, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
        curve_path.write_text(json.dumps(rows, indent=1))
        return row

    def repaint(net, how: dict = settings, **kw) -> tuple[torch.Tensor, float]:
        t0 = time.perf_counter()
        out = inpaint.inpaint(net, proc, xi, mask, solver="ddpm", generator=torch.Generator().manual_seed(2),
                              **how, **kw)
        return out, time.perf_counter() - t0

    def nfe(how: dict) -> int:
        """Network evaluations per image of RePaint at ``how`` (counted on a one-image run)."""
        from polydiff.bench.common import timed_nfe
        probe = TrainingSetOracle(proc, x_tr[:2])
        return timed_nfe(probe, 1, inpaint.inpaint, probe, proc, xi[:1], mask[:1], solver="ddpm",
                         prediction="x0", **how)[2]

    net, proc, _ = load_trained(run)
    done = {(r["method"], r.get("step")) for r in rows}
    if ("biharmonic", None) not in done:
        t0 = time.perf_counter()
        score("biharmonic", inpaint.biharmonic(xi, mask), time.perf_counter() - t0)
        t0 = time.perf_counter()
        score("exemplar-fill", inpaint.exemplar_fill(xi, mask, x_tr), time.perf_counter() - t0)
        score("repaint, exact training-set denoiser", *repaint(TrainingSetOracle(proc, x_tr), prediction="x0"))
    from polydiff.core.training import load_checkpoint
    start = load_checkpoint(run, weights_only=True).step
    if ("repaint", start) not in done:
        score("repaint", *repaint(net), step=start)
    for budget in filter(None, args.budgets.split(",")):
        steps, resample = (int(v) for v in budget.split("x"))
        how = inpaint.repaint_settings(steps, resample)
        for name, model, kw in (("repaint, exact training-set denoiser", TrainingSetOracle(proc, x_tr),
                                 {"prediction": "x0"}), ("repaint", net, {})):
            if (f"{name} {budget}", start) not in done:
                score(f"{name} {budget}", *repaint(model, how, **kw), step=start, settings=how)

    def eval_fn(model: nn.Module, step: int) -> dict:
        return {"classifier-accuracy": score("repaint", *repaint(model), step=step)["classifier-accuracy"]}

    full = cfg["steps"]
    train("inpaint", x_tr, y_tr, steps=args.steps, batch_size=cfg["batch"], lr=1e-3, net_kwargs=cfg["net"],
          out_dir=run, seed=0, log_every=100, resume=True, ckpt_every=args.eval_every, eval_fn=eval_fn,
          eval_every=args.eval_every)
    print(f"the bench trains this U-Net for {full.get('inpaint', full['generate'])} steps", flush=True)
    if args.document is not None:
        _document(args, rows, nfe, settings, t_start, commit)


def _document(args, rows: list[dict], nfe, settings: dict, t_start: float, commit: str) -> None:
    import datetime
    import sys

    from polydiff.bench.common import record
    from polydiff.bench.supplementary import write_document

    metrics = {"classifier-accuracy": True, "classifier-frechet": False, "PSNR-hole": True, "SSIM": True}
    records = []
    for r in rows:
        how = r.get("settings", settings)
        count = nfe(how) if r["method"] not in ("biharmonic", "exemplar-fill") else None
        setting = (f"center-mask, held-out digits x_te[5000:5100], RePaint {how['steps']} steps x "
                   f"{how['resample']} resamplings (jump {how['jump_length']})")
        method = r["method"].split(" ", 1)[0] if r["method"].startswith("repaint") else r["method"]
        if "exact" in r["method"]:
            method = "polydiff-repaint, exact training-set denoiser"
        elif method == "repaint":
            method = f"polydiff-repaint, U-Net after {r['step']} training steps"
        for metric, hib in metrics.items():
            records.append(record("vision", "inpaint", "mnist-28px", setting, method, metric, r[metric], hib,
                                  count, r["seconds"], 100))
    write_document(args.document, domain="vision", script="scripts/inpaint_learning_curve.py", argv=sys.argv[1:],
                   commit=commit, started=datetime.datetime.fromtimestamp(t_start, datetime.UTC).isoformat(),
                   duration_s=time.time() - t_start, records=records, torch_threads=1)
    print(f"wrote {args.document}")


if __name__ == "__main__":
    main()
