"""generate_conformers through pc.sample: shapes, SDF round trip, batching, errors."""
import numpy as np
import pytest
import torch
from polydiff.molecules.generate import GenerationStats, generate_conformers
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import geodiff_process
from rdkit import Chem


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
    return net, geodiff_process(200, beta_end=0.05)


@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m", "ddpm"])
def test_conformers_are_centred_and_finite(model, solver):
    net, proc = model
    st = GenerationStats()
    mol = generate_conformers("CC(=O)N", 3, net=net, process=proc, steps=4, solver=solver, stats=st)
    assert mol.GetNumConformers() == 3 and mol.GetNumAtoms() == 9  # hydrogens added to SMILES
    for c in mol.GetConformers():
        p = c.GetPositions()
        assert np.isfinite(p).all() and np.abs(p.mean(0)).max() < 1e-5
    assert st.conformers == 3 and st.nfe >= 4


def test_missing_hydrogens_are_added_with_a_warning_and_sdf_round_trip(model, tmp_path):
    net, proc = model
    heavy_only = Chem.MolFromSmiles("c1ccccc1O")
    with pytest.warns(UserWarning, match="6 hydrogens that are not atoms"):
        mol = generate_conformers(heavy_only, 2, net=net, process=proc, steps=3, solver="ddim")
    assert mol.GetNumAtoms() == 13  # phenol C6H5OH, every hydrogen an atom
    assert [a.GetSymbol() for a in mol.GetAtoms()][:7] == [a.GetSymbol() for a in heavy_only.GetAtoms()]
    path = tmp_path / "out.sdf"
    with Chem.SDWriter(str(path)) as w:
        for c in mol.GetConformers():
            w.write(mol, confId=c.GetId())
    back = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert len(back) == 2
    for c, b in zip(mol.GetConformers(), back):
        np.testing.assert_allclose(b.GetConformer().GetPositions(), c.GetPositions(), atol=1e-4)  # SDF: 4 decimals


def test_batching_across_molecules_does_not_change_a_conformer(model):
    net, proc = model
    together = generate_conformers(["CCO", "C1CC1N"], 2, net=net, process=proc, steps=3, solver="ddpm", seed=5)
    alone = generate_conformers(["CCO"], 2, net=net, process=proc, steps=3, solver="ddpm", seed=5)
    small = generate_conformers(["CCO", "C1CC1N"], 2, net=net, process=proc, steps=3, solver="ddpm", seed=5,
                                max_batch_atoms=10)
    np.testing.assert_allclose(together[0].GetConformer(1).GetPositions(),
                               alone[0].GetConformer(1).GetPositions(), atol=1e-5)
    np.testing.assert_allclose(together[1].GetConformer(0).GetPositions(),
                               small[1].GetConformer(0).GetPositions(), atol=1e-5)


def test_errors_name_the_problem(model):
    net, proc = model
    with pytest.raises(ValueError, match="invalid SMILES.*C1CC"):
        generate_conformers("C1CC", 2, net=net, process=proc)
    with pytest.raises(ValueError, match="positive integer"):
        generate_conformers("CCO", 0, net=net, process=proc)
    with pytest.raises(ValueError, match="unknown solver"):
        generate_conformers("CCO", 1, net=net, process=proc, solver="magic")


def test_drug_like_sdf_molecule_keeps_its_explicit_hydrogens(model):
    from polydiff.molecules.data import load_rdkit_sdf

    net, proc = model
    lig = load_rdkit_sdf("cmet")[0]  # 3D ligand with explicit H from RDKit's Contrib folder
    out = generate_conformers(lig, 2, net=net, process=proc, steps=2, solver="dpmpp_2m")
    assert out.GetNumAtoms() == lig.GetNumAtoms()
    assert [a.GetSymbol() for a in out.GetAtoms()] == [a.GetSymbol() for a in lig.GetAtoms()]
    assert out.GetNumConformers() == 2


def test_mmff_refinement_lowers_energy_and_restores_bond_lengths(model):
    from rdkit.Chem import AllChem

    net, proc = model
    kw = {"net": net, "process": proc, "steps": 3, "solver": "ddim", "seed": 2}
    raw = generate_conformers("CC(=O)N", 2, **kw)
    st = GenerationStats()
    relaxed = generate_conformers("CC(=O)N", 2, relax="mmff", stats=st, **kw)
    assert relaxed.GetNumConformers() == 2 and st.conformers == 2
    props = AllChem.MMFFGetMoleculeProperties(Chem.Mol(raw))
    heavy_cc = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in relaxed.GetBonds()
                if {b.GetBeginAtom().GetSymbol(), b.GetEndAtom().GetSymbol()} == {"C"}]
    for cid in range(2):
        e_raw = AllChem.MMFFGetMoleculeForceField(raw, props, confId=cid).CalcEnergy()
        e_rel = AllChem.MMFFGetMoleculeForceField(relaxed, props, confId=cid).CalcEnergy()
        assert e_rel < e_raw
        pos = relaxed.GetConformer(cid).GetPositions()
        for i, j in heavy_cc:  # MMFF94's C(sp3)-C(sp2) single bond: about 1.50 Å
            assert 1.40 < np.linalg.norm(pos[i] - pos[j]) < 1.60
    with pytest.raises(ValueError, match="relax"):
        generate_conformers("CCO", 1, net=net, process=proc, relax="uff")


def test_mmff_relax_rejects_bad_input_and_keeps_its_input():
    from polydiff.molecules.relax import mmff_relax

    with pytest.raises(ValueError, match="no conformer"):
        mmff_relax(Chem.AddHs(Chem.MolFromSmiles("CCO")))
    with pytest.raises(TypeError, match="RDKit Mol"):
        mmff_relax("CCO")
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=5)
    before = mol.GetConformer().GetPositions().copy()
    with pytest.raises(ValueError, match="max_iters"):
        mmff_relax(mol, max_iters=0)
    out = mmff_relax(mol)
    assert np.array_equal(mol.GetConformer().GetPositions(), before)
    assert not np.allclose(out.GetConformer().GetPositions(), before)


def test_conformers_carry_the_input_enantiomer(model):
    """The distance-based net samples both mirror images; match_stereo reflects the wrong ones."""
    from polydiff.molecules.stereo import conformer_centres, specified_centres

    net, proc = model
    smiles = "C[C@H](N)O"
    target = specified_centres(Chem.AddHs(Chem.MolFromSmiles(smiles)))
    kw = {"net": net, "process": proc, "steps": 4, "solver": "ddpm", "seed": 5}
    raw = generate_conformers(smiles, 16, match_stereo=False, **kw)
    labels = [conformer_centres(raw, c.GetId()) for c in raw.GetConformers()]
    mirror = {i: {"R": "S", "S": "R"}[v] for i, v in target.items()}
    mirrored = sum(lab == mirror for lab in labels)
    assert 0 < mirrored < 16  # both enantiomers occur without matching
    st = GenerationStats()
    fixed = generate_conformers(smiles, 16, stats=st, **kw)
    assert st.reflected == mirrored
    for c_raw, c_fix, lab in zip(raw.GetConformers(), fixed.GetConformers(), labels):
        p_raw, p_fix = c_raw.GetPositions(), c_fix.GetPositions()
        if lab == mirror:  # reflected to the input's enantiomer
            assert conformer_centres(fixed, c_fix.GetId()) == target
            np.testing.assert_allclose(p_fix, p_raw * np.array([-1.0, 1.0, 1.0]))
        else:  # already right, or degenerate (no centre perceived): untouched
            np.testing.assert_array_equal(p_fix, p_raw)
    with pytest.raises(TypeError, match="match_stereo must be a bool"):
        generate_conformers(smiles, 1, match_stereo="yes", **kw)
