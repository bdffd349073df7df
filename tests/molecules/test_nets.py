"""Exact E(3) equivariance and permutation equivariance of both denoisers; loss invariance."""
import pytest
import torch
from e3nn import o3
from polydiff.molecules.featurize import mol_to_data, mols_to_batch
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import conformer_loss, geodiff_process
from torch_geometric.data import Batch

CONFIGS = {
    "geodiff": NetConfig(hidden=16, num_convs_global=2, num_convs_local=2, cutoff=2.5,
                         max_num_neighbors=6, num_rbf=8, global_cutoff_t=40.0),
    "e3nn": NetConfig(kind="e3nn", hidden=8, num_layers_e3=2, cutoff=2.5, max_num_neighbors=6,
                      num_rbf=8, global_cutoff_t=40.0),
}
SMILES = ["CC(=O)O", "c1ccncc1", "C#CCN"]


def _setup(kind, seed=0):
    torch.manual_seed(seed)
    net = build_net(CONFIGS[kind]).double().eval()
    batch = mols_to_batch(SMILES)
    g = torch.Generator().manual_seed(seed + 1)
    pos = torch.randn(batch.num_nodes, 3, generator=g, dtype=torch.float64) * 1.2
    t = torch.tensor([3.0, 75.0, 20.0], dtype=torch.float64)  # both sides of global_cutoff_t
    return net, batch, pos, t


@pytest.mark.parametrize("kind", ["geodiff", "e3nn"])
def test_rotation_translation_reflection_equivariance(kind):
    net, batch, pos, t = _setup(kind)
    eps = net(pos, t, batch)
    assert eps.shape == pos.shape and eps.abs().max() > 1e-8
    g = torch.Generator().manual_seed(5)
    for reflect in (False, True):
        R = o3.rand_matrix(dtype=torch.float64)
        R = -R if reflect else R
        shift = torch.randn(3, generator=g, dtype=torch.float64) * 3
        out = net(pos @ R.T + shift, t, batch)
        torch.testing.assert_close(out, eps @ R.T, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("kind", ["geodiff", "e3nn"])
def test_permutation_equivariance(kind):
    from rdkit import Chem

    net, _, _, _ = _setup(kind)
    mol = Chem.AddHs(Chem.MolFromSmiles("OCC(N)C=O"))
    n = mol.GetNumAtoms()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    mol_p = Chem.RenumberAtoms(mol, perm.tolist())  # new atom k = old atom perm[k]
    b, b_p = Batch.from_data_list([mol_to_data(mol)]), Batch.from_data_list([mol_to_data(mol_p)])
    pos = torch.randn(n, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    t = torch.tensor([10.0], dtype=torch.float64)
    torch.testing.assert_close(net(pos[perm], t, b_p), net(pos, t, b)[perm], atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("kind", ["geodiff", "e3nn"])
def test_loss_invariant_under_rigid_motion(kind):
    net, batch, pos, t = _setup(kind)
    proc = geodiff_process(100, beta_end=0.1)
    eps = torch.randn(pos.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    R = o3.rand_matrix(dtype=torch.float64)
    batch.pos = pos
    l0 = conformer_loss(net, proc, batch, t=t, eps=eps)
    moved = batch.clone()
    moved.pos = pos @ R.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    l1 = conformer_loss(net, proc, moved, t=t, eps=eps @ R.T)
    assert l0 > 0
    torch.testing.assert_close(l1, l0, atol=1e-10, rtol=1e-10)


def test_global_gating_switches_off_radius_edges():
    net, batch, pos, _ = _setup("geodiff")
    cfg_off = NetConfig(**{**CONFIGS["geodiff"].to_dict(), "global_cutoff_t": -1.0})
    net_off = build_net(cfg_off).double()
    net_off.load_state_dict(net.state_dict())
    hi = torch.full((3,), 75.0, dtype=torch.float64)  # above the cutoff: global score gated off
    torch.testing.assert_close(net(pos, hi, batch), net_off(pos, hi, batch))
    lo = torch.full((3,), 3.0, dtype=torch.float64)
    assert not torch.allclose(net(pos, lo, batch), net_off(pos, lo, batch))


def test_bad_inputs_raise():
    net, batch, pos, t = _setup("geodiff")
    with pytest.raises(ValueError, match="pos must be"):
        net(pos[:, :2], t, batch)
    with pytest.raises(ValueError, match="one time per graph"):
        net(pos, t[:2], batch)
    with pytest.raises(ValueError, match="unknown net kind"):
        build_net(NetConfig(kind="mace"))
