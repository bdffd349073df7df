"""COV/MAT on hand-built cases and RMSD against RDKit's own GetBestRMS."""
import numpy as np
import pytest
from polydiff.molecules.metrics import (
    ConformerScores,
    coverage_curve,
    merge_conformers,
    plot_coverage,
    rmsd_matrix,
    score_conformers,
    summarize,
)
from rdkit import Chem
from rdkit.Chem import AllChem, rdMolAlign


def _confs(smiles, n, seed=11):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMultipleConfs(mol, n, randomSeed=seed)
    return mol


def test_identical_set_has_full_coverage_and_zero_matching():
    ref = _confs("CCCCO", 3)
    sc = score_conformers([ref], [Chem.Mol(ref)])
    s = summarize(sc, 0.5)
    assert s["COV-R mean"] == 100.0 and s["COV-P mean"] == 100.0
    assert s["MAT-R mean"] < 1e-6 and s["MAT-P mean"] < 1e-6


def test_rigid_motion_and_symmetric_renumbering_give_zero_rmsd():
    ref = _confs("CC(C)(C)c1ccccc1", 1)
    gen = Chem.RenumberAtoms(ref, list(range(ref.GetNumAtoms()))[::-1])
    conf = gen.GetConformer()
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    conf.SetPositions(conf.GetPositions() @ rot.T + np.array([3.0, -1.0, 2.0]))
    assert rmsd_matrix(ref, gen)[0, 0] < 1e-6


def test_rmsd_matches_rdkit_getbestrms():
    ref, gen = _confs("OCC(N)C(=O)O", 2, seed=3), _confs("OCC(N)C(=O)O", 3, seed=4)
    m = rmsd_matrix(ref, gen)
    r, g = Chem.RemoveHs(ref), Chem.RemoveHs(gen)
    for i in range(2):
        for j in range(3):
            assert abs(m[i, j] - rdMolAlign.GetBestRMS(Chem.Mol(g), r, prbId=j, refId=i)) < 1e-6


def test_hand_built_coverage_and_matching():
    # one reference conformer; generated: itself and a copy with one heavy atom moved by 1 A
    ref = _confs("CCO", 1)
    gen = Chem.Mol(ref)
    c = Chem.Conformer(gen.GetConformer())
    p = c.GetPositions()
    p[0, 0] += 1.0
    c.SetPositions(p)
    gen.AddConformer(c, assignId=True)
    m = rmsd_matrix(ref, gen)
    assert m[0, 0] < 1e-6 and 0.2 < m[0, 1] < 1.0 / np.sqrt(3) + 1e-9  # aligned RMSD <= unaligned
    s = summarize(ScoresOf(m), 0.1)
    assert s["COV-R mean"] == 100.0 and s["COV-P mean"] == 50.0
    assert s["MAT-R mean"] < 1e-6 and abs(s["MAT-P mean"] - m[0, 1] / 2) < 1e-9


def ScoresOf(m):
    return ConformerScores([m])


def test_threshold_sweep_is_monotone_and_plot(tmp_path):
    sc = ConformerScores([np.array([[0.3, 0.9], [1.4, 0.6]]), np.array([[0.2]])])
    deltas = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5]
    # per-molecule nearest distances: refs (0.3, 0.6) and (0.2,); generated (0.3, 0.6) and (0.2,)
    cr = coverage_curve(sc, deltas, "R")
    assert np.all(np.diff(cr) >= 0)
    np.testing.assert_allclose(cr, [0, 50, 75, 100, 100, 100])
    np.testing.assert_allclose(coverage_curve(sc, deltas, "P"), [0, 50, 75, 100, 100, 100])
    path = plot_coverage({"a": sc}, tmp_path / "cov.png", mark=0.5)
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError):
        summarize(sc, 0.0)


def test_mismatched_molecules_raise():
    with pytest.raises(ValueError, match="differ"):
        rmsd_matrix(_confs("CCO", 1), _confs("CCCO", 1))
    with pytest.raises(ValueError, match="conformers"):
        rmsd_matrix(Chem.MolFromSmiles("CCO"), _confs("CCO", 1))
    merged = merge_conformers([_confs("CCO", 1), _confs("CCO", 2, seed=5)])
    assert merged.GetNumConformers() == 3


def test_large_molecule_path_uses_alignmol_without_symmetry():
    ref, gen = _confs("CC(C)(C)CO", 1, seed=2), _confs("CC(C)(C)CO", 2, seed=8)
    fast = rmsd_matrix(ref, gen, large=0)  # force the AlignMol path
    best = rmsd_matrix(ref, gen)
    r, g = Chem.RemoveHs(ref), Chem.RemoveHs(gen)
    for j in range(2):
        assert abs(fast[0, j] - rdMolAlign.AlignMol(Chem.Mol(g), r, prbCid=j, refCid=0)) < 1e-6
    assert (best <= fast + 1e-9).all()  # symmetry search can only lower the RMSD


def test_stereo_defining_hydrogens_do_not_change_the_heavy_atom_set():
    """An imine N-H defines E/Z: RDKit's RemoveHs keeps it on a tagged molecule, not on an untagged one."""
    from polydiff.molecules.baselines import restrict_stereo
    from polydiff.molecules.metrics import rmsd_matrix
    from rdkit import Chem
    from rdkit.Chem import AllChem, rdMolAlign

    ref = Chem.AddHs(Chem.MolFromSmiles("[H]/N=C/CC"))
    AllChem.EmbedMolecule(ref, randomSeed=3)
    gen = restrict_stereo(ref, "none")  # same coordinates, no E/Z tag
    AllChem.EmbedMultipleConfs(gen, 2, randomSeed=4)
    m = rmsd_matrix(ref, gen)
    assert m.shape == (1, 2)
    heavy_ref, heavy_gen = Chem.RemoveAllHs(ref), Chem.RemoveAllHs(gen)
    for k in range(2):  # the same as RDKit's symmetry-aware RMSD over the 4 heavy atoms
        expect = rdMolAlign.GetBestRMS(Chem.Mol(heavy_gen, confId=k), heavy_ref)
        assert abs(m[0, k] - expect) < 1e-6
