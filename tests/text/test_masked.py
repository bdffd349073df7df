"""Masked diffusion on core's discrete-state process: fixed source, mask-free outputs, errors."""
import pytest
import torch
from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM


@pytest.fixture
def mdlm(tok):
    torch.manual_seed(0)
    return MaskedDiffusionLM(MaskedConfig(tok.vocab_size, 48, hidden=32, layers=1, heads=2, src_len=24), tok).eval()


def test_source_positions_stay_fixed_during_sampling_and_training(mdlm, e2e_split):
    src = [e.compact_source for e in e2e_split[1][:3]]
    seen = []
    forward = mdlm.net.forward

    def spy(ids):
        seen.append(ids.clone())
        return forward(ids)

    mdlm.net.forward = spy
    out = mdlm.sample_ids(src, steps=4, truncate=True, generator=torch.Generator().manual_seed(0))
    enc = mdlm.encode_pairs(src, ["x"] * 3, truncate=True)[0][:, :24]
    assert out.shape == (3, 24) and not (out == mdlm.tokenizer.mask_id).any()
    assert all(torch.equal(z[:, :24], enc) for z in seen)
    # the loss never masks the source either
    seen.clear()
    ex = e2e_split[0][:4]
    ids, fixed = mdlm.encode_pairs([e.compact_source for e in ex], [e.text for e in ex], truncate=True)
    loss = mdlm.loss(ids, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and torch.equal(seen[0][:, :24], ids[:, :24]) and fixed[:, :24].all()


def test_masked_bad_inputs(mdlm):
    with pytest.raises(ValueError, match="ancestral"):
        mdlm.generate(["The Vaults | Type pub"], 1, 2, solver="ddim")
    with pytest.raises(ValueError, match=r"sources\[0\] must be a non-empty text"):
        mdlm.generate([""], 1, 2)
    with pytest.raises(ValueError, match="needs sources"):
        mdlm.sample_ids(None, 2, 2)


def test_decoding_draws_a_length_then_fills_exactly_that_many_slots(mdlm, e2e_split):
    tok = mdlm.tokenizer
    src = [e.compact_source for e in e2e_split[1][:4]]
    out = mdlm.sample_ids(src, steps=5, truncate=True, temperature=0.0)
    again = mdlm.sample_ids(src, steps=5, truncate=True, temperature=0.0)
    assert torch.equal(out, again)  # greedy: length mode and argmax tokens
    prefix = mdlm.encode_pairs(src, ["x"] * 4, truncate=True)[0][:, :24]
    with torch.no_grad():
        n = mdlm.net(torch.cat([prefix, torch.full((4, 24), tok.mask_id)], 1))[1].argmax(-1)
    for row, k in zip(out.tolist(), n.tolist()):
        assert tok.mask_id not in row and tok.eos_id not in row[:k] and row[k] == tok.eos_id
        assert all(v == tok.pad_id for v in row[k + 1:])


def test_masked_over_length_and_unknown_tokens_are_named(mdlm):
    with pytest.raises(ValueError, match=r"sources\[0\] has \d+ tokens; with <sep> more than src_len=24"):
        mdlm.generate([" ".join(["riverside"] * 40)], 1, 2)
    with pytest.raises(ValueError, match=r"ids must hold token ids in \[0, "):
        mdlm.loss(torch.full((2, 48), mdlm.config.vocab_size + 3))
    with pytest.raises(ValueError, match="no EOS"):
        mdlm.loss(torch.full((2, 48), 7))
    with pytest.raises(ValueError, match=r"temperature must lie in \[0, inf\)"):
        mdlm.sample_ids(["The Vaults | Type pub"], temperature=-1.0)


def test_confidence_solver_decodes_the_drawn_length(mdlm, e2e_split):
    tok = mdlm.tokenizer
    src = [e.compact_source for e in e2e_split[1][:2]]
    out = mdlm.sample_ids(src, steps=4, truncate=True, temperature=0.0, solver="confidence")
    assert not (out == tok.mask_id).any() and (out == tok.eos_id).any(1).all()
    assert len(mdlm.generate(src, 1, 4, solver="confidence", truncate=True, temperature=0.0)) == 2
