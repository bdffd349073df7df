"""Extended graph and radius graph against brute-force references."""
import pytest
import torch
from polydiff.molecules.featurize import mol_to_data
from polydiff.molecules.graph import (
    extend_graph,
    full_edge_set,
    radius_graph,
    radius_graph_reference,
)
from rdkit import Chem


def _edges(ei):
    return set(map(tuple, ei.t().tolist()))


@pytest.mark.parametrize("cap", [1, 3, 100])
@pytest.mark.parametrize("r", [0.8, 1.7, 50.0])
def test_radius_graph_equals_brute_force_with_cap(cap, r):
    g = torch.Generator().manual_seed(cap * 7 + int(r * 10))
    sizes = [1, 9, 17, 4]
    pos = torch.randn(sum(sizes), 3, generator=g, dtype=torch.float64) * 1.3
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    ei = radius_graph(pos, r, batch, max_num_neighbors=cap)
    ref = radius_graph_reference(pos, r, batch, max_num_neighbors=cap)
    assert _edges(ei) == ref
    assert ei.shape[1] == len(ref)  # no duplicates
    counts = torch.bincount(ei[1], minlength=pos.shape[0])
    assert int(counts.max()) <= cap
    assert (batch[ei[0]] == batch[ei[1]]).all()


def test_radius_graph_loop_and_validation():
    pos = torch.zeros(3, 3)
    pos[1, 0], pos[2, 0] = 1.0, 3.0
    assert _edges(radius_graph(pos, 1.5)) == {(0, 1), (1, 0)}
    assert _edges(radius_graph(pos, 1.5, loop=True)) == {(0, 1), (1, 0), (0, 0), (1, 1), (2, 2)}
    with pytest.raises(ValueError, match="max_num_neighbors"):
        radius_graph(pos, 1.0, max_num_neighbors=0)
    with pytest.raises(ValueError, match="pos must be"):
        radius_graph(pos[:, :2], 1.0)
    with pytest.raises(ValueError, match="sorted"):
        radius_graph(pos, 1.0, torch.tensor([1, 0, 0]))


def test_extended_graph_types_match_rdkit_topological_distance():
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Nc1ccccc1C#N"))
    data = mol_to_data(mol)
    dm = Chem.GetDistanceMatrix(mol)
    got = {(i, j): t for (i, j), t in zip(data.ext_edge_index.t().tolist(), data.ext_edge_type.tolist())}
    n = mol.GetNumAtoms()
    expected = {}
    for i in range(n):
        for j in range(n):
            k = int(dm[i, j])
            if k == 1:
                b = str(mol.GetBondBetweenAtoms(i, j).GetBondType())
                expected[(i, j)] = {"SINGLE": 1, "DOUBLE": 2, "TRIPLE": 3, "AROMATIC": 4}[b]
            elif k in (2, 3):
                expected[(i, j)] = 4 + k - 1
    assert got == expected


def test_extend_graph_order_one_is_the_bond_graph():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    et = torch.tensor([1, 1, 2, 2])
    out_i, _ = extend_graph(ei, et, 3, order=1)
    assert _edges(out_i) == _edges(ei)
    with pytest.raises(ValueError, match="order"):
        extend_graph(ei, et, 3, order=0)


def test_full_edge_set_marks_radius_only_edges():
    ext = torch.tensor([[0, 1], [1, 0]])
    rad = torch.tensor([[0, 1, 2, 0], [1, 0, 0, 2]])
    ei, et = full_edge_set(ext, torch.tensor([1, 1]), rad, 3)
    got = dict(zip(map(tuple, ei.t().tolist()), et.tolist()))
    assert got == {(0, 1): 1, (1, 0): 1, (2, 0): 0, (0, 2): 0}
