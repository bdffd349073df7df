"""Featurisation and input validation."""
import pytest
import torch
from polydiff.molecules.featurize import (
    ELEMENTS,
    NUM_ATOM_FEATURES,
    mol_to_data,
    mols_to_batch,
    parse_molecule,
)
from rdkit import Chem


def test_invalid_smiles_names_the_input():
    with pytest.raises(ValueError, match=r"C1CC\(\(N"):
        parse_molecule("C1CC((N")
    with pytest.raises(ValueError, match="empty"):
        parse_molecule("  ")
    with pytest.raises(TypeError, match="SMILES string or rdkit"):
        parse_molecule(42)


def test_unsanitisable_molecule_names_the_input():
    mol = Chem.MolFromSmiles("C(C)(C)(C)(C)C", sanitize=False)  # pentavalent carbon
    mol.SetProp("_Name", "bad-carbon")
    with pytest.raises(ValueError, match="bad-carbon.*cannot be sanitised"):
        mol_to_data(mol)


def test_features_and_hydrogens_as_given():
    mol = Chem.MolFromSmiles("c1ccccc1O")  # no explicit H: kept as given
    d = mol_to_data(mol)
    assert d.num_nodes == 7 and d.x.shape == (7, NUM_ATOM_FEATURES)
    assert d.edge_index.shape == (2, 14)
    assert int((d.edge_type == 4).sum()) == 12 and int((d.edge_type == 1).sum()) == 2
    d_h = mol_to_data("c1ccccc1O")  # SMILES: hydrogens added
    assert d_h.num_nodes == 13
    assert int((d_h.atom_type == ELEMENTS.index("H")).sum()) == 6
    assert not d_h.heavy[d_h.atom_type == ELEMENTS.index("H")].any()


def test_conformer_positions_are_copied():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    from rdkit.Chem import AllChem
    AllChem.EmbedMolecule(mol, randomSeed=7)
    d = mol_to_data(mol)
    assert torch.allclose(d.pos.double(), torch.tensor(mol.GetConformer().GetPositions()), atol=1e-6)


def test_batch_offsets_extended_edges():
    b = mols_to_batch(["CCO", "CN"])
    n0 = mol_to_data("CCO").num_nodes
    second = b.ext_edge_index[:, b.batch[b.ext_edge_index[0]] == 1]
    assert int(second.min()) >= n0
    with pytest.raises(ValueError, match="empty"):
        mols_to_batch([])


def test_unsanitisable_molecule_without_name_shows_smiles():
    mol = Chem.MolFromSmiles("FC(F)(F)(F)F", sanitize=False)
    with pytest.raises(ValueError, match=r"FC\(F\)\(F\)\(F\)F.*cannot be sanitised"):
        parse_molecule(mol)
