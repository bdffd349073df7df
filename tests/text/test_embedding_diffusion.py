"""Diffusion-LM and DiffuSeq: rounding, clamping, partial noising, anchoring, infilling, control."""
import polydiff.core as pc
import pytest
import torch
from polydiff.text.data import references_by_source
from polydiff.text.diffuseq import DiffuSeq, mbr_select
from polydiff.text.diffusion_lm import (
    ControlHook,
    DiffusionLM,
    EmbeddingDiffusionConfig,
    clamp_hook,
    forward_sample,
    nearest_token,
    round_to_tokens,
)


@pytest.fixture
def dlm(tok, attributes):
    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok.vocab_size, 24, emb_dim=16, hidden=32, layers=1, heads=2, T=200)
    return DiffusionLM(cfg, tok, attributes).eval()


@pytest.fixture
def dseq(tok):
    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok.vocab_size, 48, emb_dim=16, hidden=32, layers=1, heads=2, T=200,
                                   src_len=24)
    return DiffuSeq(cfg, tok).eval()


def test_rounding_recovers_a_sequence_from_its_own_embeddings(dlm, e2e_split):
    ids = dlm.encode([e.text for e in e2e_split[1][:6]], truncate=True)
    x = dlm.net.embed_tokens(ids)
    assert torch.equal(round_to_tokens(x, dlm.net.embed.weight), ids)


def test_clamp_hook_returns_exact_nearest_embedding_rows(dlm):
    W = dlm.net.embed.weight.detach()
    x0_hat = torch.randn(3, 24, 16, generator=torch.Generator().manual_seed(1))
    out = clamp_hook(W)(x0_hat, torch.zeros(3))
    brute = torch.cdist(x0_hat.reshape(-1, 16).double(), W.double()).argmin(1).reshape(3, 24)
    assert torch.equal(nearest_token(x0_hat, W), brute)
    assert torch.equal(out, W[brute])  # bitwise rows of the table


def test_partial_noising_never_changes_source_positions(dseq, e2e_split):
    ex = e2e_split[0][:8]
    ids, mask = dseq.encode_pairs([e.compact_source for e in ex], [e.text for e in ex], truncate=True)
    _, x0, _, x_t = forward_sample(dseq.net, dseq.process, ids, noise_mask=mask,
                                     generator=torch.Generator().manual_seed(0))
    S = dseq.config.src_len
    assert torch.equal(x_t[:, :S], x0[:, :S])
    assert (x_t[:, S:] != x0[:, S:]).all()
    assert torch.equal(mask[:, :S], torch.zeros_like(mask[:, :S])) and (mask[:, S:] == 1).all()


@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m", "ddpm"])
def test_anchoring_reimposes_the_clean_source_at_every_model_call(dseq, e2e_split, solver):
    src = [e.compact_source for e in e2e_split[1][:3]]
    seen = []
    forward = dseq.net.forward

    def spy(x, t):
        seen.append(x.detach().clone())
        return forward(x, t)

    dseq.net.forward = spy
    out = dseq.sample_ids(src, steps=4, solver=solver, generator=torch.Generator().manual_seed(0))
    src_emb = dseq.net.embed.weight[dseq.encode_sources(src)].detach()
    assert len(seen) >= 4 and out.shape == (3, 24)
    for x in seen:
        assert torch.equal(x[:, :24], src_emb)


def test_infilling_keeps_fixed_tokens(dlm, tok):
    template = torch.full((2, 24), -1, dtype=torch.long)
    fixed = torch.tensor(tok.encode("The Vaults is a pub"))
    template[:, : len(fixed)] = fixed
    ids = dlm.sample_ids(2, steps=5, solver="ddim", infill=template, clamp=False,
                         generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids[:, : len(fixed)], fixed.expand(2, -1))


def test_control_hook_raises_classifier_logprob_and_fluency_anchors(dlm):
    lab = torch.full((4,), dlm.control_index("area : riverside"))
    x = torch.randn(4, 24, 16, generator=torch.Generator().manual_seed(0))
    t = torch.full((4,), 100.0)

    def logp(y):
        return torch.nn.functional.logsigmoid(dlm.classifier(y, t).gather(1, lab[:, None])).sum()

    with torch.no_grad():
        free = ControlHook(dlm.classifier, lab, dlm.process, steps=3, step_size=0.05, fluency=0.0)(x, t)
        tight = ControlHook(dlm.classifier, lab, dlm.process, steps=3, step_size=0.05, fluency=19.0)(x, t)
        assert logp(free) > logp(x)
        assert (tight - x).norm() < (free - x).norm()


def test_bad_inputs_raise_clear_errors(dlm, dseq, tok):
    with pytest.raises(ValueError, match="unknown control attribute 'food : Italian'"):
        dlm.generate(["food : Italian"], 1, steps=2)
    with pytest.raises(ValueError, match="unknown solver"):
        dlm.generate(None, 1, steps=2, solver="nope")
    with pytest.raises(ValueError, match=r"sources\[0\] must be a non-empty text"):
        dseq.generate([""], 1, steps=2)
    with pytest.raises(ValueError, match=r"sources\[0\] has 40 tokens; with <sep> more than src_len=24"):
        dseq.generate([" ".join(["riverside"] * 40)], 1, steps=2)
    with pytest.raises(ValueError, match="more than max_len=24"):
        dlm.encode([" ".join(["riverside"] * 40)])
    with pytest.raises(TypeError, match="list of strings"):
        dseq.generate("The Vaults | food Chinese", 1)


def test_mbr_picks_the_consensus_candidate():
    cands = ["the pub is near the river .", "a b c d e f g", "the pub is near the river", "zz yy"]
    assert mbr_select(cands) in (0, 2)
    assert mbr_select(["only one"]) == 0


def test_save_load_round_trip(dseq, tmp_path, e2e_split):
    dseq.save(tmp_path / "m")
    again = DiffuSeq.load(tmp_path / "m").eval()
    src = [e2e_split[1][0].compact_source]
    a = dseq.sample_ids(src, steps=3, generator=torch.Generator().manual_seed(0))
    b = again.sample_ids(src, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not list(tmp_path.glob("m/*.pt")) and not list(tmp_path.glob("m/*.pkl"))


def test_learned_positions_round_trip_and_configs_saved_before_the_option_load_as_learned(tok, tmp_path, e2e_split):
    import json

    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok.vocab_size, 48, emb_dim=16, hidden=32, layers=1, heads=2, T=200,
                                   src_len=24, positions="learned")
    m = DiffuSeq(cfg, tok).eval()
    assert m.net.positions == "learned" and hasattr(m.net, "pos")
    m.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    del meta["config"]["positions"]  # a checkpoint written before the option existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    again = DiffuSeq.load(tmp_path / "m").eval()
    assert again.config.positions == "learned"
    src = [e2e_split[1][0].compact_source]
    a = m.sample_ids(src, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, again.sample_ids(src, steps=3, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="positions must be one of"):
        EmbeddingDiffusionConfig(tok.vocab_size, 48, src_len=24, positions="sinusoidal")


def test_sqrt_schedule_is_core_discrete_vp(dlm):
    assert isinstance(dlm.process, pc.DiscreteVP)
    T = dlm.config.T
    ab = dlm.process.alphas_cumprod
    t = torch.arange(1, T + 1, dtype=torch.float64) / T
    # Li et al. App. A: f(t) = 1 - sqrt(t + 1e-4); betas_i = 1 - f((i+1)/T) / f(i/T), so the
    # cumulative product telescopes to f((i+1)/T) / f(0) (the last beta is clipped at 0.999)
    f = lambda u: 1 - torch.sqrt(u + 1e-4)
    assert torch.allclose(ab[:-1], (f(t) / f(torch.tensor(0.0, dtype=torch.float64)))[:-1], rtol=1e-9)


def test_restricted_vocabulary_rounds_only_to_allowed_tokens(dseq, e2e_split):
    ex = e2e_split[0][:16]
    ids, _ = dseq.encode_pairs([e.compact_source for e in ex], [e.text for e in ex], truncate=True)
    tgt = ids[:, dseq.config.src_len:]
    dseq.restrict_vocabulary(tgt)
    allowed = set(tgt.flatten().tolist())
    out = dseq.sample_ids([ex[0].compact_source] * 2, steps=3, truncate=True,
                          generator=torch.Generator().manual_seed(0))
    assert set(out.flatten().tolist()) <= allowed
    # a sequence made of allowed tokens still rounds back to itself
    assert torch.equal(dseq._round(dseq.net.embed_tokens(tgt)), tgt)


@pytest.mark.parametrize("solver", ["ddpm", "ddim", "dpmpp_2m"])
def test_every_solver_decodes_at_the_papers_step_count_from_the_noisiest_timestep(dlm, dseq, e2e_split, solver):
    """Decoding at steps = T (Li et al. and Gong et al. use every one of the 2,000 steps) and at
    fewer steps: the grid starts at t = T - 1, where x_T ~ prior lives, and never repeats a time."""
    T = dlm.config.T
    for steps in (T, 7):
        grid = dlm.process.grid(steps, solver)
        evaluated = grid.t[:-1]
        assert float(evaluated[0]) == T - 1 and len(torch.unique(evaluated)) == steps
    g = torch.Generator().manual_seed(0)
    assert dlm.sample_ids(1, steps=T, solver=solver, generator=g).shape == (1, dlm.config.seq_len)
    src = [e2e_split[1][0].compact_source]
    assert len(dseq.generate(src, 1, T, solver, truncate=True, generator=g)) == 1


@pytest.mark.parametrize(("solver", "steps"), [("ddim", 50), ("ddim", 20), ("ddpm", 50), ("dpmpp_2m", 20)])
@pytest.mark.parametrize("clamp", [True, False])
def test_sampling_with_the_exact_posterior_mean_denoiser_returns_a_reference(dseq, e2e_split, solver, steps, clamp):
    """Plumbing oracle (issue 26): give DiffuSeq's sampler the exact ``E[x0 | x_t, source]`` of a
    finite data set (each source's references, equally likely). Whatever a trained denoiser lacks,
    the sampler, the trailing grid, anchoring, clamping and rounding must then return one of the
    source's references token for token, from pure noise at few steps."""
    by_src = references_by_source(e2e_split[1])
    sources = [s for s in sorted(by_src) if len(by_src[s]) > 1][:4]
    S, W, proc = dseq.config.src_len, dseq.net.embed.weight.detach(), dseq.process
    refs = [dseq.encode_pairs([s] * len(by_src[s]), by_src[s], truncate=True)[0] for s in sources]

    def posterior_mean(x, t):
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(len(x))
        a, s = proc.alpha(t).to(x.dtype), proc.sigma(t).to(x.dtype)
        out = x.clone()
        for b, r in enumerate(refs):
            E = W[r[:, S:]]  # [K, tgt_len, D]: the candidates' clean target embeddings
            w = torch.softmax(-((x[b, S:] - a[b] * E) ** 2).sum((1, 2)) / (2 * s[b] ** 2), 0)
            out[b, S:] = (w[:, None, None] * E).sum(0)
        return out

    dseq._denoiser = posterior_mean
    ids = dseq.sample_ids(sources, steps, solver, clamp=clamp, truncate=True,
                          generator=torch.Generator().manual_seed(0))
    for b, r in enumerate(refs):
        assert any(torch.equal(ids[b], c[S:]) for c in r), dseq.tokenizer.decode(ids[b])


def test_loss_aware_time_sampling_trains_on_the_unweighted_per_sample_losses(tok, e2e_split):
    """DiffuSeq's ``schedule_sampler: lossaware``: the draw and the first losses match a uniform
    sampler's with the same generator (weights 1 before warm-up), the history fills with the
    per-sample losses, and after warm-up the draw is no longer uniform."""
    from polydiff.core import LossSecondMomentResampler
    from polydiff.text.diffusion_lm import embedding_diffusion_loss
    from polydiff.text.train import embedding_loss_fn

    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok.vocab_size, 48, emb_dim=16, hidden=32, layers=1, heads=2, T=4, src_len=24)
    m = DiffuSeq(cfg, tok)
    pairs = e2e_split[0][:8]
    ids, mask = m.encode_pairs([e.compact_source for e in pairs], [e.text for e in pairs], truncate=True)
    loss_fn = embedding_loss_fn(m.process, cfg.src_len, "lossaware")
    loss = loss_fn(m.net, ids, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t, w = LossSecondMomentResampler(4).sample(8, g)
    per_sample = embedding_diffusion_loss(m.net, m.process, ids, noise_mask=mask, generator=g, t=t)
    torch.testing.assert_close(loss, per_sample.mean())
    assert torch.equal(w, torch.ones(8)) and int(loss_fn.sampler._counts.sum()) == 8
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.net.parameters() if p.requires_grad)
    for i in range(12):  # 4 indices x 10 losses each: warmed up well before 13 x 8 draws
        loss_fn(m.net, ids, torch.Generator().manual_seed(6 + i))
    assert loss_fn.sampler.warmed_up
    assert not torch.allclose(loss_fn.sampler.probabilities(), torch.full((4,), 0.25, dtype=torch.float64))
    assert embedding_loss_fn(m.process, cfg.src_len).sampler is None  # uniform: no state


def test_time_sampler_and_given_times_are_checked(tok, dseq, e2e_split):
    from polydiff.text.diffusion_lm import forward_sample
    from polydiff.text.train import embedding_loss_fn, train_model

    with pytest.raises(ValueError, match="time_sampler must be one of"):
        embedding_loss_fn(dseq.process, 24, "importance")
    with pytest.raises(ValueError, match="applies to"):
        train_model(dseq, "masked", e2e_split[0][:4], None, time_sampler="lossaware")
    ids = torch.zeros(2, 48, dtype=torch.long)
    with pytest.raises(ValueError, match=r"t must hold 2 indices \(rows of ids\) in \[0, 200\)"):
        forward_sample(dseq.net, dseq.process, ids, t=torch.tensor([0, 200]))
    with pytest.raises(ValueError, match="t must hold 2 indices"):
        forward_sample(dseq.net, dseq.process, ids, t=torch.tensor([0]))


def test_logits_rounding_reads_the_rounding_heads_argmax(dseq):
    """``rounding="logits"``: argmax of ``x E^T`` (DiffuSeq's get_logits + top-1). On a row of a
    long embedding it returns that token; a short embedding's own row can lose to a longer one
    (the nearest-embedding rounding keeps it)."""
    W = dseq.net.embed.weight.detach()
    norms = W.norm(dim=-1)
    long_id, short_id = int(norms.argmax()), int(norms.argmin())
    x = W[[long_id, short_id]][None]  # [1, 2, D]
    assert dseq._round(x, "nearest").tolist() == [[long_id, short_id]]
    logits_ids = dseq._round(x, "logits")
    assert int(logits_ids[0, 0]) == long_id
    assert torch.equal(logits_ids, (x @ W.t()).argmax(-1))
    assert int(logits_ids[0, 1]) != short_id  # here the shortest row loses even on itself
    with pytest.raises(ValueError, match="rounding must be one of"):
        dseq._round(x, "cosine")
    with pytest.raises(ValueError, match="rounding must be one of"):
        dseq.sample_ids(["name : Aromi"], steps=2, rounding="cosine")
