"""Short-budget inpainting/SDEdit check on MNIST: unconditional U-Net vs the CFG model's null label.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/vision_inpaint_short.py --steps 600 --out /tmp/inp16

The vision bench's quick config (16 px MNIST, base-16 U-Net with levels x1/x2 and attention
at level 1, 12k training images, batch 64, lr 1e-3; evaluation classifier of width 16 trained
250 steps). Trains an unconditional U-Net (task ``inpaint``) with a learning curve, and the
class-conditional CFG model (label dropout 0.2, the bench's) for the same steps, then scores
RePaint (the paper's schedule scaled to ``--sample-steps``, :func:`inpaint.repaint_settings`),
plain replacement and biharmonic inpainting of the centre mask on 100 test digits, and SDEdit
on stroke paintings, with :func:`metrics.inpainting_scores`. Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from polydiff.vision import inpaint, metrics, sdedit
from polydiff.vision._common import default_process
from polydiff.vision.data import load_mnist
from polydiff.vision.train import train

NET = {"base": 16, "mults": (1, 2), "attention_levels": (1,)}


def mnist16(split: str, limit: int | None = None):
    x, y = load_mnist(split)
    x, y = x[:limit], y[:limit]
    return F.avg_pool2d(F.pad(x, (2, 2, 2, 2)), 2).contiguous(), y


def emit(**rec):
    print(json.dumps(rec), flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--sample-steps", type=int, default=20)
    p.add_argument("--resample", type=int, default=10)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--models", nargs="*", default=["uncond", "cfg-null"])
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    x_tr, y_tr = mnist16("train", 12000)
    x_te, y_te = mnist16("test")
    n = a.n
    xi, yi = x_te[1000:1000 + n], y_te[1000:1000 + n]
    src, src_y = x_te[3000:3000 + n], y_te[3000:3000 + n]
    real = x_te[-300:]
    mask = inpaint.make_mask("center", n, 16)
    hole = 1 - mask
    guide = sdedit.stroke_painting(src, cells=8, levels=3)
    process = default_process()
    rs = inpaint.repaint_settings(a.sample_steps, a.resample)
    clf, _ = train("classifier", x_tr, y_tr, steps=250, lr=1e-3, net_kwargs={"width": 16}, batch_size=64,
                   log_every=100)

    def score(task, method, out, nfe, **kw):
        emit(task=task, method=method, nfe=nfe, **metrics.inpainting_scores(clf, out, kw.pop("labels"), real, **kw))

    score("inpaint", "truth", xi, None, labels=yi)
    score("inpaint", "masked-input", xi * mask, None, labels=yi, truth=xi, hole=hole)
    score("inpaint", "biharmonic", inpaint.biharmonic(xi, mask), None, labels=yi, truth=xi, hole=hole)
    score("inpaint", "exemplar-fill(train-set)", inpaint.exemplar_fill(xi, mask, x_tr), None, labels=yi, truth=xi,
          hole=hole)
    score("sdedit", "stroke-painting", guide, None, labels=src_y)

    def count(net):
        calls = [0]
        h = net.register_forward_pre_hook(lambda m, args: calls.__setitem__(0, calls[0] + args[0].shape[0]))
        return calls, h

    def evaluate(net, step, model, final):
        cond = {"y": torch.full((n,), 10, dtype=torch.long)} if model == "cfg-null" else None
        rows = [("repaint", rs)] + ([("replacement", {"steps": a.sample_steps, "jump_length": 1, "resample": 1})]
                                    if final else [])
        for name, kw in rows:
            calls, h = count(net)
            t0 = time.perf_counter()
            out = inpaint.inpaint(net, process, xi, mask, solver="ddpm", cond=cond,
                                  generator=torch.Generator().manual_seed(2), **kw)
            h.remove()
            emit(task="inpaint", model=model, method=f"{name}-{kw['steps']}x{kw['resample']}", step=step,
                 nfe=round(calls[0] / n), seconds=time.perf_counter() - t0,
                 **metrics.inpainting_scores(clf, out, yi, real, truth=xi, hole=hole))
        if final:
            calls, h = count(net)
            out = sdedit.sdedit(net, process, guide, 0.5, steps=a.sample_steps, solver="ddim", cond=cond,
                                generator=torch.Generator().manual_seed(5))
            h.remove()
            emit(task="sdedit", model=model, method="sdedit(s=0.5)", step=step, nfe=round(calls[0] / n),
                 **metrics.inpainting_scores(clf, out, src_y, real))

    for model in a.models:
        t0 = time.perf_counter()
        task, extra = ("inpaint", {}) if model == "uncond" else ("generate", {"p_uncond": 0.2})
        net, _ = train(task, x_tr, y_tr, steps=a.steps, lr=1e-3, net_kwargs=NET, batch_size=64, log_every=100,
                       eval_fn=lambda m, s, model=model: evaluate(m, s, model, False), eval_every=a.eval_every,
                       out_dir=None if a.out is None else f"{a.out}/{model}", **extra)
        emit(model=model, train_seconds=time.perf_counter() - t0)
        evaluate(net, a.steps, model, True)


if __name__ == "__main__":
    main()
