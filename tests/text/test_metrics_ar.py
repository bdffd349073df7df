"""Metrics against hand-computed values and peer libraries; the AR baseline's truths."""
import math
import random

import pytest
import torch
from polydiff.text.ar import ARBaseline, ARConfig
from polydiff.text.metrics import (
    control_success,
    corpus_bleu,
    corpus_bleu_interval,
    distinct_n,
    mean_sentence_bleu,
    perplexity,
    rouge_l,
    rouge_ls,
    self_bleu,
    sentence_bleu,
)


def test_sentence_bleu_hand_computed():
    # all n-gram precisions 1, BP = exp(1 - 6/4)
    assert sentence_bleu(["the", "cat", "sat", "on"], [["the", "cat", "sat", "on", "the", "mat"]]) == \
        pytest.approx(math.exp(1 - 6 / 4), rel=1e-12)
    # p = (5/5, 3/4, 1/3, 0/2 -> ln(5) / (5 * 2^1) / 2), BP = exp(1 - 6/5)
    got = sentence_bleu(["a", "b", "c", "d", "e"], [["a", "b", "c", "x", "d", "e"]])
    p4 = math.log(5) / 10 / 2
    want = math.exp(1 - 6 / 5) * math.exp(0.25 * (math.log(3 / 4) + math.log(1 / 3) + math.log(p4)))
    assert got == pytest.approx(want, rel=1e-12)
    assert sentence_bleu(["x"], [["y", "z"]]) == 0.0


def test_sentence_bleu_matches_nltk_method4():
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    sm = nltk_bleu.SmoothingFunction().method4
    rng = random.Random(0)
    words = ["the", "a", "pub", "cafe", "near", "river", "cheap", "food", "is", "in"]
    for _ in range(300):
        hyp = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        refs = [[rng.choice(words) for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 3))]
        assert sentence_bleu(hyp, refs) == pytest.approx(nltk_bleu.sentence_bleu(refs, hyp, smoothing_function=sm),
                                                         rel=1e-12, abs=1e-15)


def test_corpus_bleu_is_sacrebleu_with_ragged_references():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = ["The Vaults is a pub near Café Adriatic .", "Alimentum is not family - friendly ."]
    refs = [["The Vaults pub is near Café Adriatic .", "The Vaults is a pub ."],
            ["Alimentum is not family - friendly ."]]
    assert corpus_bleu(hyps, refs) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [[refs[0][0], refs[1][0]], [refs[0][1], None]]).score)
    assert corpus_bleu(["a b c d e"], [["a b c d e"]]) == pytest.approx(100.0)


def test_corpus_bleu_interval_is_the_percentile_bootstrap():
    """The interval against an independent bootstrap: the same resampled hypothesis sets (sacreBLEU's
    seed and draw) scored one by one through sacrebleu.corpus_bleu, ragged references included."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("sacrebleu")
    rng = random.Random(1)
    words = "the a pub cafe near river cheap food is in family friendly".split()
    hyps = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(40)]
    refs = [[" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(rng.randint(1, 2))]
            for _ in range(40)]
    value, (lo, hi) = corpus_bleu_interval(hyps, refs, n_bootstrap=200)
    assert value == pytest.approx(corpus_bleu(hyps, refs), rel=1e-12)
    idx = np.random.default_rng(12345).choice(len(hyps), size=(200, len(hyps)), replace=True)
    scores = sorted(corpus_bleu([hyps[i] for i in row], [refs[i] for i in row]) for row in idx)
    # sacreBLEU sums the resampled statistics in float32
    assert (lo, hi) == (pytest.approx(scores[5], rel=1e-6), pytest.approx(scores[194], rel=1e-6))
    assert lo < value < hi and hi - lo > 0.3
    # a corpus of perfect copies has no spread
    assert corpus_bleu_interval(["a b c d e"] * 5, [["a b c d e"]] * 5, n_bootstrap=50) == \
        (pytest.approx(100.0), (pytest.approx(100.0), pytest.approx(100.0)))


def test_rouge_l_distinct_self_bleu_known_values():
    # LCS 3: P = 1, R = 1/2 -> F = 2/3; the best reference counts
    assert rouge_l(["the cat sat"], [["a dog", "the cat sat on the mat"]]) == pytest.approx(2 / 3)
    assert rouge_ls(["the cat sat", "a dog"], [["the cat sat on the mat"], ["a dog"]]) == \
        [pytest.approx(2 / 3), pytest.approx(1.0)]
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["a b c", "a b c"], 1) == pytest.approx(3 / 6)
    assert self_bleu(["the pub is by the river", "the pub is by the river"]) == pytest.approx(1.0)
    assert mean_sentence_bleu(["a b c d"], [["a b c d"]]) == pytest.approx(1.0)


def test_metric_input_errors():
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(TypeError, match="not one str"):
        rouge_l("abc", [["abc"]])
    with pytest.raises(ValueError, match="at least two"):
        self_bleu(["one"])


def test_uniform_lm_has_perplexity_equal_to_vocab_size(tok):
    m = ARBaseline(ARConfig(tok.vocab_size, 17, hidden=16, layers=1, heads=2), tok)
    torch.nn.init.zeros_(m.net.embed.weight)  # tied head -> zero logits -> uniform
    ids = m.encode(["The Vaults is a pub .", "Alimentum is in the city centre ."], truncate=True)
    assert perplexity(m.net, ids, m.loss_mask(ids)) == pytest.approx(tok.vocab_size, rel=1e-5)


def test_ar_loss_mask_counts_target_through_eos(tok):
    m = ARBaseline(ARConfig(tok.vocab_size, 40, hidden=16, layers=1, heads=2, src_len=20), tok)
    ids = m.encode(["The Vaults is a pub ."], ["The Vaults | Type pub"])
    mask = m.loss_mask(ids)
    n_tgt = len(tok.encode("The Vaults is a pub .")) + 1  # + EOS
    assert mask[0, :20].sum() == 0 and mask[0, 20:].sum() == n_tgt
    assert int(ids[0, 20 + n_tgt - 1]) == tok.eos_id


def test_ar_generation_pads_after_eos_and_control_success(tok):
    torch.manual_seed(0)
    m = ARBaseline(ARConfig(tok.vocab_size, 40, hidden=16, layers=1, heads=2, src_len=20), tok).eval()
    out = m.sample_ids(["The Vaults | Type pub"] * 3, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 20)
    for row in out.tolist():
        if tok.eos_id in row:
            k = row.index(tok.eos_id)
            assert all(v == tok.eos_id for v in row[k:])

    class Fixed(torch.nn.Module):  # logit of attribute 1 positive iff token 7 is present
        def forward(self, ids):
            return torch.stack([torch.zeros(len(ids)), (ids == 7).any(1).float() * 2 - 1], 1)

    ids = torch.tensor([[7, 0, 0], [1, 2, 3], [7, 7, 7], [4, 5, 6]])
    assert control_success(Fixed(), ids, 1) == pytest.approx(0.5)
