"""Side information and masks have CSDI's shapes and semantics; the loss ignores conditioning."""
import math

import pytest
import torch
from polydiff.timeseries import masks
from polydiff.timeseries.diffusion import csdi_loss_terms, csdi_process
from polydiff.timeseries.nets import CSDIConfig, CSDINet, timestamp_embedding

torch.set_num_threads(1)


def _obs(B=6, L=10, K=4, p=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, L, K, generator=g) < p).float()


def test_random_mask_subset_and_ratio_spread():
    obs = _obs(B=400, L=12, K=5)
    cond = masks.random_mask(obs, torch.Generator().manual_seed(1))
    assert cond.shape == obs.shape
    assert ((cond == 0) | (cond == 1)).all() and (cond <= obs).all()
    ratio = 1 - cond.sum((1, 2)) / obs.sum((1, 2))
    # missing ratio ~ U[0, 1]: mean 1/2, spread over the whole interval
    assert abs(ratio.mean().item() - 0.5) < 0.05
    assert ratio.min() < 0.05 and ratio.max() > 0.95


def test_random_mask_count_is_rounded_ratio():
    obs = torch.ones(1, 10, 10)
    g = torch.Generator().manual_seed(3)
    r = torch.rand(1, generator=torch.Generator().manual_seed(3)).item()
    cond = masks.random_mask(obs, g)
    assert int(100 - cond.sum()) == round(100 * r)


def test_historical_mask_uses_previous_sample_pattern():
    obs = _obs()
    cond = masks.historical_mask(obs)
    assert torch.equal(cond, obs * obs.roll(1, 0))
    pattern = _obs(seed=5)
    assert torch.equal(masks.historical_mask(obs, pattern), obs * pattern)


def test_mix_mask_is_per_sample_random_or_historical():
    obs = _obs(B=50)
    g = torch.Generator().manual_seed(0)
    cond = masks.mix_mask(obs, generator=g)
    hist = masks.historical_mask(obs)
    rnd = masks.random_mask(obs, torch.Generator().manual_seed(0))
    same_h = (cond == hist).flatten(1).all(1)
    same_r = (cond == rnd).flatten(1).all(1)
    assert (same_h | same_r).all() and same_h.any() and same_r.any()


def test_forecast_mask_hides_future_only():
    obs = torch.ones(2, 8, 3)
    cond = masks.forecast_mask(obs, 3)
    assert cond[:, :5].eq(1).all() and cond[:, 5:].eq(0).all()
    with pytest.raises(ValueError, match="horizon"):
        masks.forecast_mask(obs, 8)
    with pytest.raises(ValueError, match="unknown mask strategy"):
        masks.training_mask("nope", obs)


def test_side_info_shape_and_content():
    net = CSDINet(CSDIConfig(n_features=4, layers=1, channels=16, heads=2))
    cond = _obs(B=2, L=7, K=4)
    ts = torch.arange(7.0).expand(2, 7)
    side = net.side_info(cond, ts)
    assert side.shape == (2, 7, 4, 128 + 16 + 1)
    assert torch.equal(side[..., -1], cond)  # the conditional mask channel
    # time part: sin/cos of t / 10000^(2i/128), shared by all features
    assert torch.allclose(side[0, 3, 2, 0], torch.tensor(math.sin(3.0)))
    assert torch.allclose(side[0, 3, 2, 1], torch.tensor(math.cos(3.0)))
    assert torch.allclose(side[0, 3, 0, :128], side[0, 3, 3, :128])
    assert torch.allclose(side[1, 5, 2, 128:144], net.feature_embedding.weight[2])
    emb = timestamp_embedding(torch.tensor([[2.0]]), 128)[0, 0]
    assert torch.allclose(emb[2], torch.tensor(math.sin(2.0 / 10000 ** (2 / 128))))


def test_factored_side_projection_equals_materialised():
    torch.manual_seed(0)
    net = CSDINet(CSDIConfig(n_features=3, layers=1, channels=8, heads=2))
    cond = _obs(B=2, L=5, K=3)
    side = net.side_info(cond)
    layer = net.layers[0]
    full = layer.cond_projection(side)
    fac = layer.side_projection(timestamp_embedding(torch.arange(5.0).expand(2, 5), 128),
                                net.feature_embedding.weight, cond)
    assert torch.allclose(full, fac, atol=1e-5)


def test_paper_defaults_and_output_shape():
    cfg = CSDIConfig(n_features=5)
    assert (cfg.layers, cfg.channels, cfg.heads, cfg.side_dim) == (4, 64, 8, 145)
    net = CSDINet(cfg)
    x = torch.randn(3, 6, 5)
    out = net(x, torch.tensor([0.0, 10.0, 49.0]), cond_values=x, cond_mask=torch.zeros_like(x))
    assert out.shape == x.shape
    # zero-initialised last weight (as the reference): the output is its bias everywhere
    assert torch.allclose(out, net.output_projection2.bias.expand_as(out))
    with pytest.raises(ValueError, match="x must be"):
        net(torch.randn(3, 6, 4), torch.zeros(3), cond_values=x, cond_mask=x)


def test_network_ignores_noisy_state_on_conditioning_and_values_off_it():
    torch.manual_seed(0)
    net = CSDINet(CSDIConfig(n_features=4, layers=2, channels=16, heads=2, dropout=0.0)).eval()
    for p in net.output_projection2.parameters():
        torch.nn.init.normal_(p)
    x, v = torch.randn(2, 6, 4), torch.randn(2, 6, 4)
    cond = _obs(B=2, L=6, K=4, p=0.5)
    t = torch.tensor([5.0, 30.0])
    ref = net(x, t, cond_values=v, cond_mask=cond)
    x2 = x + 10 * cond * torch.randn_like(x)       # change x on conditioning entries
    v2 = v + 10 * (1 - cond) * torch.randn_like(v)  # change cond values off the mask
    assert torch.allclose(ref, net(x2, t, cond_values=v2, cond_mask=cond), atol=1e-5)
    assert not torch.allclose(ref, net(x + (1 - cond), t, cond_values=v, cond_mask=cond))


def test_loss_only_on_targets():
    torch.manual_seed(0)
    net = CSDINet(CSDIConfig(n_features=4, layers=1, channels=16, heads=2, dropout=0.0))
    for p in net.output_projection2.parameters():
        torch.nn.init.normal_(p)
    proc = csdi_process()
    obs = _obs(B=4, L=6, K=4)
    cond = masks.random_mask(obs, torch.Generator().manual_seed(0))
    x0, eps = torch.randn(4, 6, 4), torch.randn(4, 6, 4)
    t = torch.tensor([0.0, 10.0, 25.0, 49.0], dtype=torch.float64)
    ref = csdi_loss_terms(net, proc, x0, obs, cond, t, eps)
    # perturb the noise on conditioning entries and the values on missing entries
    eps2 = torch.where(cond > 0, eps + 5 * torch.randn_like(eps), eps)
    x02 = torch.where(obs > 0, x0, torch.randn_like(x0) * 100)
    assert torch.allclose(ref, csdi_loss_terms(net, proc, x02, obs, cond, t, eps2), atol=1e-6)
    # while perturbing a target entry does change it
    target = (obs - cond) > 0
    eps3 = torch.where(target, eps + 1.0, eps)
    assert not torch.allclose(ref, csdi_loss_terms(net, proc, x0, obs, cond, t, eps3))
    # and the value equals the hand-written target-masked mean
    x_t = proc.marginal(x0 * obs, t, eps)
    pred = net(x_t, t.float(), cond_values=x0 * obs, cond_mask=cond)
    by_hand = ((eps - pred) ** 2)[target].mean()
    assert torch.allclose(ref, by_hand, atol=1e-6)


def test_csdi_schedule_is_quadratic():
    proc = csdi_process()
    betas = torch.linspace(1e-4 ** 0.5, 0.5 ** 0.5, 50, dtype=torch.float64) ** 2
    ac = torch.cumprod(1 - betas, 0)
    t = torch.arange(50, dtype=torch.float64)
    assert torch.allclose(proc.alpha(t) ** 2, ac, rtol=1e-10)
    assert proc.t_max == 49.0
