"""The bench entry returns valid records, every polydiff number beside a baseline, and caches."""
import time

from polydiff.bench.schema import GROUP_FIELDS, record_problems
from polydiff.text.bench import BenchConfig, run

TINY = BenchConfig(hidden=16, layers=1, heads=2, src_len=48, tgt_len=40, T=100, steps=2, batch_size=8,
                   classifier_steps=2, cnn_steps=2, n_sources=3, nfe=(2,), mbr=2, n_control=2, control_nfe=2,
                   controls=("area : riverside",), models=("diffuseq", "masked", "ar"))


def test_tiny_bench_records_are_valid_grouped_and_cached(tmp_path):
    stages = []
    recs = run("quick", tmp_path, progress=stages.append, config=TINY)
    assert recs and any(s.startswith("train diffuseq") for s in stages)
    for r in recs:
        assert record_problems(r, domain="text") == []
    groups = {}
    for r in recs:
        groups.setdefault(tuple(r[k] for k in GROUP_FIELDS), set()).add(r["method"])
    for key, methods in groups.items():
        assert any(not m.startswith("polydiff") for m in methods) or len(methods) >= 2, key
    assert {"BLEU", "sentence-BLEU", "ROUGE-L", "control-success", "perplexity"} <= {r["metric"] for r in recs}
    # second run: everything from the cache, no training stage
    stages.clear()
    t0 = time.perf_counter()
    again = run("quick", tmp_path, progress=stages.append, config=TINY)
    assert not any(s.startswith("train") for s in stages)
    assert [r["value"] for r in again if r["metric"] == "BLEU"] == [r["value"] for r in recs if r["metric"] == "BLEU"]
    assert time.perf_counter() - t0 < 60
