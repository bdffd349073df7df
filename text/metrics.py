"""Text-generation metrics.

- :func:`corpus_bleu` — sacreBLEU corpus BLEU (Post 2018), multi-reference;
  :func:`corpus_bleu_interval` adds a bootstrap 95% interval (Koehn 2004).
- :func:`sentence_bleu` — sentence BLEU with Chen & Cherry (2014) smoothing method 4 as in
  NLTK's ``SmoothingFunction().method4`` (the sentence-level BLEU DiffuSeq reports).
- :func:`rouge_l` — ROUGE-L F1 (Lin 2004) via Google's ``rouge-score``; :func:`rouge_ls` per pair.
- :func:`self_bleu` (Zhu et al. 2018, Texygen) and :func:`distinct_n` (Li et al. 2016) for
  diversity.
- :func:`control_success` — share of samples an independent classifier assigns the wanted
  attribute; :func:`perplexity` — fluency under a held-out language model.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import torch
from polydiff.core.validate import check_finite, check_int, check_number, describe
from torch import Tensor

from .checks import check_ids, check_loss_mask, check_texts

__all__ = [
    "control_success",
    "corpus_bleu",
    "corpus_bleu_interval",
    "distinct_n",
    "mean_sentence_bleu",
    "perplexity",
    "rouge_l",
    "rouge_ls",
    "self_bleu",
    "sentence_bleu",
    "sentence_bleus",
]


def _check_pairs(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    check_texts(hyps, "hyps", nonempty=False)
    if isinstance(refs, (str, bytes)) or not isinstance(refs, Sequence):
        raise TypeError(f"refs must be a list of reference lists (one per hypothesis), got {describe(refs)}")
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference lists")
    if len(hyps) == 0:
        raise ValueError("no hypotheses to score")
    for i, r in enumerate(refs):
        if isinstance(r, str) or not isinstance(r, Sequence) or len(r) == 0:
            raise ValueError(f"refs[{i}] must be a non-empty list of strings, got {describe(r)}")
        check_texts(r, f"refs[{i}]", nonempty=False)


def corpus_bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """sacreBLEU corpus BLEU (0-100) of ``hyps`` against per-hypothesis reference lists.

    Hypotheses with fewer references than the maximum get ``None`` entries (sacreBLEU skips
    them). Tokenisation: sacreBLEU's default ``13a``.
    """
    import sacrebleu

    _check_pairs(hyps, refs)
    return float(sacrebleu.corpus_bleu(list(hyps), _streams(refs)).score)


def _streams(refs: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacreBLEU's reference streams: the ``j``-th reference of every hypothesis (``None`` where it has fewer)."""
    k = max(len(r) for r in refs)
    return [[r[j] if j < len(r) else None for r in refs] for j in range(k)]


def corpus_bleu_interval(hyps: Sequence[str], refs: Sequence[Sequence[str]],
                         n_bootstrap: int = 1000) -> tuple[float, tuple[float, float]]:
    """:func:`corpus_bleu` and its 95% percentile-bootstrap interval over the hypotheses (Koehn
    2004): ``n_bootstrap`` resamples drawn and scored by sacreBLEU's own bootstrap (the one behind
    ``--confidence``, its seed), their 2.5th and 97.5th percentiles. sacreBLEU itself prints the
    resamples' mean +- half that range, which can exclude the score on small corpora (BLEU's
    resamples are biased low); the percentiles do not shift that way."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import _bootstrap_resample

    _check_pairs(hyps, refs)
    check_int(n_bootstrap, "n_bootstrap", low=2)
    bleu = BLEU()
    stats = bleu._extract_corpus_statistics(list(hyps), _streams(refs))  # tokenised once, for both
    value = bleu._aggregate_and_compute(stats).score
    _, resampled = _bootstrap_resample(stats, bleu, n_bootstrap)
    scores = sorted(r.score for r in resampled)
    lower = n_bootstrap // 40  # sacreBLEU's order statistics for the 2.5th/97.5th percentiles
    return float(value), (float(scores[lower]), float(scores[n_bootstrap - lower - 1]))


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(hyp: Sequence[str], refs: Sequence[Sequence[str]], max_n: int = 4, k: float = 5.0) -> float:
    """Sentence BLEU (0-1) of token list ``hyp`` with smoothing method 4 (Chen & Cherry 2014).

    Modified n-gram precisions ``p_n = clipped matches / max(1, hyp n-grams)``; every zero
    ``p_n`` becomes ``ln(len(hyp)) / (k 2^j) / denominator`` for the ``j``-th zero (NLTK 3.9's
    method 4); uniform weights; brevity penalty against the closest reference length. No
    unigram match gives 0, as in NLTK. A ``k`` so small that a smoothed precision exceeds 1 is a
    ``ValueError`` naming ``k`` (the score would leave [0, 1]).
    """
    if isinstance(hyp, str) or not isinstance(hyp, Sequence):
        raise TypeError(f"hyp must be a token list (str.split()), got {describe(hyp)}")
    bad = next((j for j, w in enumerate(hyp) if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"hyp[{bad}] must be a str token (hyp is a token list, str.split()), got {describe(hyp[bad])}")
    if isinstance(refs, str) or not isinstance(refs, Sequence):
        raise TypeError(f"refs must be a list of token lists, got {describe(refs)}")
    for i, r in enumerate(refs):
        if isinstance(r, str) or not isinstance(r, Sequence):
            raise TypeError(f"refs[{i}] must be a token list (str.split()), got {describe(r)}")
        bad = next((j for j, w in enumerate(r) if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(f"refs[{i}][{bad}] must be a str token, got {describe(r[bad])}")
    if len(refs) == 0:
        raise ValueError("refs must hold at least one reference, got an empty list")
    max_n = check_int(max_n, "max_n", low=1)
    k = check_number(k, "k", low=0.0, low_open=True)
    hyp_len = len(hyp)
    if hyp_len == 0:
        return 0.0
    log_p, inc = 0.0, 1
    for n in range(1, max_n + 1):
        counts = _ngrams(hyp, n)
        max_ref: Counter = Counter()
        for r in refs:
            for g, c in _ngrams(r, n).items():
                max_ref[g] = max(max_ref[g], c)
        num = sum(min(c, max_ref[g]) for g, c in counts.items())
        den = max(1, sum(counts.values()))
        if n == 1 and num == 0:
            return 0.0
        if num == 0 and hyp_len > 1:
            p = (1.0 / (2**inc * k / math.log(hyp_len))) / den
            inc += 1
            if p > 1.0:
                raise ValueError(f"k={k:g} is too small for this hypothesis: the smoothed precision of its "
                                 f"{n}-grams would be {p:g} > 1 (a zero count scored above a full match); "
                                 f"use a larger k (NLTK's default is 5)")
        else:
            p = num / den
        if p > 0:  # NLTK drops zero precisions from the geometric mean (one-token hypotheses)
            log_p += math.log(p) / max_n
    ref_lens = [len(r) for r in refs]
    r = min(ref_lens, key=lambda L: (abs(L - hyp_len), L))
    bp = 1.0 if hyp_len > r else math.exp(1.0 - r / hyp_len)
    return bp * math.exp(log_p)


def sentence_bleus(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> list[float]:
    """:func:`sentence_bleu` of each pair, whitespace-tokenised (DiffuSeq's BLEU), 0-1."""
    _check_pairs(hyps, refs)
    return [sentence_bleu(h.split(), [r.split() for r in rs]) for h, rs in zip(hyps, refs)]


def mean_sentence_bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Mean of :func:`sentence_bleus` (DiffuSeq's BLEU), 0-1."""
    scores = sentence_bleus(hyps, refs)
    return sum(scores) / len(scores)


def rouge_l(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """Mean ROUGE-L F1 (0-1), best over each hypothesis's references (``rouge-score``)."""
    scores = rouge_ls(hyps, refs)
    return sum(scores) / len(scores)


def rouge_ls(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> list[float]:
    """ROUGE-L F1 (0-1) of each hypothesis, best over its references (``rouge-score``)."""
    from rouge_score import rouge_scorer

    _check_pairs(hyps, refs)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return [max(scorer.score(r, h)["rougeL"].fmeasure for r in rs) for h, rs in zip(hyps, refs)]


def self_bleu(texts: Sequence[str]) -> float:
    """Self-BLEU (Zhu et al. 2018): mean sentence BLEU of each text against all others (0-1;
    lower = more diverse)."""
    texts = check_texts(texts, "texts", nonempty=False)
    if len(texts) < 2:
        raise ValueError(f"texts must hold at least two texts for self-BLEU, got {len(texts)}")
    toks = [t.split() for t in texts]
    scores = [sentence_bleu(h, [r for j, r in enumerate(toks) if j != i and r] or [["<none>"]])
              for i, h in enumerate(toks)]
    return sum(scores) / len(scores)


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """distinct-n (Li et al. 2016): distinct n-grams / all n-grams over ``texts`` (0-1)."""
    texts = check_texts(texts, "texts", nonempty=False)
    if len(texts) == 0:
        raise ValueError("texts must hold at least one text, got an empty list")
    n = check_int(n, "n", low=1)
    grams: Counter = Counter()
    for t in texts:
        grams.update(_ngrams(t.split(), n))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def _vocab_size(model: torch.nn.Module) -> int | None:
    """The model's ``vocab_size``, else the size of its first embedding table (``None``: unknown)."""
    if isinstance(getattr(model, "vocab_size", None), int):
        return model.vocab_size
    if isinstance(model, torch.nn.Module):
        return next((m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    return None


@torch.no_grad()
def control_success(classifier: torch.nn.Module, ids: Tensor, label: int | Tensor) -> float:
    """Share of rows of ``ids`` ``[B, L]`` whose multi-label ``classifier(ids)`` gives the wanted
    attribute probability > 0.5 (use an *independently trained* classifier)."""
    check_ids(ids, "ids", vocab_size=_vocab_size(classifier))
    if isinstance(label, Tensor):
        check_ids(label, "label", ndim=(0, 1))
        if label.ndim == 1 and label.shape[0] != len(ids):
            raise ValueError(f"label must be one int or one per row of ids ({len(ids)}), got shape "
                             f"{tuple(label.shape)}")
    else:
        label = torch.tensor(check_int(label, "label", low=0))
    if not callable(classifier):
        raise TypeError(f"classifier must be a callable classifier(ids) -> logits, got {describe(classifier)}")
    logits = classifier(ids)
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != len(ids):
        raise ValueError(f"classifier(ids) must return logits [{len(ids)}, K], got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}")
    check_finite(logits, "classifier(ids) logits")
    lab = label.reshape(-1).expand(len(ids))
    if int(lab.max()) >= logits.shape[1]:
        raise ValueError(f"label must be an attribute index in [0, {logits.shape[1]}), got {int(lab.max())}")
    return float((logits.gather(1, lab[:, None]) > 0).float().mean())


@torch.no_grad()
def perplexity(lm: torch.nn.Module, ids: Tensor, loss_mask: Tensor) -> float:
    """``exp(total NLL / counted tokens)`` under an autoregressive ``lm`` with a
    ``token_nll(ids, loss_mask) -> [B]`` method (see :class:`~polydiff.text.nets.ARTransformer`)."""
    if not callable(getattr(lm, "token_nll", None)):
        raise TypeError(f"lm must be an autoregressive model with token_nll(ids, loss_mask) (an ARTransformer), "
                        f"got {describe(lm)}")
    check_ids(ids, "ids", vocab_size=_vocab_size(lm))
    check_loss_mask(loss_mask, "loss_mask", ids.shape)
    count = float(loss_mask[:, 1:].sum())
    if count == 0:
        raise ValueError("loss_mask must count at least one token (at positions >= 1), got none")
    from .likelihood import exp_perplexity
    return exp_perplexity(float(lm.token_nll(ids, loss_mask).sum()) / count)
