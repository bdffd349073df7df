"""Diagnose a trained DiffuSeq denoiser on held-out E2E pairs (issue #26).

For each noise level ``t`` it prints the token accuracy of three one-step estimates of the
target half, with the source anchored as in sampling:

- ``net``: nearest embedding to ``x0_hat = net(x_t, t)``;
- ``net, swapped source``: the same with another row's source (a denoiser that reads its
  source must lose accuracy here);
- ``nearest(x_t / alpha_t)``: no network at all. The posterior mean can always do at least
  as well as this, so a ``net`` column below it marks a denoiser that has not learned the
  identity part of its job.

Usage: python scripts/diffuseq_denoiser_check.py MODEL_DIR [--cache DIR] [--rows N]
"""
from __future__ import annotations

import argparse

import torch
from polydiff.text.diffuseq import DiffuSeq
from polydiff.text.train import prepare_e2e, training_rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="a saved DiffuSeq folder (e.g. a text bench cache run)")
    p.add_argument("--cache", default=None, help="tokenizer cache folder of prepare_e2e")
    p.add_argument("--rows", type=int, default=256, help="held-out pairs")
    p.add_argument("--times", default="50,100,250,500,1000,1500,1999")
    a = p.parse_args()
    torch.manual_seed(0)
    m = DiffuSeq.load(a.model).eval()
    data = prepare_e2e(cache_dir=a.cache)
    S = m.config.src_len
    rows = training_rows(m, "diffuseq", data.test[: a.rows])
    W = m.net.embed.weight.detach()
    emb = W[rows]
    tgt = rows[:, S:]
    real = tgt != m.tokenizer.pad_id
    g = torch.Generator().manual_seed(0)

    def acc(x: torch.Tensor) -> float:
        pred = torch.cdist(x.reshape(-1, W.shape[1]), W).argmin(-1).reshape(tgt.shape)
        return float(((pred == tgt) & real).sum() / real.sum())

    print(f"{len(rows)} held-out pairs, {int(real.sum())} target tokens")
    print(f"{'t':>5} {'alpha':>6} {'net':>6} {'net, swapped source':>20} {'nearest(x_t/alpha)':>19}")
    for tt in (int(s) for s in a.times.split(",")):
        t = torch.full((len(rows),), float(tt), dtype=torch.float64)
        alpha = float(m.process.alpha(t[:1]))
        x_t = m.process.marginal(emb, t, torch.randn(emb.shape, generator=g))
        right = torch.cat([emb[:, :S], x_t[:, S:]], 1)
        swapped = torch.cat([emb.roll(len(rows) // 2, 0)[:, :S], x_t[:, S:]], 1)
        with torch.no_grad():
            a_net = acc(m.net(right, t.float())[:, S:])
            a_swap = acc(m.net(swapped, t.float())[:, S:])
        print(f"{tt:>5} {alpha:>6.3f} {a_net:>6.3f} {a_swap:>20.3f} {acc(x_t[:, S:] / alpha):>19.3f}")


if __name__ == "__main__":
    main()
