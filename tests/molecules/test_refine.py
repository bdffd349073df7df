"""refine_conformers (SDEdit) and generate_conformers' Restart rounds: the start time matches
the noise level, an exact denoiser recovers its target from any start, every round draws
fresh noise, conformer order and hydrogens are kept, bad input is named."""
import numpy as np
import pytest
import torch
from polydiff.molecules.generate import GenerationStats, generate_conformers, refine_conformers
from polydiff.molecules.process import geodiff_process
from rdkit import Chem
from rdkit.Chem import AllChem
from torch import nn


@pytest.fixture(scope="module")
def mol():
    m = Chem.AddHs(Chem.MolFromSmiles("C[C@H](O)C=O"))
    AllChem.EmbedMultipleConfs(m, 4, randomSeed=7)
    return m


@pytest.fixture(scope="module")
def proc():
    return geodiff_process(5000)


class Zero(nn.Module):
    """Predicts eps = 0: the deterministic solve only rescales, x_out = x_t0 / alpha(t0)."""

    def forward(self, pos, t, batch):
        return torch.zeros_like(pos)


class Oracle(nn.Module):
    """The exact eps for a point mass at ``target``: eps = (x - alpha(t) x*) / sigma(t)."""

    def __init__(self, proc, target: torch.Tensor):
        super().__init__()
        self.proc, self.target = proc, target - target.mean(0)

    def forward(self, pos, t, batch):
        b = batch.batch
        a, s = (f(t.double()).float()[b][:, None] for f in (self.proc.alpha, self.proc.sigma))
        return (pos - a * self.target.repeat(int(batch.num_graphs), 1)) / s


def _centred(conf) -> np.ndarray:
    p = conf.GetPositions()
    return p - p.mean(0)


@pytest.mark.parametrize("noise_level", [0.05, 0.3, 1.0])
def test_zero_denoiser_returns_input_plus_noise_of_the_stated_scale(mol, proc, noise_level):
    out = refine_conformers([mol] * 40, net=Zero(), process=proc, noise_level=noise_level, steps=5,
                            solver="ddim", seed=3)
    n = mol.GetNumAtoms()
    diff = np.stack([_centred(o.GetConformer(k)) - _centred(mol.GetConformer(k))
                     for o in out for k in range(mol.GetNumConformers())])
    # CoM-free Gaussian of per-coordinate variance s^2 (n-1)/n; 40 x 4 x 12 x 3 draws: 2.3% s.e. of the std
    expect = noise_level * np.sqrt((n - 1) / n)
    assert abs(diff.std() / expect - 1) < 0.07
    assert np.abs(diff.mean(1)).max() < 1e-4  # no translation added


@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m_sde", "ddpm"])
def test_exact_denoiser_recovers_its_target(mol, proc, solver):
    target = torch.as_tensor(mol.GetConformer(0).GetPositions(), dtype=torch.float32)
    st = GenerationStats()
    out = refine_conformers(mol, net=Oracle(proc, target), process=proc, noise_level=0.5, steps=8,
                            solver=solver, stats=st)
    assert out.GetNumConformers() == mol.GetNumConformers() and out.GetNumAtoms() == mol.GetNumAtoms()
    want = target.numpy() - target.numpy().mean(0)
    for c in out.GetConformers():  # every conformer, whatever its start, lands on the target
        np.testing.assert_allclose(_centred(c), want, atol=2e-3)
    assert st.conformers == 4 and st.nfe >= 8


def test_small_noise_keeps_each_conformer_in_order(mol, proc):
    out = refine_conformers(mol, net=Zero(), process=proc, noise_level=0.01, steps=3, solver="ddim")
    for k in range(mol.GetNumConformers()):
        np.testing.assert_allclose(_centred(out.GetConformer(k)), _centred(mol.GetConformer(k)), atol=0.06)
    assert Chem.FindMolChiralCenters(out, useLegacyImplementation=False) == [(1, "S")]


def test_errors_name_the_problem(mol, proc):
    kw = {"net": Zero(), "process": proc}
    with pytest.raises(ValueError, match="no conformer to refine"):
        refine_conformers(Chem.AddHs(Chem.MolFromSmiles("CCO")), **kw)
    with pytest.raises(TypeError, match="expected an rdkit.Chem.Mol"):
        refine_conformers("CCO", **kw)
    with pytest.raises(ValueError, match="at least one molecule"):
        refine_conformers([], **kw)
    for bad in (0.0, -0.1, float("nan"), 1e6):
        with pytest.raises(ValueError, match="noise_level"):
            refine_conformers(mol, noise_level=bad, **kw)
    with pytest.raises(ValueError, match="unknown solver"):
        refine_conformers(mol, solver="nope", **kw)
    with pytest.raises(ValueError, match="steps"):
        refine_conformers(mol, steps=0, **kw)
    with pytest.raises(ValueError, match=r"noise_level=0.0001 starts the solve .* too early for 30"):
        refine_conformers(mol, noise_level=1e-4, steps=30, **kw)


def test_restart_rounds_add_fresh_noise_of_the_stated_scale(proc):
    # zero denoiser + DDIM: each round adds s * eps; R independent rounds give std s sqrt(R)
    # (the same noise reused would give s R): 2 rounds must read sqrt(2), not 2
    kw = {"net": Zero(), "process": proc, "steps": 3, "solver": "ddim", "seed": 4, "match_stereo": False}
    base = generate_conformers(["CCO"] * 30, 8, **kw)
    st = GenerationStats()
    two = generate_conformers(["CCO"] * 30, 8, restarts=2, restart_noise=0.3, restart_steps=4, stats=st, **kw)
    diff = np.stack([_centred(b.GetConformer(k)) - _centred(t.GetConformer(k))
                     for b, t in zip(base, two) for k in range(8)])
    n = base[0].GetNumAtoms()
    assert abs(diff.std() / (0.3 * np.sqrt(2 * (n - 1) / n)) - 1) < 0.07
    assert st.nfe == 3 + 2 * 4


def test_restarts_with_an_exact_denoiser_stay_on_target(mol, proc):
    target = torch.as_tensor(mol.GetConformer(0).GetPositions(), dtype=torch.float32)
    out = generate_conformers(Chem.Mol(mol), 3, net=Oracle(proc, target), process=proc, steps=10,
                              solver="dpmpp_2m_sde", restarts=2, match_stereo=False)
    want = target.numpy() - target.numpy().mean(0)
    for c in out.GetConformers():
        np.testing.assert_allclose(_centred(c), want, atol=2e-3)


def test_restart_options_are_checked(proc):
    kw = {"net": Zero(), "process": proc}
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="restarts must be a non-negative int"):
            generate_conformers("CCO", 1, restarts=bad, **kw)
    with pytest.raises(ValueError, match="restart_steps must be a positive integer"):
        generate_conformers("CCO", 1, restarts=1, restart_steps=0, **kw)
    with pytest.raises(ValueError, match="restart_noise must lie in"):
        generate_conformers("CCO", 1, restarts=1, restart_noise=-0.2, **kw)
