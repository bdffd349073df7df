"""DiffuSeq's decoder and training budget chosen on validation restaurants (issue #26).

The full text bench's E2E training split is split again by restaurant (``--val-fraction`` of
its pairs, names shuffled with seed 1): DiffuSeq is trained on the rest with the full bench's
settings (:data:`polydiff.bench.text.FULL`, ``--steps`` optimizer steps each, every run from
scratch with its own cosine schedule) and decodes up to ``--sources`` validation MRs with each
candidate decoder. The bench's test restaurants are never read.

``--model ar`` / ``--model masked`` train the autoregressive baseline / MDLM on the same split
instead (their ``--steps`` replace the bench's ``steps_ar`` / ``steps_masked``), decode it as the bench's headline row
does (AR greedy; MDLM confidence-ordered greedy at 50 steps) and score the validation NLL per
token (AR exact, MDLM's ELBO bound, :func:`polydiff.bench.text._likelihood_records`): their
learning curves, read to choose the bench's budget on held-out data. Their rule, fixed before
the AR's 4,800-step point and any MDLM point was read (the AR's validation BLEU at 600 / 1,200 /
2,400 steps was known: 33.3 / 37.8 / 45.3, so the bench's 1,200-step AR is not at its strength):
each trains for the budget among 600 / 1,200 / 2,400 / 4,800 steps with the highest validation
BLEU of its headline decoder; a best at the largest candidate means the curve is still rising
and is extended before the bench uses it. MDLM's likelihood target (ELBO perplexity <= 1.5x the
AR's at equal steps) was to be read at the AR's chosen budget; the bench is stricter for MDLM
(``FULL.steps_ar_likelihood``): its likelihood records use the AR's NLL-best budget, since the
AR's NLL worsens past 1,200 steps while its BLEU still rises.

The rule, fixed before the first run: the headline decoder is the single-sample candidate with
the highest validation corpus BLEU among those at most 500 NFE (a quarter of the paper's
2,000-step ancestral sampler, issue #26's NFE target); MBR-4 is reported beside it. The
2,000-step ancestral sampler (Gong et al.'s default) is decoded for reference.

``--task verse`` does the same on the KJV -> WEB verse task (:mod:`polydiff.bench.text_bible`):
its training books are split again by book (``--val-fraction`` of the fitting pairs, book names
shuffled with seed 1; the bench's held-out books are never read) and ``--sources`` validation
verses, evenly spaced, are decoded against their one WEB reference. ``--emb-dim`` replaces
DiffuSeq's embedding dimension D (the bench's 16 is Li et al.'s choice for E2E's ~1,000-token
vocabulary; Gong et al. use 128): an ablation. Its rule for the verse bench, fixed before the
first verse run: DiffuSeq on verse takes D = 128 in place of 16 if, trained for 4,800 steps on
the validation split, its validation BLEU with the bench's verse decoders (DDPM-500, DDIM-50;
single samples) is higher under both; otherwise D stays 16. With ``--task verse --model ar`` the
verse likelihood records' AR gets its own budget, by a rule fixed before the verse AR runs: the
budget among 1,200 / 2,400 / 4,800 steps with the lowest validation NLL per token (E2E's NLL-best
1,200 steps until then).

When the curve stops rising (verse AR and MDLM), by a rule written before the verse AR's
19,200-step point was read (MDLM's 9,600 -> 19,200 gain, +1.8 BLEU, was known): a budget that
doubles the previous one and raises the headline decoder's validation BLEU by less than the 95%
half-width of its mean sentence-BLEU (about 3 points) ends the extension, and the bench trains the
larger budget; AR and MDLM then train for the larger of their two budgets (equal steps, as the
#26 targets compare them).

``--time-sampler lossaware`` trains DiffuSeq with Gong et al.'s loss-aware timestep sampling
(``schedule_sampler: lossaware``; :class:`polydiff.core.LossSecondMomentResampler`) instead of
uniform draws: an ablation of the last reference setting the bench did not follow. Its rule,
fixed before the first loss-aware run: DiffuSeq on verse trains loss-aware if, at 4,800 steps on
the verse validation split (D = 16), its validation BLEU with both verse decoders (DDPM-500,
DDIM-50; single samples, seed 0) is higher than the uniform run's (8.59 / 6.73,
``supplementary/text-diffuseq-verse-embdim.json``); otherwise the draw stays uniform. E2E keeps
uniform draws unless the same holds on its validation restaurants.

``--rounding logits`` reads the final sample's tokens off the trained rounding head (the argmax
of ``p(w | x0)``, as DiffuSeq's decoder does with ``get_logits``) instead of the nearest
embedding. Both agree on a clamped sample except where a token's embedding is short (the
"hub" tokens such as "brass" that uncertain positions fall to). Its rule, fixed before the first
run: DiffuSeq decodes with ``rounding="logits"`` if, on the verse validation books with the
verse bench's loss-aware 4,800-step model, its BLEU is higher under both verse decoders
(DDPM-500, DDIM-50; seed 0) than nearest-embedding rounding's (9.11 / 8.24); then E2E's
validation restaurants are read the same way before E2E changes.

    OMP_NUM_THREADS=1 python scripts/diffuseq_decoder_selection.py --steps 4800 \\
        --cache /tmp/dsel --out bench/results/supplementary/text-diffuseq-decoders.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from polydiff.bench.common import mean_interval
from polydiff.bench.text import FULL, _likelihood_records, _trained, model_steps
from polydiff.bench.text_bible import BIBLE_FULL, _book, _evenly, prepare_bible
from polydiff.text import metrics as M
from polydiff.text.data import references_by_source, split_by_group, split_by_restaurant
from polydiff.text.diffusion_lm import ROUNDINGS
from polydiff.text.train import TIME_SAMPLERS, E2EData, prepare_e2e

#: (solver, NFE, MBR candidates)
CANDIDATES = (("ddim", 50, 1), ("dpmpp_2m", 50, 1), ("ddpm", 50, 1), ("ddpm", 200, 1), ("ddpm", 500, 1),
              ("ddim", 50, 4), ("ddpm", 50, 4), ("ddpm", 200, 4), ("ddpm", 2000, 1))
MAX_NFE = 500


def decode_all(model, sources: list[str], refs: list[list[str]], seed: int, candidates=CANDIDATES,
               rounding: str = "nearest") -> list[dict]:
    rows = []
    for solver, nfe, mbr in candidates:
        t = time.perf_counter()
        hyp = model.generate(sources, 1, nfe, solver, mbr=mbr, generator=torch.Generator().manual_seed(seed),
                             rounding=rounding)
        rows.append({"solver": solver, "nfe": nfe, "mbr": mbr, **score(hyp, refs, time.perf_counter() - t)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def score(hyp: list[str], refs: list[list[str]], seconds: float) -> dict:
    """Corpus BLEU, mean sentence BLEU with its 95% half-width, time and two examples."""
    sent = [100 * v for v in M.sentence_bleus([h if h.strip() else "<empty>" for h in hyp], refs)]
    lo, hi = mean_interval(sent)
    return {"BLEU": round(M.corpus_bleu(hyp, refs), 2), "sentence-BLEU": round(sum(sent) / len(sent), 2),
            "sentence-BLEU 95% half-width": round((hi - lo) / 2, 2),
            "seconds": round(seconds, 1), "examples": hyp[:2]}


def decode_headline(kind: str, model, sources: list[str], refs: list[list[str]], seed: int) -> list[dict]:
    """The bench's headline row of the AR baseline (greedy) or MDLM (confidence-ordered greedy,
    50 steps), scored like :func:`decode_all`."""
    g = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    if kind == "ar":
        name, hyp = "greedy", model.generate(sources, 1, temperature=0.0, generator=g)
    else:
        name = "confidence-greedy-50"
        hyp = model.generate(sources, 1, 50, generator=g, solver="confidence", temperature=0.0)
    row = {"decoder": name, **score(hyp, refs, time.perf_counter() - t)}
    print(json.dumps(row), flush=True)
    return [row]


def validation_nll(kind: str, model, data: E2EData, bc) -> dict:
    """Validation NLL per real token (AR exact, MDLM's negative ELBO) on every validation pair."""
    recs = _likelihood_records({kind: model}, data, replace(bc, nll_rows=0), None)
    r = next(r for r in recs if r["metric"] == "nll-per-token")
    return {"value": round(r["value"], 4), "tokens": r["n"], "bound": kind == "masked"}


def choose(rows: list[dict]) -> dict:
    """The rule of the module docstring."""
    ok = [r for r in rows if r["mbr"] == 1 and r["nfe"] <= MAX_NFE]
    return max(ok, key=lambda r: r["BLEU"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("diffuseq", "ar", "masked"), default="diffuseq")
    p.add_argument("--task", choices=("e2e", "verse"), default="e2e")
    p.add_argument("--emb-dim", type=int, default=None, help="DiffuSeq's embedding dimension D (default: the bench's)")
    p.add_argument("--time-sampler", choices=TIME_SAMPLERS, default=None,
                   help="DiffuSeq's training-time draw (default: the bench's)")
    p.add_argument("--rounding", choices=ROUNDINGS, default="nearest",
                   help="DiffuSeq's final rounding: nearest embedding or the rounding head's argmax")
    p.add_argument("--steps", type=int, nargs="+", default=None,
                   help="optimizer steps of each run (default: the full bench's for --model)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--sources", type=int, default=100)
    p.add_argument("--candidates", nargs="+", default=None, metavar="SOLVER-NFE-MBR",
                   help="decode only these candidates (e.g. ddpm-500-1 ddim-50-1): a learning curve")
    p.add_argument("--cache", required=True, help="folder of the tokenizer and the trained models")
    p.add_argument("--out", default=None, help="JSON document of every run")
    a = p.parse_args()
    if a.steps is None:
        a.steps = [model_steps(FULL if a.task == "e2e" else BIBLE_FULL, a.model)]
    if a.model != "diffuseq" and a.rounding != "nearest":
        p.error(f"--rounding is DiffuSeq's; --model {a.model} decodes as the bench's headline row")
    if a.model != "diffuseq" and a.candidates:
        p.error(f"--candidates are DiffuSeq's decoders; --model {a.model} decodes as the bench's headline row")
    torch.set_num_threads(1)
    cache = Path(a.cache)
    base = FULL if a.task == "e2e" else BIBLE_FULL
    if a.emb_dim is not None:
        base = replace(base, emb_dim=a.emb_dim)
    if a.time_sampler is not None:
        if a.model != "diffuseq":
            p.error("--time-sampler applies to --model diffuseq")
        base = replace(base, time_sampler=a.time_sampler)
    torch.manual_seed(base.seed)
    if a.task == "e2e":
        full = prepare_e2e(cache_dir=cache)
        train, val = split_by_restaurant(full.train, a.val_fraction, seed=1)
        by = references_by_source(val)
        sources = sorted(by)[: a.sources]
        refs = [by[s] for s in sources]
    else:
        full, _ = prepare_bible(cache, src_len=base.src_len, tgt_len=base.tgt_len)
        train, val = split_by_group(full.train, lambda p: _book(p.ref), a.val_fraction, seed=1)
        by = {_book(p.ref): None for p in val}  # the validation books
        held = _evenly(val, a.sources)
        sources, refs = [p.source for p in held], [[p.text] for p in held]
    data = E2EData(train, val, full.tokenizer, full.attributes)
    print(f"{len(train)} training pairs, {len(val)} validation pairs ({len(by)} {'MRs' if a.task == 'e2e' else 'books'},"
          f" {len(sources)} decoded)", flush=True)
    runs = []
    for steps in a.steps:
        t = time.perf_counter()
        bc = replace(base, **{f"steps_{a.model}": steps})
        model = _trained(a.model, data, bc, cache, "cpu", lambda m: print(m, flush=True))
        print(f"trained {steps} steps in {time.perf_counter() - t:.0f} s", flush=True)
        if a.model != "diffuseq":
            runs.append({"steps": steps, "decoders": decode_headline(a.model, model, sources, refs, base.seed),
                         "validation NLL per token": validation_nll(a.model, model, data, bc)})
            write(a, train, val, by, sources, runs)
            continue
        cands = CANDIDATES if a.candidates is None else [
            (c.split("-")[0], int(c.split("-")[1]), int(c.split("-")[2])) for c in a.candidates]
        rows = decode_all(model, sources, refs, base.seed, cands, a.rounding)
        runs.append({"steps": steps, "decoders": rows, "chosen": {k: choose(rows)[k] for k in ("solver", "nfe")}})
        write(a, train, val, by, sources, runs)


def write(a, train, val, by, sources, runs) -> None:
    """The JSON document of every run so far (when ``--out`` is given)."""
    if not a.out:
        return
    doc = {"command": f"OMP_NUM_THREADS=1 python scripts/diffuseq_decoder_selection.py --model {a.model} --task {a.task}"
                      + (f" --emb-dim {a.emb_dim}" if a.emb_dim is not None else "")
                      + (f" --time-sampler {a.time_sampler}" if a.time_sampler is not None else "")
                      + (f" --rounding {a.rounding}" if a.rounding != "nearest" else "")
                      + f" --steps {' '.join(map(str, a.steps))} --val-fraction {a.val_fraction} --sources {a.sources}"
                      + (f" --candidates {' '.join(a.candidates)}" if a.candidates else ""),
           "data": (f"the full bench's E2E training restaurants split again by restaurant (seed 1): "
                    f"{len(train)} training pairs, {len(val)} validation pairs, the first {len(sources)} "
                    f"of their {len(by)} MRs decoded (all of an MR's references)") if a.task == "e2e" else
                   (f"the verse bench's training books split again by book (seed 1): {len(train)} training pairs, "
                    f"{len(val)} validation pairs from the books {sorted(by)}, {len(sources)} evenly spaced "
                    f"verses decoded (one WEB reference each)"),
           "runs": runs}
    if a.model == "diffuseq":
        doc["rule"] = f"single-sample candidate with the highest validation BLEU at <= {MAX_NFE} NFE"
    Path(a.out).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
