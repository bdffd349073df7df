"""CoM-free noise, projections, the padded model closure and GeoDiff's schedule."""
import math

import pytest
import torch
from polydiff.molecules.featurize import mols_to_batch
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import (
    ComFreeNoise,
    PaddedDenoiser,
    com_free_noise,
    from_padded,
    geodiff_process,
    global_cutoff_t,
    masked_zero_center,
    to_padded,
)


def test_com_free_noise_zero_mean_and_subspace_covariance():
    n, reps = 4, 20000
    batch = torch.arange(reps).repeat_interleave(n)
    eps = com_free_noise(batch, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    per_mol = eps.reshape(reps, n, 3)
    assert per_mol.sum(1).abs().max() < 1e-12
    # covariance over the atoms of one coordinate: the projector I - 11^T/n (unit variance
    # on the (n-1)-dimensional subspace, per-coordinate variance (n-1)/n)
    x = per_mol[..., 0]
    cov = x.T @ x / reps
    proj = torch.eye(n, dtype=torch.float64) - 1.0 / n
    assert (cov - proj).abs().max() < 0.04
    # coordinates are uncorrelated with each other
    assert (per_mol[..., 0] * per_mol[..., 1]).mean().abs() < 0.02


def test_padded_noise_and_projection():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    noise = ComFreeNoise(mask, [torch.Generator().manual_seed(k) for k in range(2)])
    z = noise(torch.zeros(2, 4, 3), 0)
    assert (z[~mask] == 0).all()
    assert torch.allclose((z * mask[..., None]).sum(1), torch.zeros(2, 3), atol=1e-6)
    # per-sample generators: row 1 does not depend on row 0
    z1 = ComFreeNoise(mask[1:], [torch.Generator().manual_seed(1)])(torch.zeros(1, 4, 3), 0)
    assert torch.equal(z1[0], z[1])
    x = torch.randn(2, 4, 3)
    p = masked_zero_center(x, mask)
    assert (p[~mask] == 0).all() and torch.allclose(masked_zero_center(p, mask), p, atol=1e-6)


def test_padded_denoiser_matches_packed_net():
    torch.manual_seed(0)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4)).double()
    batch = mols_to_batch(["CCO", "N#N", "c1ccccc1"])
    pos = torch.randn(batch.num_nodes, 3, dtype=torch.float64)
    x, mask = to_padded(pos, batch.batch)
    assert torch.equal(from_padded(x, mask), pos)
    t = torch.tensor([5.0, 50.0, 500.0], dtype=torch.float64)
    out = PaddedDenoiser(net, batch, mask)(x, t)
    ref = net(pos, t, batch)
    from polydiff.molecules.process import center
    torch.testing.assert_close(out[mask], center(ref, batch.batch, 3))
    assert (out[~mask] == 0).all()
    clipped = PaddedDenoiser(net, batch, mask, clip=1e-3)(x, t)
    assert clipped[mask].norm(dim=-1).max() <= 1e-3 + 1e-12


def test_geodiff_schedule_and_gating_time():
    proc = geodiff_process(5000)
    betas = 1 - proc.alpha(torch.arange(5000.0, dtype=torch.float64)) ** 2
    # GeoDiff (App. C): sigmoid(linspace(-6, 6)) * (2e-3 - 1e-7) + 1e-7, alpha_bar = cumprod(1 - beta)
    ref_b = torch.sigmoid(torch.linspace(-6, 6, 5000, dtype=torch.float64)) * (2e-3 - 1e-7) + 1e-7
    ref_abar = torch.cumprod(1 - ref_b, 0)
    torch.testing.assert_close(1 - betas, ref_abar, rtol=1e-6, atol=1e-9)
    tc = global_cutoff_t(proc, 0.5)
    tt = torch.tensor(tc, dtype=torch.float64)
    assert math.isclose(float(proc.sigma(tt) / proc.alpha(tt)), 0.5, rel_tol=1e-4)
    with pytest.raises(ValueError):
        global_cutoff_t(proc, 0.0)


def test_short_geodiff_schedule_warns_that_it_misses_the_prior():
    with pytest.warns(UserWarning, match="T=5000"):
        geodiff_process(1000)


def test_conformer_loss_is_the_per_atom_eps_error_of_the_vp_marginal():
    from polydiff.molecules.process import center, conformer_loss
    from torch_geometric.utils import scatter

    torch.manual_seed(0)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4)).double()
    b = mols_to_batch(["CCO", "c1ccccc1", "N#N"])
    b.pos = torch.randn(b.num_nodes, 3, dtype=torch.float64)
    proc = geodiff_process(5000)
    t = torch.tensor([10.0, 2000.0, 4000.0], dtype=torch.float64)
    eps = torch.randn(b.num_nodes, 3, dtype=torch.float64)
    # by hand: x_t = alpha x0 + sigma eps in the CoM-free subspace, Ho et al. 2020 eq. 14
    x0, e = center(b.pos, b.batch, 3), center(eps, b.batch, 3)
    a, s = proc.alpha(t)[b.batch][:, None], proc.sigma(t)[b.batch][:, None]
    eps_hat = center(net(a * x0 + s * e, t, b), b.batch, 3)
    ref = scatter(((eps_hat - e) ** 2).sum(-1), b.batch, dim=0, reduce="mean").mean()
    torch.testing.assert_close(conformer_loss(net, proc, b, t=t, eps=eps), ref)
