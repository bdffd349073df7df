"""Fuzz of the text front doors: the sentencepiece tokeniser with arbitrary strings and ids, and
Diffusion-LM generation with arbitrary controls, counts, step numbers and infill templates.
Each example ends in a named error raised by polydiff or in a correct result (see fuzz.py)."""
import functools
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, outcome

pytest.importorskip("polydiff.text")
from polydiff.text.data import attribute_vocabulary, load_e2e, split_by_restaurant
from polydiff.text.diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig
from polydiff.text.tokenizer import train_tokenizer

VALID = [None] * 6
SEQ = 12


@functools.cache
def _model() -> DiffusionLM:
    train, _ = split_by_restaurant(load_e2e())
    tok = train_tokenizer([e.text for e in train] + [e.compact_source for e in train], 1000)
    cfg = EmbeddingDiffusionConfig(vocab_size=tok.vocab_size, seq_len=SEQ, emb_dim=8, hidden=16, layers=1,
                                   heads=2, T=50)
    torch.manual_seed(0)
    return DiffusionLM(cfg, tok, attribute_vocabulary(train)).eval()


# any Unicode text, including control characters, combining marks, emoji and surrogate-free planes
TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=40)


@FUZZ
@given(text=TEXT)
def test_encode_decode_round_trip_of_arbitrary_strings(text):
    tok = _model().tokenizer
    ids, err = outcome(lambda: tok.encode(text))
    assert (err is None) == bool(text.strip()), err  # only blank strings are refused
    if ids is not None:
        assert all(0 <= i < tok.vocab_size for i in ids)
        canonical = " ".join(text.split())  # the documented round trip: single spaces, no edges
        if canonical == text:
            assert tok.decode(ids) == text


@FUZZ
@given(ids=st.lists(st.integers(-3, 1100), max_size=20))
def test_decode_of_arbitrary_ids(ids):
    tok = _model().tokenizer
    text, err = outcome(lambda: tok.decode(ids))
    before_eos = ids[: ids.index(3)] if 3 in ids else ids
    assert (err is None) == all(0 <= i < tok.vocab_size for i in before_eos), err
    if text is not None:
        assert isinstance(text, str)


@FUZZ
@given(texts=st.lists(TEXT, min_size=0, max_size=3), max_len=st.integers(-1, 20), truncate=st.booleans(),
       bos=st.booleans())
def test_encode_batch_lengths(texts, max_len, truncate, bos):
    tok = _model().tokenizer
    rows, err = outcome(lambda: tok.encode_batch(texts, max_len, truncate=truncate, bos=bos))
    if rows is not None:
        assert rows.shape == (len(texts), max_len) and rows.dtype == torch.long
        assert ((rows >= 0) & (rows < tok.vocab_size)).all()
        assert (rows == 3).sum(1).eq(1).all()  # exactly one EOS per row, truncated or not
    else:
        lengths = [len(tok.encode(t)) + 1 + bos if t.strip() else None for t in texts]
        assert (not texts or None in lengths or max_len < 2 + bos
                or (not truncate and max(lengths) > max_len)), err


@FUZZ
@given(n=st.integers(1, 2), steps=st.integers(1, 3), solver=st.sampled_from(["ddim", "ddpm", "dpmpp_2m"]),
       control=st.sampled_from([None, "food : Chinese", "area : riverside", " Type :  coffee shop "]),
       fault=st.sampled_from(VALID + ["n0", "n-float", "steps0", "solver", "control-unknown", "control-garbage",
                                      "control-type", "controls-str"]),
       garbage=TEXT)
def test_generate_with_arbitrary_controls(n, steps, solver, control, fault, garbage):
    controls = None if control is None else [control]
    if fault == "n0":
        n = 0
    elif fault == "n-float":
        n = 1.5
    elif fault == "steps0":
        steps = 0
    elif fault == "solver":
        solver = "beam"
    elif fault == "control-unknown":
        controls = ["food : Martian"]
    elif fault == "control-garbage":
        controls = [garbage if ":" not in garbage else "no colon"]
    elif fault == "control-type":
        controls = [3]
    elif fault == "controls-str":
        controls = "food : Chinese"
    model = _model()
    out, err = outcome(lambda: model.generate(controls, n=n, steps=steps, solver=solver,
                                              generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if out is not None:
        assert len(out) == n * (1 if controls is None else len(controls))
        assert all(isinstance(s, str) for s in out)


@FUZZ
@given(n=st.integers(1, 2), seed=st.integers(0, 2**16),
       fault=st.sampled_from(VALID + ["id-too-large", "shape", "float-ids", "rank1"]))
def test_infill_templates(n, seed, fault):
    model = _model()
    g = torch.Generator().manual_seed(seed)
    V = model.config.vocab_size
    infill = torch.randint(-1, V, (n, SEQ), generator=g)
    if fault == "id-too-large":
        infill[0, 0] = V + 5
    elif fault == "shape":
        infill = infill[:, :-1]
    elif fault == "float-ids":
        infill = infill.float()
    elif fault == "rank1":
        infill = infill[0]
    ids, err = outcome(lambda: model.sample_ids(n, steps=2, infill=infill, generator=torch.Generator().manual_seed(0)))
    assert (err is None) == (fault is None), err
    if ids is not None:
        keep = infill >= 0
        assert torch.equal(ids[keep], infill[keep])  # kept positions come back unchanged
