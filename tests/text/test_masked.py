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
    with pytest.raises(ValueError, match="empty string"):
        mdlm.generate([""], 1, 2)
    with pytest.raises(ValueError, match="needs sources"):
        mdlm.sample_ids(None, 2, 2)
