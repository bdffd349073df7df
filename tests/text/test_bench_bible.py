"""The KJV -> WEB part of the text bench: split by book, nothing truncated, copy baseline beside
every model in one group, and the combined entry's parts."""
import pytest
from polydiff.bench.schema import GROUP_FIELDS, record_problems
from polydiff.bench.text import BenchConfig
from polydiff.bench.text_bible import TASK, prepare_bible, run_bible
from polydiff.bench.text_tasks import main as text_main
from polydiff.bench.text_tasks import run as run_text

BOOKS = ["Ruth", "Jonah"]
TINY = BenchConfig(hidden=16, layers=1, heads=2, src_len=48, tgt_len=48, T=100, steps=2, batch_size=8,
                   n_sources=3, nfe=(2,), mbr=1, diversity_samples=1, controls=(), nll_rows=4, nll_samples=1,
                   models=("diffuseq", "masked", "ar"), diffuseq_decoder=("ddpm", 3), steps_diffuseq=3,
                   time_sampler="lossaware", diffuseq_rounding="logits")  # the verse bench's DiffuSeq options


def _prepared(tmp_path, **kw):
    try:
        return prepare_bible(tmp_path, books=BOOKS, test_books=("Jonah",), **kw)
    except FileNotFoundError:
        pytest.skip("Debian's sword-text-kjv/-web are not installed here (scripts/setup.sh)")


def test_split_by_book_keeps_only_pairs_that_fit(tmp_path):
    data, counts = _prepared(tmp_path, src_len=24, tgt_len=24)
    assert {p.ref.split()[0] for p in data.train} == {"Ruth"} and {p.ref.split()[0] for p in data.test} == {"Jonah"}
    # Ruth has 85 verses and Jonah 48: every pair is kept or counted as left out
    assert counts["train"] + counts["train_left_out"] == 85 and counts["test"] + counts["test_left_out"] == 48
    assert counts["train_left_out"] > 0  # 24 tokens is short for a verse: the filter acts
    tok = data.tokenizer
    for p in data.train + data.test:
        assert len(tok.encode(p.source)) <= 23 and len(tok.encode(p.text)) <= 23
    with pytest.raises(ValueError, match="test_books"):
        prepare_bible(tmp_path, books=BOOKS, test_books=("Mark",), src_len=24, tgt_len=24)


def test_tiny_bible_records_are_valid_and_grouped_with_the_copy_baseline(tmp_path):
    _prepared(tmp_path / "cache" / "text-bible", src_len=48, tgt_len=48)  # skips without the data
    recs = run_bible(tmp_path, config=TINY, books=BOOKS, test_books=("Jonah",))
    for r in recs:
        assert record_problems(r, domain="text") == [] and r["task"] in (TASK, "likelihood")
    own = {r["method"] for r in recs if r["setting"] == "ddpm-3steps" and r["metric"] == "BLEU"}
    assert own == {"copy-source", "ar-transformer-greedy", "ar-transformer-sample", "polydiff-diffuseq"}
    bleu = {r["method"]: r for r in recs if r["task"] == TASK and r["metric"] == "BLEU" and r["setting"] == "ddim-2steps"}
    assert set(bleu) == {"copy-source", "ar-transformer-greedy", "ar-transformer-sample", "polydiff-diffuseq",
                         "polydiff-mdlm", "polydiff-mdlm-confidence-greedy"}
    assert len({tuple(r[k] for k in GROUP_FIELDS) for r in bleu.values()}) == 1
    assert {r["n"] for r in bleu.values()} == {3}
    assert 0 < bleu["copy-source"]["value"] < 100  # KJV and WEB share words but are not the same text
    assert not any(r["method"] == "copy-source" and r["metric"] == "tokens/s" for r in recs)
    # each trained model's budget on its records (DiffuSeq its own); copy-source trains nothing
    steps = {r["method"]: r.get("train_steps") for r in bleu.values()}
    assert steps == {"copy-source": None, "ar-transformer-greedy": 2, "ar-transformer-sample": 2,
                     "polydiff-diffuseq": 3, "polydiff-mdlm": 2, "polydiff-mdlm-confidence-greedy": 2}
    # DiffuSeq's records say how it was trained and rounded (not the defaults); the others carry neither
    for r in recs:
        options = {k: r[k] for k in ("time_sampler", "rounding") if k in r}
        assert options == ({"time_sampler": "lossaware", "rounding": "logits"}
                           if r["method"].startswith("polydiff-diffuseq") else {}), r
    nll = {r["method"]: r["n"] for r in recs if r["metric"] == "nll-per-token"}
    assert set(nll) == {"ar-transformer", "polydiff-mdlm"} and len(set(nll.values())) == 1


def test_text_entry_parts(tmp_path):
    with pytest.raises(ValueError, match="run in full mode only, got mode='quick'"):
        run_text("quick", tmp_path, parts=["bible"])
    with pytest.raises(ValueError, match="parts must be"):
        run_text("full", tmp_path, parts=["kjv"])
    with pytest.raises(ValueError, match="mode must be"):
        run_text("fast", tmp_path)
    with pytest.raises(ValueError, match=r"models must be a non-empty list of names from \('diffuseq', 'masked', 'ar'\), got \['gpt'\]"):
        run_text("full", tmp_path, parts=["e2e"], models=["gpt"])
    with pytest.raises(ValueError, match="models must be"):
        run_text("full", tmp_path, parts=["e2e"], models="ar")
    assert text_main(["--models", "ar,gpt", "--full", "--parts", "e2e", "--json", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
