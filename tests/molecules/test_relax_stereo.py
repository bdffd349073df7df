"""MMFF94 relaxation can flip a conformer's stereo; relaxed conformers are checked again."""
import numpy as np
import pytest
import torch
from polydiff.molecules.generate import GenerationStats, generate_conformers
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import geodiff_process
from polydiff.molecules.relax import mmff_relax
from polydiff.molecules.relax_sampled import relax_conformers
from polydiff.molecules.stereo import classify_conformers, specified_stereo
from polydiff.molecules.stereo_filter import relax_matching_stereo
from rdkit import Chem
from rdkit.Chem import AllChem


def _strained(smiles: str, n: int = 60, scale: float = 0.6):
    """``(mol, conformers that have the input's stereo, the ETKDG geometry)``: ETKDG's conformer
    with Gaussian noise of ``scale`` Å on every atom (a strained sample, as from a diffusion
    sampler), keeping those whose perceived stereo is right (what a filter before MMFF passes)."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    base = mol.GetConformer().GetPositions()
    rng = np.random.default_rng(1)
    noisy = Chem.Mol(mol)
    noisy.RemoveAllConformers()
    for _ in range(n):
        conf = Chem.Conformer(mol.GetNumAtoms())
        for i, p in enumerate(base + scale * rng.standard_normal(base.shape)):
            conf.SetAtomPosition(i, p.tolist())
        noisy.AddConformer(conf, assignId=True)
    ok = [c for c, s in zip(noisy.GetConformers(), classify_conformers(noisy, repair=False)) if s == "ok"]
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    for c in ok:
        out.AddConformer(Chem.Conformer(c), assignId=True)
    return out, base


@pytest.mark.parametrize(("smiles", "flip"), [("C[C@@H](O)F", "mirrored"), ("C/C=C/C", "wrong"),
                                               ("C[C@@H](O)[C@H](N)C", "wrong")])
def test_flips_by_mmff_are_caught_and_repaired(smiles, flip):
    """One centre inverted by MMFF is the mirror image (reflected); an E/Z bond turned or one of
    two centres inverted is a wrong stereoisomer (redrawn, relaxed, checked)."""
    mol, base = _strained(smiles)
    n = mol.GetNumConformers()
    plain = mmff_relax(mol)
    after = classify_conformers(plain, repair=False)
    flipped = [k for k, s in enumerate(after) if s != "ok"]
    assert flipped and {after[k] for k in flipped} == {flip}  # MMFF flips conformers that were right
    calls = []

    def resample(counts, offsets):  # a sampler that draws the right stereoisomer (ETKDG's geometry)
        calls.append((counts, offsets))
        return [[base] * c for c in counts]

    st = GenerationStats()
    out = relax_matching_stereo([mol], [mol], n, 2, st, resample)[0]
    assert classify_conformers(Chem.Mol(out), specified_stereo(mol), repair=False) == ["ok"] * n
    want_redraw = mmff_relax(_one(mol, base)).GetConformer().GetPositions()  # the redraw, relaxed
    for k, (c_out, c_plain) in enumerate(zip(out.GetConformers(), plain.GetConformers())):
        p_out, p_plain = c_out.GetPositions(), c_plain.GetPositions()
        if k not in flipped:  # untouched: MMFF's own result
            np.testing.assert_array_equal(p_out, p_plain)
        elif flip == "mirrored":  # reflected: x -> -x of MMFF's result
            np.testing.assert_allclose(p_out, p_plain * [-1, 1, 1])
        else:  # replaced by a relaxed redraw
            np.testing.assert_allclose(p_out, want_redraw)
    assert st.stereo_wrong == 0
    if flip == "mirrored":
        assert st.reflected == len(flipped) and not calls and st.resampled == 0
    else:  # seeds continue after the first filter's 2 rounds: round 3 draws indices 3n + k
        assert calls == [([len(flipped)], [3 * n])] and st.resampled == len(flipped)
    # without rounds the wrong ones are returned and counted, never passed off as right
    st0 = GenerationStats()
    relax_matching_stereo([mol], [mol], n, 0, st0, resample)
    assert st0.stereo_wrong == (len(flipped) if flip == "wrong" else 0)


def _one(mol, xyz):
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    conf = Chem.Conformer(mol.GetNumAtoms())
    for i, p in enumerate(xyz):
        conf.SetAtomPosition(i, p.tolist())
    out.AddConformer(conf, assignId=True)
    return out


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
    return net, geodiff_process(200, beta_end=0.05)


@pytest.mark.filterwarnings("ignore:.*resampling rounds")  # an untrained net leaves some wrong
def test_relax_conformers_equals_generate_with_relax_and_counts_every_evaluation(model):
    net, proc = model
    smiles = ["C/C=C/[C@@H](O)C", "C[C@H](N)O"]
    kw = {"net": net, "process": proc, "steps": 3, "solver": "ddim", "seed": 4, "stereo_rounds": 2}
    st_raw, st_relax, st_both = GenerationStats(), GenerationStats(), GenerationStats()
    raw = generate_conformers(smiles, 6, stats=st_raw, **kw)
    relaxed = relax_conformers(raw, 6, stats=st_relax, **kw)
    both = generate_conformers(smiles, 6, relax="mmff", stats=st_both, **kw)
    for a, b in zip(relaxed, both):
        for ca, cb in zip(a.GetConformers(), b.GetConformers()):
            np.testing.assert_allclose(ca.GetPositions(), cb.GetPositions(), atol=1e-6)
    assert st_both.resampled == st_raw.resampled + st_relax.resampled
    assert st_both.stereo_wrong == st_relax.stereo_wrong
    # every returned conformer has the input's stereo or is counted as wrong
    wrong = sum(classify_conformers(Chem.Mol(m), repair=False).count("wrong") for m in both)
    assert wrong == st_both.stereo_wrong
    # NFE per returned conformer: 3 for each draw, redraws of both filters included
    assert st_both.conformer_nfe == 3 * (12 + st_both.resampled)
    assert st_both.nfe_per_conformer == pytest.approx(3 * (12 + st_both.resampled) / 12)
    assert st_raw.nfe_per_conformer == pytest.approx(3 * (12 + st_raw.resampled) / 12) and st_raw.resampled > 0


def test_relax_conformers_rejects_bad_input(model):
    net, proc = model
    with pytest.raises(ValueError, match="expected n=3 conformers"):
        relax_conformers(_one(Chem.AddHs(Chem.MolFromSmiles("CCO")), np.zeros((9, 3))), 3, net=net, process=proc)
    with pytest.raises(TypeError, match="conformers must be an rdkit.Chem.Mol"):
        relax_conformers("CCO", 1, net=net, process=proc)
    with pytest.raises(ValueError, match="needs at least one molecule"):
        relax_conformers([], 1, net=net, process=proc)
