"""Stereo features and the stereo filter against RDKit's perception of known stereoisomers."""
import numpy as np
import pytest
import torch
from polydiff.molecules.featurize import ATOM_STEREO, EDGE_STEREO, mol_to_data, mols_to_batch
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.stereo import (
    Stereo,
    cis_trans_pairs,
    classify_conformers,
    conformer_stereo,
    specified_stereo,
    stereo_from_geometry,
)
from rdkit import Chem
from rdkit.Chem import AllChem, rdMolTransforms

# (2E)-4-amino-hex-2-en... : two stereocentres and one stereo double bond; the other isomers
# differ only in their stereo marks, so RDKit numbers their atoms identically.
TARGET = "C/C=C/[C@@H](O)[C@H](N)C"
ISOMERS = {
    "same": TARGET,
    "enantiomer": "C/C=C/[C@H](O)[C@@H](N)C",
    "diastereomer": "C/C=C/[C@@H](O)[C@@H](N)C",
    "ez-isomer": "C/C=C\\[C@@H](O)[C@H](N)C",
    "ez-enantiomer": "C/C=C\\[C@H](O)[C@@H](N)C",
}


def _embedded(smiles, n=1, seed=7):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMultipleConfs(mol, n, randomSeed=seed)
    assert mol.GetNumConformers() == n
    return mol


def _mirror(conf):
    for i, p in enumerate(conf.GetPositions()):
        conf.SetAtomPosition(i, (-float(p[0]), float(p[1]), float(p[2])))


@pytest.mark.parametrize("smiles", [*ISOMERS.values(), "F/C(Cl)=C(/Br)I", "F/C(Cl)=C(\\Br)I", "CC/C(C)=C(/C)CO",
                                    "OC(=O)[C@H](O)[C@@H](O)[C@H](O)C(=O)O", "C[C@H](N)O", "CC=CC", "CCO"])
def test_specified_stereo_agrees_with_rdkits_new_cip_labeler(smiles):
    """Legacy perception (what the features use) against RDKit's separate CIP labeler."""
    from rdkit.Chem import rdCIPLabeler

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    ref = Chem.Mol(mol)
    rdCIPLabeler.AssignCIPLabels(ref)
    centres = {a.GetIdx(): a.GetProp("_CIPCode") for a in ref.GetAtoms() if a.HasProp("_CIPCode")}
    bonds = {tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))): b.GetProp("_CIPCode")
             for b in ref.GetBonds() if b.HasProp("_CIPCode")}
    st = specified_stereo(mol)
    assert st.centres == centres and st.bonds == bonds
    if smiles == TARGET:
        assert st.centres == {3: "R", 5: "R"} and st.bonds == {(1, 2): "E"}


def test_atom_features_flip_under_mirroring_and_bond_features_do_not():
    mol = _embedded(TARGET)
    d0 = mol_to_data(stereo_from_geometry(mol))
    _mirror(mol.GetConformer())
    d1 = mol_to_data(stereo_from_geometry(mol))
    r, s = ATOM_STEREO.index("R"), ATOM_STEREO.index("S")
    assert d0.stereo_atom[3] == r and d0.stereo_atom[5] == r
    swap = torch.tensor([{r: s, s: r}.get(int(v), int(v)) for v in d0.stereo_atom])
    assert torch.equal(d1.stereo_atom, swap) and (d0.stereo_atom != 0).sum() == 2
    assert torch.equal(d1.ext_edge_stereo, d0.ext_edge_stereo)  # E/Z survives a reflection
    # E/Z on the double bond's two directed edges, cis/trans on the 1,4 pairs across it
    lab = {EDGE_STEREO[int(v)] for v in d0.ext_edge_stereo}
    assert lab == {"none", "E", "cis", "trans"}
    assert int((d0.ext_edge_stereo == EDGE_STEREO.index("E")).sum()) == 2


@pytest.mark.parametrize("smiles", [TARGET, ISOMERS["ez-isomer"], "F/C(Cl)=C(/Br)I", "F/C(Cl)=C(\\Br)I",
                                    "CC/C(C)=C(/C)CO"])
def test_cis_trans_pairs_match_the_embedded_dihedrals(smiles):
    """Every 1,4 pair labelled cis has |dihedral| < 90 deg in ETKDG conformers, trans > 90 deg."""
    mol = _embedded(smiles, n=3)
    pairs = cis_trans_pairs(mol)
    seen = 0
    for b, c in specified_stereo(mol).bonds:
        for x in (n.GetIdx() for n in mol.GetAtomWithIdx(b).GetNeighbors() if n.GetIdx() != c):
            for y in (n.GetIdx() for n in mol.GetAtomWithIdx(c).GetNeighbors() if n.GetIdx() != b):
                assert pairs[(x, y)] == pairs[(y, x)]
                for conf in mol.GetConformers():
                    dih = abs(rdMolTransforms.GetDihedralDeg(conf, x, b, c, y))
                    assert (dih < 90) == (pairs[(x, y)] == "cis"), (smiles, x, y, pairs[(x, y)], dih)
                seen += 1
    assert seen >= 4 and len(pairs) == 2 * seen


def test_classify_keeps_exactly_the_matching_conformers():
    pool = Chem.Mol(Chem.AddHs(Chem.MolFromSmiles(TARGET)))
    truth = []
    for kind, smi in ISOMERS.items():
        for conf in _embedded(smi, n=2, seed=3).GetConformers():
            pool.AddConformer(Chem.Conformer(conf), assignId=True)
            truth.append(kind)
    before = [c.GetPositions().copy() for c in pool.GetConformers()]
    status = classify_conformers(pool)
    expect = {"same": "ok", "enantiomer": "mirrored", "diastereomer": "wrong", "ez-isomer": "wrong",
              "ez-enantiomer": "wrong"}
    assert status == [expect[k] for k in truth]
    target = specified_stereo(pool)
    for k, conf in enumerate(pool.GetConformers()):
        have = conformer_stereo(pool, conf.GetId())
        assert target.agrees_with(have) == (status[k] != "wrong")
        if status[k] == "ok" or status[k] == "wrong":  # only mirror images move
            np.testing.assert_array_equal(conf.GetPositions(), before[k])
        else:
            np.testing.assert_allclose(conf.GetPositions(), before[k] * [-1, 1, 1], atol=1e-12)


def test_classify_without_repair_and_bad_input():
    pool = _embedded(ISOMERS["enantiomer"], n=1)
    target = specified_stereo(Chem.AddHs(Chem.MolFromSmiles(TARGET)))
    pos = pool.GetConformer().GetPositions().copy()
    assert classify_conformers(pool, target, repair=False) == ["mirrored"]
    np.testing.assert_array_equal(pool.GetConformer().GetPositions(), pos)
    assert classify_conformers(_embedded("CCO", 2)) == ["ok", "ok"]  # nothing specified
    with pytest.raises(TypeError, match="RDKit Mol"):
        classify_conformers(TARGET)
    with pytest.raises(TypeError, match="Stereo"):
        classify_conformers(pool, {3: "R"})
    with pytest.raises(ValueError, match="E or Z"):
        classify_conformers(pool, Stereo({}, {(1, 2): "cis"}))


def _stereo_net(kind, stereo=True, seed=0):
    torch.manual_seed(seed)
    cfg = (NetConfig(hidden=16, num_convs_global=2, num_convs_local=2, cutoff=3.0, num_rbf=8, stereo=stereo)
           if kind == "geodiff" else
           NetConfig(kind="e3nn", hidden=8, num_layers_e3=2, cutoff=3.0, num_rbf=8, stereo=stereo))
    return build_net(cfg).double().eval()


@pytest.mark.parametrize("kind", ["geodiff", "e3nn"])
def test_networks_read_the_labels_and_stay_equivariant(kind):
    from e3nn import o3

    plain, net = _stereo_net(kind, stereo=False), _stereo_net(kind, stereo=True)
    missing, unexpected = net.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing and all("stereo" in k for k in missing)
    e_batch = mols_to_batch([TARGET])
    z_batch = mols_to_batch([ISOMERS["ez-isomer"]])
    g = torch.Generator().manual_seed(1)
    pos = torch.randn(e_batch.num_nodes, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([10.0], dtype=torch.float64)
    # zero-initialised stereo embeddings: exactly the network without stereo
    torch.testing.assert_close(net(pos, t, e_batch), plain(pos, t, e_batch), atol=1e-12, rtol=0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "stereo" in name:
                p.normal_(generator=g)
    eps_e, eps_z = net(pos, t, e_batch), net(pos, t, z_batch)
    assert (eps_e - eps_z).abs().max() > 1e-6  # E and Z inputs are told apart
    R = -o3.rand_matrix(dtype=torch.float64)  # a rotation-reflection
    torch.testing.assert_close(net(pos @ R.T + 1.5, t, e_batch), eps_e @ R.T, atol=1e-9, rtol=1e-9)
    with pytest.raises(ValueError, match="stereo_atom"):
        del e_batch.stereo_atom
        net(pos, t, e_batch)


def test_stereo_report_counts_known_isomers():
    from polydiff.molecules.stereo import stereo_report

    ref = Chem.AddHs(Chem.MolFromSmiles(TARGET))
    pool = Chem.Mol(ref)
    for smi, k in (("same", 3), ("enantiomer", 2), ("diastereomer", 1), ("ez-isomer", 2)):
        for conf in _embedded(ISOMERS[smi], n=k, seed=5).GetConformers():
            pool.AddConformer(Chem.Conformer(conf), assignId=True)
    flat = _embedded("CCO", n=2)
    rep = stereo_report([pool, flat], [ref, Chem.AddHs(Chem.MolFromSmiles("CCO"))])
    assert rep == {"molecules": 1, "conformers": 8, "ok": 3 / 8, "mirrored": 2 / 8, "wrong": 3 / 8}
    before = [c.GetPositions().copy() for c in pool.GetConformers()]
    assert all(np.array_equal(a, c.GetPositions()) for a, c in zip(before, pool.GetConformers()))  # no repair
    with pytest.raises(ValueError, match="pair up"):
        stereo_report([pool], [])
    with pytest.raises(ValueError, match="atoms"):
        stereo_report([flat], [ref])


def test_centres_without_a_cip_label_are_left_out():
    """QM9 8577 (a bridged bicycle): RDKit perceives C1 as stereo but gives it no CIP label."""
    from rdkit.Chem import rdDistGeom

    mol = Chem.AddHs(Chem.MolFromSmiles("C[C@H]1C[C@H]2C[C@@H](C1)C2"))
    found = dict(Chem.FindMolChiralCenters(Chem.Mol(mol), includeUnassigned=False, useLegacyImplementation=False))
    assert found[1] not in ("R", "S", "r", "s")
    st = specified_stereo(mol)
    assert 1 not in st.centres and set(st.centres.values()) <= {"R", "S"}
    data = mol_to_data(mol)
    assert int(data.stereo_atom[1]) == 0
    rdDistGeom.EmbedMolecule(mol, randomSeed=1)
    assert classify_conformers(mol) == ["ok"]
