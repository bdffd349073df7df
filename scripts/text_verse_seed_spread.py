"""Seed spread of the verse task's AR baseline (issue #26): the KJV -> WEB bench's AR Transformer
trained again with other seeds, greedy BLEU on the same held-out verses.

Everything but the training seed is the full bench's (:data:`polydiff.bench.text_bible.BIBLE_FULL`:
sizes, the AR budget (1,200 steps when it was run), data, tokenizer, the 200 evenly spaced
held-out verses), so the spread is what one bench run's AR row can move by; the DiffuSeq and
MDLM ratios of ``bench/results/text.json`` are read against it.

    OMP_NUM_THREADS=1 python scripts/text_verse_seed_spread.py --seeds 1 2 --out /tmp/bible-ds/run \\
        --json bench/results/supplementary/text-verse-ar-seeds.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from polydiff.bench.text import _trained
from polydiff.bench.text_bible import BIBLE_FULL, _evenly, prepare_bible
from polydiff.text import metrics as M


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--out", required=True, help="the bench's --out folder (its text-bible cache is reused)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.set_num_threads(1)
    bc = BIBLE_FULL
    cache = Path(a.out) / "text" / "cache" / "text-bible"
    torch.manual_seed(bc.seed)
    data, _ = prepare_bible(cache, src_len=bc.src_len, tgt_len=bc.tgt_len)
    held = _evenly(data.test, bc.n_sources)
    sources, refs = [q.source for q in held], [[q.text] for q in held]
    rows = []
    for seed in a.seeds:
        t = time.perf_counter()
        ar = _trained("ar", data, bc, cache, "cpu", print, seed=seed)
        hyp = ar.generate(sources, 1, temperature=0.0, generator=torch.Generator().manual_seed(bc.seed))
        rows.append({"seed": seed, "BLEU": round(M.corpus_bleu(hyp, refs), 2), "seconds": round(time.perf_counter() - t)})
        print(json.dumps(rows[-1]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({
            "command": "OMP_NUM_THREADS=1 python scripts/text_verse_seed_spread.py --seeds "
                       f"{' '.join(map(str, a.seeds))} --out OUT --json {a.json}",
            "data": f"the bench's KJV -> WEB split, {len(sources)} held-out verses (one WEB reference each)",
            "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
