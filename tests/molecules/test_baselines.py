"""RDKit baselines: counts, distinct conformers, seeds."""
import pytest
from polydiff.molecules.baselines import clustered_etkdg, etkdg, etkdg_mmff
from polydiff.molecules.metrics import rmsd_matrix
from rdkit import Chem


def test_etkdg_gives_distinct_conformers_and_rejects_seed_zero():
    mol = etkdg("CCCCCCO", 4, seed=7)
    assert mol.GetNumConformers() == 4
    m = rmsd_matrix(mol, mol)
    assert (m[~__import__("numpy").eye(4, dtype=bool)] > 1e-3).all()
    with pytest.raises(ValueError, match="non-zero"):
        etkdg("CCO", 2, seed=0)


def test_mmff_lowers_the_force_field_energy():
    from rdkit.Chem import AllChem

    raw, relaxed = etkdg("CC(=O)NCCO", 2, seed=3), etkdg_mmff("CC(=O)NCCO", 2, seed=3)
    assert Chem.MolToSmiles(raw) == Chem.MolToSmiles(relaxed)  # input aromaticity/atoms kept
    raw_ff, rel_ff = Chem.Mol(raw), Chem.Mol(relaxed)  # keep alive: the force field points into them
    props = AllChem.MMFFGetMoleculeProperties(raw_ff)
    for cid in range(2):
        e_raw = AllChem.MMFFGetMoleculeForceField(raw_ff, props, confId=cid).CalcEnergy()
        e_rel = AllChem.MMFFGetMoleculeForceField(rel_ff, props, confId=cid).CalcEnergy()
        assert e_rel < e_raw


def test_clustered_etkdg_returns_n_conformers():
    mol = clustered_etkdg("CCCCC(=O)OCC", 3, oversample=4, seed=11)
    assert mol.GetNumConformers() == 3
    with pytest.raises(ValueError):
        clustered_etkdg("CCO", 2, oversample=0)


def test_strained_qm9_molecule_embeds_through_the_fallbacks():
    # QM9 index 19806 (stereo from its DFT geometry): plain ETKDGv3 embeds no conformer
    mol = Chem.AddHs(Chem.MolFromSmiles("O=C1C[C@H]2[C@H]3C[C@H]3N12"))
    assert etkdg(mol, 3, seed=42).GetNumConformers() == 3
