"""Offline loaders: QM9 from qm9pack, RDKit SDF sets, MOSES SMILES, GEOM by path."""
import json

import numpy as np
import pandas as pd
import pytest
from polydiff.molecules.data import (
    load_geom,
    load_moses_smiles,
    load_qm9,
    load_rdkit_sdf,
    mol_from_xyz,
    qm9_files,
    split_by_molecule,
)


def test_qm9_molecules_keep_the_dft_coordinates():
    mols = load_qm9(parts=(1,), limit=25, min_heavy_atoms=3)
    assert len(mols) == 25
    df = pd.read_csv(qm9_files()[0], usecols=["Index", "XYZ_Ang", "SMILES"], nrows=200).set_index("Index")
    for m in mols[:5]:
        idx = int(m.GetProp("_Name").split("_")[1])
        xyz = np.array(json.loads(df.loc[idx, "XYZ_Ang"]))
        np.testing.assert_allclose(m.GetConformer().GetPositions(), xyz, atol=1e-8)
        assert m.GetNumHeavyAtoms() >= 3
        assert m.GetProp("smiles") == df.loc[idx, "SMILES"]


def test_mol_from_xyz_perceives_bonds_and_rejects_bad_input():
    # methanol-like geometry: C-O 1.43 A
    mol = mol_from_xyz(["C", "O"], [[0, 0, 0], [1.43, 0, 0]], name="co")
    assert mol.GetNumBonds() == 1
    with pytest.raises(ValueError, match="elements"):
        mol_from_xyz(["C"], [[0, 0, 0], [1, 0, 0]], name="x")


def test_split_by_molecule_is_disjoint_and_seeded():
    s = split_by_molecule(100, val=10, test=0.2, seed=3)
    assert len(s.val) == 10 and len(s.test) == 20 and len(s.train) == 70
    assert not (set(s.train) & set(s.test)) and not (set(s.val) & set(s.test))
    assert split_by_molecule(100, val=10, test=0.2, seed=3) == s
    assert split_by_molecule(100, val=10, test=0.2, seed=4).test != s.test
    with pytest.raises(ValueError, match="no training"):
        split_by_molecule(10, val=5, test=5)


def test_rdkit_sdf_sets_and_moses():
    assert len(load_rdkit_sdf("cdk2")) == 47
    cmet = load_rdkit_sdf("cmet")
    assert len(cmet) == 24 and all(m.GetNumConformers() == 1 for m in cmet)
    with pytest.raises(ValueError, match="unknown"):
        load_rdkit_sdf("zinc")
    smi = load_moses_smiles("test", limit=5)
    assert len(smi) == 5 and all(isinstance(s, str) and s for s in smi)


def test_geom_needs_a_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="GEOM"):
        load_geom(tmp_path / "nowhere")
    from rdkit import Chem
    from rdkit.Chem import AllChem
    folder = tmp_path / "drugs" / "test"
    folder.mkdir(parents=True)
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMultipleConfs(mol, 2, randomSeed=1)
    with Chem.SDWriter(str(folder / "ethanol.sdf")) as w:
        for c in mol.GetConformers():
            w.write(mol, confId=c.GetId())
    got = load_geom(tmp_path, "drugs", "test")
    assert list(got) == ["ethanol"] and len(got["ethanol"]) == 2
