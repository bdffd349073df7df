"""The denoisers' inputs: positions and time each change the output; rotary attention depends
on relative offsets only; the source of a seq2seq row never reads its target."""
import pytest
import torch
from polydiff.text.nets import TokenDenoiser, TransformerDenoiser
from polydiff.text.rotary import RotaryEncoder, apply_rotary, rotary_tables


def test_rotary_scores_depend_on_the_offset_only():
    """Su et al. 2021, eq. 16: <R_m q, R_n k> = <q, R_{n-m} k>; a shift of both positions keeps it."""
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8, generator=g), torch.randn(1, 1, 1, 8, generator=g)
    cos, sin = rotary_tables(20, 8)

    def score(m, n):
        return float((apply_rotary(q, cos[m:m + 1], sin[m:m + 1]) * apply_rotary(k, cos[n:n + 1], sin[n:n + 1])).sum())

    assert score(3, 7) == pytest.approx(score(10, 14), abs=1e-5)
    assert score(0, 0) == pytest.approx(float((q * k).sum()), abs=1e-6)  # no rotation at offset 0
    assert abs(score(3, 7) - score(3, 8)) > 1e-3
    with pytest.raises(ValueError, match="even head dimension"):
        RotaryEncoder(12, 1, 4)


def test_token_denoiser_sees_word_order_and_has_no_time_input():
    torch.manual_seed(0)
    net = TokenDenoiser(20, 10, hidden=32, layers=2, heads=4).eval()
    ids = torch.tensor([[6, 7, 8, 9, 5, 5, 10, 11, 3, 0]])
    shuffled = torch.tensor([[9, 8, 7, 6, 5, 5, 11, 10, 3, 0]])
    with torch.no_grad():
        a, _ = net(ids)
        b, _ = net(shuffled)
    # the masked slots (id 5) sit at the same positions with the same multiset of visible tokens
    assert (a[0, 4:6] - b[0, 4:6]).abs().max() > 1e-4
    with pytest.raises(TypeError):
        net(ids, torch.zeros(1))  # MDLM's denoiser takes no time


def test_seq2seq_source_states_and_length_ignore_the_target():
    torch.manual_seed(0)
    net = TokenDenoiser(20, 12, hidden=32, layers=2, heads=4, src_len=5).eval()
    a = torch.tensor([[6, 7, 8, 4, 0, 9, 10, 11, 3, 0, 0, 0]])
    b = a.clone()
    b[0, 5:9] = torch.tensor([12, 13, 14, 15])
    with torch.no_grad():
        (la, na), (lb, nb) = net(a), net(b)
    assert na.shape == (1, 7) and torch.equal(na, nb)
    assert torch.allclose(la[:, :5], lb[:, :5], atol=1e-6) and not torch.allclose(la[:, 5:], lb[:, 5:])


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_embedding_denoiser_positions_count_and_time_starts_switched_off(positions):
    torch.manual_seed(0)
    net = TransformerDenoiser(30, 8, emb_dim=16, hidden=32, layers=2, heads=4, positions=positions).eval()
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(1))
    perm = torch.tensor([3, 1, 0, 2, 7, 5, 6, 4])
    with torch.no_grad():
        y = net(x, torch.tensor([10.0, 10.0]))
        y_perm = net(x[:, perm], torch.tensor([10.0, 10.0]))
        # positions matter: permuting the input does not just permute the output
        assert (y_perm - y[:, perm]).abs().max() > 1e-2
        # adaLN-zero: at initialisation the time projection is zero, so t changes nothing
        assert torch.equal(net(x, torch.tensor([1500.0, 1500.0])), y)


def test_embedding_denoiser_time_changes_the_output_after_training():
    """One gradient step of the x0 loss at two very different times is enough to switch the
    time modulation on; after it, the same x_t at t=10 and t=1500 gives different x0_hat."""
    torch.manual_seed(0)
    net = TransformerDenoiser(30, 8, emb_dim=16, hidden=32, layers=1, heads=4)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        x0 = torch.randn(16, 8, 16, generator=g)
        t = torch.cat([torch.full((8,), 10.0), torch.full((8,), 1500.0)])
        noise = torch.randn(16, 8, 16, generator=g)
        keep = torch.where(t < 100, 0.99, 0.1)[:, None, None]
        loss = ((net(keep.sqrt() * x0 + (1 - keep).sqrt() * noise, t) - x0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    x = torch.randn(2, 8, 16, generator=g)
    with torch.no_grad():
        assert (net(x, torch.tensor([10.0, 10.0])) - net(x, torch.tensor([1500.0, 1500.0]))).abs().max() > 1e-3
    with pytest.raises(ValueError, match="t must be a scalar or of shape"):
        net(x, torch.zeros(3))


def test_embedding_denoiser_refuses_an_unknown_position_encoding():
    with pytest.raises(ValueError, match="positions must be one of"):
        TransformerDenoiser(30, 8, positions="absolute")


def test_token_denoiser_bad_input():
    net = TokenDenoiser(20, 12, hidden=32, layers=1, heads=4, src_len=5)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 20\)"):
        net(torch.full((1, 12), 25))
    with pytest.raises(ValueError, match="exceeds the model's seq_len=12"):
        net(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="needs rows of seq_len=12, got 8"):
        net(torch.zeros(1, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.long"):
        net(torch.zeros(1, 12))
    with pytest.raises(ValueError, match="src_len must be in"):
        TokenDenoiser(20, 12, hidden=32, layers=1, heads=4, src_len=12)


def test_config_dropout_reaches_every_text_network(tok):
    from polydiff.text.ar import ARBaseline, ARConfig
    from polydiff.text.diffuseq import DiffuSeq
    from polydiff.text.diffusion_lm import EmbeddingDiffusionConfig
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM
    V = tok.vocab_size
    models = [MaskedDiffusionLM(MaskedConfig(V, 20, 16, 1, 2, src_len=8, dropout=0.1), tok),
              ARBaseline(ARConfig(V, 20, 16, 1, 2, src_len=8, dropout=0.1), tok),
              DiffuSeq(EmbeddingDiffusionConfig(V, 20, 16, 1, 2, src_len=8, dropout=0.1, T=10), tok)]
    for m in models:
        ps = {mod.p for mod in m.net.modules() if isinstance(mod, torch.nn.Dropout)}
        assert ps == {0.1}, type(m).__name__
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\), got 1.5"):
        MaskedConfig(V, 20, dropout=1.5)
