"""Held-out likelihood against truth: an order-2 Markov chain with exact entropy, its exact
forward-backward denoiser, and short training runs of the AR and masked-diffusion models."""
import itertools
import math

import pytest
import torch
from polydiff.core.discrete_state import MaskedDiffusion
from polydiff.core.training import TrainConfig, Trainer
from polydiff.text.likelihood import HeldOutNLL, ar_nll, masked_elbo
from polydiff.text.masked import length_layout, masked_nelbo
from polydiff.text.nets import ARTransformer, TokenDenoiser
from polydiff.text.synthetic import MarkovChain2

K, L = 3, 6
EOS, MASK, BOS = K, K + 1, K + 2
V = K + 3


@pytest.fixture(scope="module")
def chain():
    return MarkovChain2.random(K, 0.3, seed=0)


def _mdlm_rows(x):
    return torch.cat([x, torch.full((len(x), 1), EOS)], 1)


def _ar_rows(x):
    return torch.cat([torch.full((len(x), 1), BOS), x, torch.full((len(x), 1), EOS)], 1)


class Oracle(torch.nn.Module):
    """The exact denoiser of the chain (forward-backward) and the exact length (always L)."""

    def __init__(self, chain):
        super().__init__()
        self.chain = chain

    def forward(self, z):
        logits = torch.full((*z.shape, V), -1e4, dtype=torch.float64)
        logits[:, :L, :K] = torch.log(self.chain.posterior_marginals(z[:, :L], MASK).clamp_min(1e-300))
        length = torch.full((len(z), L + 1), -1e4, dtype=torch.float64)
        length[:, L] = 0.0
        return logits, length


def test_chain_entropy_is_the_mean_exact_log_prob_and_pi_is_stationary(chain):
    P, pi = chain.P, chain.pi
    # pi(b, c) = sum_a pi(a, b) P[a, b, c]
    assert torch.allclose(torch.einsum("ab,abc->bc", pi, P), pi, atol=1e-12)
    x = chain.sample(40000, L, generator=torch.Generator().manual_seed(0))
    nll = -chain.log_prob(x)
    se = float(nll.std()) / math.sqrt(len(x))
    assert abs(float(nll.mean()) - chain.sequence_entropy(L)) < 4 * se
    # the log-probabilities of all K^L sequences sum to one
    every = torch.tensor(list(itertools.product(range(K), repeat=L)))
    assert float(chain.log_prob(every).exp().sum()) == pytest.approx(1.0, abs=1e-12)


def test_posterior_marginals_match_brute_force_enumeration(chain):
    every = torch.tensor(list(itertools.product(range(K), repeat=L)))
    p = chain.log_prob(every).exp()
    g = torch.Generator().manual_seed(1)
    x = chain.sample(20, L, generator=g)
    hide = torch.rand(20, L, generator=g) < 0.5
    z = torch.where(hide, MASK, x)
    got = chain.posterior_marginals(z, MASK)
    for b in range(20):
        ok = ((every == z[b]) | hide[b]).all(1)
        w = p * ok
        want = torch.stack([torch.stack([(w * (every[:, i] == c)).sum() for c in range(K)]) for i in range(L)])
        assert torch.allclose(got[b], want / w.sum(), atol=1e-12)


def test_masked_elbo_with_the_exact_denoiser_equals_the_exact_nll(chain):
    """With the ideal denoiser MDLM's ELBO is tight: E_t[NELBO] = -log p(x) (Sahoo et al. 2024,
    eq. 10 as an expectation over unmasking orders)."""
    x = chain.sample(2000, L, generator=torch.Generator().manual_seed(2))
    proc = MaskedDiffusion(V, MASK)
    r = masked_elbo(Oracle(chain), proc, _mdlm_rows(x), src_len=0, eos_id=EOS, samples=8,
                    generator=torch.Generator().manual_seed(3))
    exact = float(-chain.log_prob(x).sum())
    assert r.tokens == 2000 * (L + 1) and r.rows == 2000
    assert r.nats == pytest.approx(exact, rel=0.01)
    # a denoiser that ignores the context pays the gap to the marginal entropy
    class Blind(Oracle):
        def forward(self, z):
            return super().forward(torch.full_like(z, MASK).masked_fill(z == EOS, EOS))
    blind = masked_elbo(Blind(chain), proc, _mdlm_rows(x), src_len=0, eos_id=EOS, samples=4,
                        generator=torch.Generator().manual_seed(3))
    assert blind.nats > 1.2 * exact


def _train(net, loss_fn, rows, steps, lr=3e-3):
    cfg = TrainConfig(steps=steps, batch_size=64, lr=lr, warmup_steps=steps // 10, lr_schedule="cosine",
                      ema_decay=None, seed=0, log_every=steps)
    Trainer(cfg, net, loss_fn, rows, net_config={}).fit()
    return net.eval()


def _train_ar(chain, steps):
    torch.manual_seed(0)
    x = chain.sample(20000, L, generator=torch.Generator().manual_seed(0))
    net = ARTransformer(V, L + 2, hidden=32, layers=2, heads=4)

    def loss(net, b, g):
        return net.token_nll(b, torch.ones_like(b)).sum() / (b.shape[0] * (b.shape[1] - 1))
    return _train(net, loss, _ar_rows(x), steps)


def _train_mdlm(chain, steps, layers=4):
    torch.manual_seed(0)
    x = chain.sample(20000, L, generator=torch.Generator().manual_seed(0))
    net = TokenDenoiser(V, L + 1, hidden=32, layers=layers, heads=4)
    proc = MaskedDiffusion(V, MASK)

    def loss(net, b, g):
        nats, tokens = masked_nelbo(net, proc, b, src_len=0, eos_id=EOS, generator=g)
        return nats.sum() / tokens.sum()
    return _train(net, loss, _mdlm_rows(x), steps), proc


def test_ar_nll_reaches_the_true_entropy(chain):
    """Exact NLL of a briefly trained AR model within 5% of the chain's entropy (held out)."""
    net = _train_ar(chain, 300)
    x = chain.sample(2000, L, generator=torch.Generator().manual_seed(5))
    r = ar_nll(net, _ar_rows(x), torch.ones(len(x), L + 2))
    truth = chain.sequence_entropy(L) * len(x)
    assert r.tokens == len(x) * (L + 1)
    assert truth <= r.nats * 1.02 and r.nats <= 1.05 * truth, (r.nats / truth)


@pytest.mark.slow  # 1,600 steps: ~2 min on one CPU thread, 7.5 min on the shared 2-core box
def test_masked_elbo_reaches_the_true_entropy(chain):
    """The masked model's held-out ELBO within 5% of the chain's entropy (the issue's truth test;
    measured 4.6% at 1,600 steps, 9% at 600: MDLM learns the any-order conditionals slowly)."""
    net, proc = _train_mdlm(chain, 1600)
    x = chain.sample(2000, L, generator=torch.Generator().manual_seed(5))
    r = masked_elbo(net, proc, _mdlm_rows(x), src_len=0, eos_id=EOS, samples=8,
                    generator=torch.Generator().manual_seed(6))
    truth = chain.sequence_entropy(L) * len(x)
    assert truth <= r.nats * 1.02 and r.nats <= 1.05 * truth, (r.nats / truth)


@pytest.fixture(scope="module")
def toy_mdlm(chain):
    return _train_mdlm(chain, 250, layers=2)


def test_trained_masked_denoiser_uses_context_and_word_order(toy_mdlm, chain):
    """Issue 26's diagnosis, inverted: on a trained toy model the prediction of a masked token
    depends on which tokens are visible and on their order."""
    net, _ = toy_mdlm
    x = chain.sample(500, L, generator=torch.Generator().manual_seed(7))
    rows = _mdlm_rows(x)
    target = 3
    z = rows.clone()
    z[:, target] = MASK
    alone = torch.full_like(rows, MASK)
    alone[:, L] = EOS
    with torch.no_grad():
        nll_ctx = -net(z)[0][:, target, :K].log_softmax(-1).gather(1, x[:, target:target + 1]).mean()
        nll_none = -net(alone)[0][:, target, :K].log_softmax(-1).gather(1, x[:, target:target + 1]).mean()
        # reverse the visible tokens (a permutation of the context that keeps the masked slot)
        perm = torch.tensor([5, 4, 3, 2, 1, 0])
        rev = z.clone()
        rev[:, :L] = z[:, perm]
        rev[:, target], rev[:, L - 1 - target] = MASK, z[:, L - 1 - target]
        p_fwd = net(z)[0][:, target, :K].softmax(-1)
        p_rev = net(rev)[0][:, target, :K].softmax(-1)
    assert nll_ctx < 0.7 * nll_none
    tv = 0.5 * (p_fwd - p_rev).abs().sum(-1).mean()
    assert tv > 0.1


def test_pad_and_eos_slots_never_enter_the_masked_objective(tok):
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM
    torch.manual_seed(0)
    m = MaskedDiffusionLM(MaskedConfig(tok.vocab_size, 40, hidden=32, layers=1, heads=2, src_len=16), tok)
    ids, _ = m.encode_pairs(["The Vaults | pub", "Alimentum | food Chinese | area riverside"],
                            ["The Vaults is a pub .", "Alimentum serves Chinese food by the river ."])
    n, scored = length_layout(ids, 16, tok.eos_id)
    assert n.tolist() == [len(tok.encode("The Vaults is a pub .")),
                          len(tok.encode("Alimentum serves Chinese food by the river ."))]
    seen = []
    pad_noise = torch.randn(2, 40, tok.vocab_size) * 50.0

    class Spy(torch.nn.Module):
        def __init__(self, noisy):
            super().__init__()
            self.noisy = noisy

        def forward(self, z):
            seen.append(z.clone())
            logits, length = m.net(z)
            if self.noisy:  # anything at the unscored slots: must not change the objective
                logits = torch.where(scored[..., None], logits, pad_noise)
            return logits, length

    with torch.no_grad():
        a, ta = masked_nelbo(Spy(False), m.process, ids, src_len=16, eos_id=tok.eos_id,
                             generator=torch.Generator().manual_seed(0))
        b, _ = masked_nelbo(Spy(True), m.process, ids, src_len=16, eos_id=tok.eos_id,
                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.equal(ta, n + 1)
    for z in seen:  # only the n target-token slots are ever masked
        assert torch.equal(z[~scored], ids[~scored])
    # the AR baseline counts the same tokens per row (text + EOS)
    from polydiff.text.ar import ARBaseline, ARConfig
    ar = ARBaseline(ARConfig(tok.vocab_size, 40, hidden=32, layers=1, heads=2, src_len=16), tok)
    assert torch.equal(ar.loss_mask(ids)[:, 1:].sum(1).long(), n + 1)


def test_heldout_nll_records_and_bad_input(chain):
    r = HeldOutNLL(nats=20.0, tokens=10, rows=2)
    assert r.per_token == 2.0 and r.perplexity == pytest.approx(math.exp(2.0))
    proc = MaskedDiffusion(V, MASK)
    rows = _mdlm_rows(chain.sample(4, L))
    with pytest.raises(ValueError, match="samples must be an integer >= 1, got 0"):
        masked_elbo(Oracle(chain), proc, rows, src_len=0, eos_id=EOS, samples=0)
    with pytest.raises(ValueError, match="row 1 has no EOS"):
        length_layout(torch.cat([rows[:1], rows[1:2, :L].repeat(1, 2)[:, : L + 1]]), 0, EOS)
    with pytest.raises(TypeError, match="ids must be an integer tensor"):
        ar_nll(ARTransformer(V, L + 2, 16, 1, 2), rows.float(), torch.ones_like(rows))
    with pytest.raises(ValueError, match="loss_mask must count at least one token"):
        ar_nll(ARTransformer(V, L + 2, 16, 1, 2), rows, torch.zeros_like(rows))
    with pytest.raises(ValueError, match=r"transition rows"):
        MarkovChain2(torch.ones(3, 3, 3))
    with pytest.raises(ValueError, match="neither states"):
        chain.posterior_marginals(torch.full((1, L), 9), MASK)
