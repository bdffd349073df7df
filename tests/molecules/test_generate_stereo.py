"""Oversample and filter: conformers with the wrong diastereomer or E/Z isomer are replaced."""
import numpy as np
import pytest
import torch
from polydiff.molecules.generate import GenerationStats, generate_conformers, stereo_information
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import geodiff_process
from polydiff.molecules.stereo import conformer_stereo, specified_stereo
from rdkit import Chem

SMILES = "C/C=C/[C@@H](O)[C@H](N)C"  # R, R and E: a random network gets about 1 in 4 right


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
    return net, geodiff_process(200, beta_end=0.05)


def _agree(mol):
    target = specified_stereo(Chem.AddHs(Chem.MolFromSmiles(SMILES)))
    return [target.agrees_with(conformer_stereo(mol, c.GetId())) for c in mol.GetConformers()]


def test_filter_replaces_exactly_the_wrong_conformers(model):
    net, proc = model
    kw = {"net": net, "process": proc, "steps": 4, "solver": "ddim", "seed": 3}
    plain_st, st = GenerationStats(), GenerationStats()
    plain = generate_conformers(SMILES, 8, stats=plain_st, **kw)
    with pytest.warns(UserWarning, match="after 6 resampling rounds"):  # a random net: a few stay wrong
        filt = generate_conformers(SMILES, 8, stats=st, stereo_rounds=6, **kw)
    ok_before, ok_after = _agree(plain), _agree(filt)
    assert 0 < sum(ok_before) < 8  # the untrained network draws wrong stereoisomers
    for k, (conf_a, conf_b) in enumerate(zip(plain.GetConformers(), filt.GetConformers())):
        same = np.array_equal(conf_a.GetPositions(), conf_b.GetPositions())
        assert same == ok_before[k] or (not ok_before[k] and not ok_after[k] and same)
    assert sum(ok_after) == 8 - st.stereo_wrong and sum(ok_after) > sum(ok_before)
    assert st.resampled >= 8 - sum(ok_before) and st.stereo_seconds > 0 and st.nfe > plain_st.nfe
    assert st.reflected >= plain_st.reflected


def test_unresolved_conformers_are_counted_and_warned(model):
    net, proc = model
    st = GenerationStats()
    with pytest.warns(UserWarning, match="after 1 resampling rounds"):
        out = generate_conformers(SMILES, 8, net=net, process=proc, steps=4, solver="ddim", seed=3,
                                  stereo_rounds=1, stats=st)
    assert st.stereo_wrong == 8 - sum(_agree(out)) > 0


def test_stereo_options_and_information(model):
    net, proc = model
    with pytest.raises(ValueError, match="stereo_rounds must be a non-negative int"):
        generate_conformers(SMILES, 2, net=net, process=proc, steps=2, stereo_rounds=-1)
    with pytest.raises(ValueError, match="needs match_stereo=True"):
        generate_conformers(SMILES, 2, net=net, process=proc, steps=2, stereo_rounds=2, match_stereo=False)
    assert stereo_information(net, True) == "full" and stereo_information(net, False) == "full"  # stereo net
    plain = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, stereo=False))
    assert stereo_information(plain, False) == "none" and stereo_information(plain, True) == "full"


@pytest.mark.parametrize("smiles", ["[He]", "[Na+]", "[Cl-]"])
def test_fewer_than_two_atoms_is_a_named_error(model, smiles):
    net, proc = model
    with pytest.raises(ValueError, match="at least 2 atoms"):
        generate_conformers(smiles, 1, net=net, process=proc, steps=2)
    with pytest.raises(ValueError, match="at least 2 atoms"):
        generate_conformers(["CCO", Chem.MolFromSmiles(smiles)], 1, net=net, process=proc, steps=2)
    assert generate_conformers("[H][H]", 1, net=net, process=proc, steps=2).GetNumAtoms() == 2
