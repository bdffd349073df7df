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


def test_without_stereo_a_cage_is_embedded_through_its_feasible_stereoisomers():
    """QM9 44409 (a strained tricyclic lactone): ETKDG's own random stereo choices cannot close
    it, so ETKDG given no stereo used to find no conformer at all (and stop the full bench);
    the enumerated stereoisomers include embeddable ones, and their conformers are returned."""
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

    cage = "O=C1OC2C3C=CC12C3"
    with pytest.raises(ValueError, match="could not embed any conformer"):
        etkdg(cage, 4, stereo="full")  # no tags to enforce and ETKDG's own picks fail: still an error
    mol = etkdg(cage, 4, stereo="none")
    assert mol.GetNumConformers() == 4
    import numpy as np

    for conf in mol.GetConformers():  # real geometries: every bond between 0.9 and 1.7 A
        xyz = np.asarray(conf.GetPositions())
        for bond in mol.GetBonds():
            d = np.linalg.norm(xyz[bond.GetBeginAtomIdx()] - xyz[bond.GetEndAtomIdx()])
            assert 0.9 < d < 1.7, d
    isomers = {Chem.MolToSmiles(i) for i in EnumerateStereoisomers(Chem.MolFromSmiles(cage),
                                                                   options=StereoEnumerationOptions(unique=True))}
    for conf in mol.GetConformers():  # each is a geometry of one of the cage's stereoisomers
        one = Chem.Mol(mol, confId=conf.GetId())
        Chem.AssignStereochemistryFrom3D(one)
        assert Chem.MolToSmiles(Chem.RemoveHs(one)) in isomers


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
    # QM9 66740 (a strained cage): only KDG, without the torsion preferences, embeds it
    cage = Chem.AddHs(Chem.MolFromSmiles("C[C@]12C3=CC[C@H]1N1[C@H]2[C@H]31"))
    for info in ("full", "none"):
        assert etkdg(cage, 2, seed=42, stereo=info).GetNumConformers() == 2


STEREO_MOL = "C/C=C/[C@@H](O)[C@H](N)C"  # two centres (R, R) and an E double bond


@pytest.mark.parametrize("fn", [etkdg, etkdg_mmff, clustered_etkdg])
def test_stereo_information_given_to_the_baselines(fn):
    """full: every conformer has the input's R/S and E/Z; centres: R/S kept, E/Z drawn; none: all drawn."""
    from polydiff.molecules.stereo import classify_conformers, conformer_stereo, specified_stereo

    mol = Chem.AddHs(Chem.MolFromSmiles(STEREO_MOL))
    target = specified_stereo(mol)
    seen = {}
    for info in ("full", "centres", "none"):
        out = fn(mol, 12, seed=5, stereo=info)
        assert out.GetNumConformers() == 12
        have = [conformer_stereo(out, c.GetId()) for c in out.GetConformers()]
        seen[info] = have
        assert classify_conformers(Chem.Mol(out), target, repair=False).count("ok") == sum(
            target.agrees_with(h) for h in have)
    assert all(target.agrees_with(h) for h in seen["full"])
    assert all(h.centres == target.centres for h in seen["centres"])
    assert {h.bonds[(1, 2)] for h in seen["centres"]} == {"E", "Z"}
    assert {tuple(sorted(h.centres.items())) for h in seen["none"]} != {tuple(sorted(target.centres.items()))}
    assert not all(target.agrees_with(h) for h in seen["none"])


def test_restrict_stereo_and_bad_input():
    from polydiff.molecules.baselines import STEREO_INFO, restrict_stereo
    from polydiff.molecules.stereo import specified_stereo

    mol = Chem.AddHs(Chem.MolFromSmiles(STEREO_MOL))
    assert specified_stereo(restrict_stereo(mol, "none")) == specified_stereo(Chem.AddHs(Chem.MolFromSmiles("CC=CC(O)C(N)C")))
    st = specified_stereo(restrict_stereo(mol, "centres"))
    assert st.centres == {3: "R", 5: "R"} and st.bonds == {}
    assert specified_stereo(restrict_stereo(mol, "full")) == specified_stereo(mol)
    assert set(STEREO_INFO) == {"full", "centres", "none"}
    with pytest.raises(ValueError, match="stereo must be one of"):
        etkdg(mol, 2, stereo="some")
    with pytest.raises(TypeError, match="RDKit Mol"):
        restrict_stereo("CCO", "none")
