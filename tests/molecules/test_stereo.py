"""Stereo matching: mirror images are reflected back to the input's enantiomer, nothing else moves."""
import numpy as np
import pytest
from polydiff.molecules.stereo import conformer_centres, match_enantiomer, specified_centres
from rdkit import Chem
from rdkit.Chem import AllChem


def _embedded(smiles: str, n: int, seed: int = 7):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMultipleConfs(mol, n, randomSeed=seed)
    assert mol.GetNumConformers() == n
    return mol


def _mirror(mol, conf_id: int) -> None:
    conf = mol.GetConformer(conf_id)
    for i, p in enumerate(conf.GetPositions()):
        conf.SetAtomPosition(i, (-float(p[0]), float(p[1]), float(p[2])))


def test_mirrored_conformers_are_reflected_back():
    mol = _embedded("C[C@@H](O)[C@H](N)CC", 4)  # two specified centres
    target = specified_centres(mol)
    assert set(target.values()) <= {"R", "S"} and len(target) == 2
    before = [c.GetPositions().copy() for c in mol.GetConformers()]
    for cid in (1, 3):
        _mirror(mol, cid)
        assert all(conformer_centres(mol, cid)[i] != lab for i, lab in target.items())
    assert match_enantiomer(mol) == 2
    for cid, ref in enumerate(before):
        assert conformer_centres(mol, cid) == target
        # untouched, or reflected twice (x -> -x -> x): the embedded coordinates exactly
        np.testing.assert_allclose(mol.GetConformer(cid).GetPositions(), ref, atol=1e-12)


def test_diastereomer_and_unspecified_are_left_alone():
    mol = _embedded("C[C@@H](O)[C@H](N)CC", 1)
    target = specified_centres(mol)
    one = next(iter(target))
    wrong_one = {**target, one: {"R": "S", "S": "R"}[target[one]]}  # only one centre differs
    pos = mol.GetConformer(0).GetPositions().copy()
    assert match_enantiomer(mol, wrong_one) == 0
    np.testing.assert_array_equal(mol.GetConformer(0).GetPositions(), pos)
    flat = _embedded("CC(O)C(N)CC", 2)  # same graph, no stereo specified
    assert specified_centres(flat) == {}
    assert match_enantiomer(flat) == 0


@pytest.mark.parametrize("smiles", ["C[C@H](N)O", "C[C@@H](N)O"])
def test_single_centre_every_conformer_ends_as_specified(smiles):
    mol = _embedded(smiles, 6, seed=3)
    target = specified_centres(mol)
    for cid in range(0, 6, 2):
        _mirror(mol, cid)
    assert match_enantiomer(mol) == 3
    assert all(conformer_centres(mol, c.GetId()) == target for c in mol.GetConformers())


def test_pseudo_asymmetric_centre_keeps_its_label():
    """2,3,4-Trihydroxyglutaric acid: C3 is pseudo-asymmetric (s), C2/C4 are R/S."""
    mol = _embedded("OC(=O)[C@H](O)[C@@H](O)[C@H](O)C(=O)O", 2, seed=11)
    target = specified_centres(mol)
    assert sorted(target.values()) == ["R", "S", "s"]
    _mirror(mol, 1)
    assert conformer_centres(mol, 1) == {i: {"R": "S", "S": "R"}.get(v, v) for i, v in target.items()}
    assert match_enantiomer(mol) == 1
    assert all(conformer_centres(mol, c.GetId()) == target for c in mol.GetConformers())
    meso = _embedded("C[C@@H](O)[C@@H](O)[C@H](C)O", 1)  # R, s, S: its mirror image is itself
    assert match_enantiomer(meso) == 0


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="RDKit Mol"):
        match_enantiomer("C[C@H](N)O")
    with pytest.raises(ValueError, match="CIP labels"):
        match_enantiomer(_embedded("C[C@H](N)O", 1), {1: "?"})
    with pytest.raises(ValueError, match="no conformer with id 5"):
        conformer_centres(_embedded("C[C@H](N)O", 1), 5)
