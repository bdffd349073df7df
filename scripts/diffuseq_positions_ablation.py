"""DiffuSeq on E2E with each position encoding of its denoiser (issue #26): a learning curve.

Same data (the bench's E2E split by restaurant), network sizes (the full bench's: hidden 96,
3 layers, 4 heads, dropout 0.1, D = 16, T = 2,000, sqrt schedule), seed, optimiser (AdamW,
lr 1e-3, 10% warm-up, cosine, clip 1.0, EMA 0.995 with warm-up) and loss
(:func:`polydiff.text.diffusion_lm.embedding_diffusion_loss`) for ``--positions`` each of
``learned`` and ``rotary``. Every ``--eval-every`` steps, on the EMA network and 256 held-out
pairs: the one-step token accuracy of the target half at t = 250/500/1,000/1,500 with the right
source and with another pair's source (a denoiser that reads its source loses accuracy with
the wrong one); at the end, corpus BLEU of DDIM decoding on the first 40 held-out MRs.

    OMP_NUM_THREADS=1 python scripts/diffuseq_positions_ablation.py --positions learned rotary \\
        --out bench/results/supplementary/text-diffuseq-positions.json
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch
from polydiff.text.data import references_by_source
from polydiff.text.diffusion_lm import embedding_diffusion_loss
from polydiff.text.metrics import corpus_bleu
from polydiff.text.train import build_model, prepare_e2e, training_rows

TIMES = (250, 500, 1000, 1500)


def one_step_accuracy(model, rows: torch.Tensor) -> dict[int, list[float]]:
    """``{t: [accuracy with the right source, with another row's source]}``."""
    S, W = model.config.src_len, model.net.embed.weight.detach()
    emb, tgt = W[rows], rows[:, S:]
    real = tgt != model.tokenizer.pad_id
    g = torch.Generator().manual_seed(0)
    out = {}
    for tt in TIMES:
        t = torch.full((len(rows),), float(tt), dtype=torch.float64)
        x_t = model.process.marginal(emb, t, torch.randn(emb.shape, generator=g))
        accs = []
        for src in (emb[:, :S], emb.roll(len(rows) // 2, 0)[:, :S]):
            with torch.no_grad():
                x0 = model.net(torch.cat([src, x_t[:, S:]], 1), t.float())[:, S:]
            pred = torch.cdist(x0.reshape(-1, W.shape[1]), W).argmin(-1).reshape(tgt.shape)
            accs.append(round(float(((pred == tgt) & real).sum() / real.sum()), 4))
        out[tt] = accs
    return out


def run(positions: str, data, a) -> dict:
    torch.manual_seed(a.seed)
    m = build_model("diffuseq", data.tokenizer, src_len=48, tgt_len=40, emb_dim=16, hidden=96, layers=3, heads=4,
                    T=2000, dropout=0.1)
    if positions != m.config.positions:  # the same initial draws up to the position encoding
        from polydiff.text.diffuseq import DiffuSeq
        torch.manual_seed(a.seed)
        m = DiffuSeq(m.config.__class__(**{**m.config.to_dict(), "positions": positions}), data.tokenizer)
    net, S = m.net, m.config.src_len
    rows = training_rows(m, "diffuseq", data.train)
    test = training_rows(m, "diffuseq", data.test[:256])
    mask = torch.zeros(a.batch, rows.shape[1])
    mask[:, S:] = 1.0
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=0.0)
    warm = max(1, a.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / a.steps))))
    ema = {k: v.detach().clone() for k, v in net.state_dict().items()}
    g = torch.Generator().manual_seed(a.seed + 1)
    curve, t0 = [], time.perf_counter()
    for step in range(1, a.steps + 1):
        net.train()
        batch = rows[torch.randint(0, len(rows), (a.batch,), generator=g)]
        loss = embedding_diffusion_loss(net, m.process, batch, noise_mask=mask, generator=g).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        d = min(0.995, (1 + step) / (10 + step))
        with torch.no_grad():
            for k, v in net.state_dict().items():
                ema[k].mul_(d).add_(v.detach(), alpha=1 - d)
        if step % a.eval_every == 0 or step == a.steps:
            live = {k: v.clone() for k, v in net.state_dict().items()}
            net.load_state_dict(ema)
            net.eval()
            curve.append({"step": step, "loss": round(float(loss), 4), "seconds": round(time.perf_counter() - t0),
                          "accuracy[t] = [right source, other source]": one_step_accuracy(m, test)})
            print(json.dumps({"positions": positions, **curve[-1]}), flush=True)
            net.load_state_dict(live)
    net.load_state_dict(ema)
    net.eval()
    m.restrict_vocabulary(rows[:, S:])
    by = references_by_source(data.test)
    sources = sorted(by)[:40]
    bleu = {}
    for steps in (50, 200):
        hyp = m.generate(sources, 1, steps, "ddim", generator=torch.Generator().manual_seed(0))
        bleu[f"ddim-{steps}"] = round(corpus_bleu(hyp, [by[s] for s in sources]), 2)
    print(json.dumps({"positions": positions, "BLEU": bleu, "examples": hyp[:3]}), flush=True)
    return {"positions": positions, "curve": curve, "BLEU (40 held-out MRs)": bleu, "examples": hyp[:3]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--positions", nargs="+", default=["learned", "rotary"], choices=("learned", "rotary"))
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-every", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=None, help="tokenizer cache folder of prepare_e2e")
    p.add_argument("--out", default=None, help="JSON document of every run")
    a = p.parse_args()
    torch.set_num_threads(1)
    data = prepare_e2e(cache_dir=a.cache)
    runs = [run(pos, data, a) for pos in a.positions]
    if a.out:
        doc = {"command": "OMP_NUM_THREADS=1 python scripts/diffuseq_positions_ablation.py "
                          f"--positions {' '.join(a.positions)} --steps {a.steps} --eval-every {a.eval_every}",
               "data": f"E2E split by restaurant: {len(data.train)} training pairs; 256 held-out pairs for the "
                       "one-step accuracy, 40 held-out MRs for BLEU",
               "runs": runs}
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
