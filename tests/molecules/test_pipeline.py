"""The chemist's path: SMILES or Mols in, Mols/SDF out, warnings outside what the network knows."""
import warnings

import numpy as np
import pytest
from polydiff.core.training import TrainConfig
from polydiff.molecules.pipeline import ConformerGenerator, write_sdf
from polydiff.molecules.stereo import conformer_stereo, specified_stereo
from polydiff.molecules.train import MolTrainSpec, train
from rdkit import Chem
from rdkit.Chem import AllChem


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    mols = []
    for smi in ["CCO", "CC(=O)N", "OCCN", "CC=O", "C/C=C/C", "C[C@H](N)O", "COC", "CCCN"]:
        m = Chem.AddHs(Chem.MolFromSmiles(smi))
        AllChem.EmbedMolecule(m, randomSeed=1)
        mols.append(m)
    from polydiff.molecules.nets import NetConfig

    train(MolTrainSpec(T=200, beta_end=0.05), NetConfig(hidden=8, num_convs_global=1, num_convs_local=1,
                                                         num_rbf=4, cutoff=5.0),
          TrainConfig(steps=5, batch_size=4, ema_decay=None, ckpt_dir=str(out), seed=0), mols)
    return out


def _quiet(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(x.message) for x in w]


def test_smiles_and_mols_in_mols_out_with_the_input_stereo(run_dir):
    gen = ConformerGenerator.from_run(run_dir, steps=4, solver="ddim", stereo_rounds=8)
    assert gen.heavy_atom_range == (3, 4)  # CCO, CC=O, COC: 3; CC(=O)N, OCCN, C/C=C/C, CCCN: 4
    smi = "C/C=C/[C@@H](C)O"  # 6 heavy atoms: outside the training range
    (out, msgs) = _quiet(lambda: gen([smi, Chem.AddHs(Chem.MolFromSmiles("CCO"))], 4, seed=1))
    assert any("6 heavy atoms, outside the 3-4" in m for m in msgs)
    assert len(out) == 2 and all(m.GetNumConformers() == 4 for m in out)
    target = specified_stereo(out[0])
    assert target.centres and target.bonds
    right = [target.agrees_with(conformer_stereo(out[0], c.GetId())) for c in out[0].GetConformers()]
    assert sum(right) >= 3  # reflected or resampled to the input's stereoisomer (an untrained net)
    single, _ = _quiet(lambda: gen("CCO", 2))
    assert isinstance(single, Chem.Mol) and single.GetNumConformers() == 2


def test_warnings_for_missing_hydrogens_and_unspecified_stereo(run_dir):
    gen = ConformerGenerator.from_run(run_dir, steps=2, solver="ddim")
    _, msgs = _quiet(lambda: gen(Chem.MolFromSmiles("CCO"), 1))
    assert any("hydrogens that are not atoms" in m for m in msgs)
    _, msgs = _quiet(lambda: gen("CC(N)O", 1))
    assert any("leaves stereo unspecified (atom 1)" in m for m in msgs)
    _, msgs = _quiet(lambda: gen("C[C@H](N)O", 1))
    assert not any("unspecified" in m or "outside" in m for m in msgs)


def test_bad_input_is_named(run_dir):
    gen = ConformerGenerator.from_run(run_dir, steps=2, solver="ddim")
    with pytest.raises(ValueError, match="invalid SMILES"):
        gen("C1CC((N", 1)
    with pytest.raises(ValueError, match="at least 2 atoms"), pytest.warns(UserWarning, match="1 heavy atoms"):
        gen("[Ne]", 1)
    with pytest.raises(TypeError, match="SMILES string or rdkit.Chem.Mol"):
        gen([42], 1)
    with pytest.raises(ValueError, match="at least one molecule"):
        gen([], 1)
    with pytest.raises(TypeError, match="list of RDKit Mols"):
        write_sdf("CCO", "x.sdf")


def test_write_sdf_round_trip(run_dir, tmp_path):
    gen = ConformerGenerator.from_run(run_dir, steps=2, solver="ddim")
    path = tmp_path / "confs" / "out.sdf"
    (count, _) = _quiet(lambda: gen.write_sdf(["CCO", "CC(=O)N"], path, 3, seed=2))
    assert count == 6
    back = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert [b.GetIntProp("conformer") for b in back] == [0, 1, 2, 0, 1, 2]
    again, _ = _quiet(lambda: gen(["CCO", "CC(=O)N"], 3, seed=2))
    for b, (m, k) in zip(back, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]):
        np.testing.assert_allclose(b.GetConformer().GetPositions(),
                                   again[m].GetConformer(k).GetPositions(), atol=1e-4)
