"""Fuzz of the molecules front doors: SMILES parsing (garbage included) and the conformer API's
arguments. Each example ends in a named error raised by polydiff or in a molecule whose
conformers are finite and centred, one per request (see fuzz.py)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz import FUZZ, outcome

pytest.importorskip("polydiff.molecules")
from polydiff.molecules.featurize import mol_to_data, parse_molecule
from polydiff.molecules.generate import generate_conformers
from polydiff.molecules.nets import NetConfig, build_net
from polydiff.molecules.process import geodiff_process
from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")  # garbage SMILES make RDKit print; the errors are what we check
VALID = [None] * 6
SMILES_ALPHABET = "CNOSFclnos()[]=#123+-@H.%/\\"
SMALL = ["C", "O", "CC", "CO", "C=O", "C#N", "CC(=O)N", "c1ccoc1", "C1CC1", "[NH4+]", "CC.O", "[He]", "F[Si](F)(F)F",
         "[2H]C", "C[C@H](N)O", "[O-]C=O"]
torch.manual_seed(0)
NET = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
PROC = geodiff_process(200, beta_end=0.05)


@FUZZ
@given(smiles=st.one_of(st.text(SMILES_ALPHABET, max_size=12), st.sampled_from(SMALL), st.text(max_size=8)))
def test_parse_arbitrary_smiles(smiles):
    mol, err = outcome(lambda: parse_molecule(smiles))
    reference = Chem.MolFromSmiles(smiles) if smiles.strip() else None
    assert (err is None) == (reference is not None and reference.GetNumAtoms() > 0), err
    if mol is not None:  # hydrogens added; heavy atoms are RDKit's
        assert Chem.RemoveHs(mol).GetNumAtoms() == reference.GetNumAtoms()
        data, err = outcome(lambda: mol_to_data(mol, conf_id=None))
        if data is not None:
            assert data.num_nodes == mol.GetNumAtoms()


@settings(FUZZ, max_examples=80)  # cheap per example: every fault kind is drawn
@given(smiles=st.sampled_from(SMALL), n=st.integers(1, 2), steps=st.integers(1, 3),
       solver=st.sampled_from(["ddim", "ddpm", "dpmpp_2m", "euler"]), seed=st.integers(0, 2**40),
       clip=st.sampled_from([None, 0.5, 10.0]), max_atoms=st.sampled_from([1, 50, 20000]),
       fault=st.sampled_from(VALID + ["n0", "n-float", "steps0", "solver", "seed-negative", "seed-float",
                                      "clip-negative", "clip-nan", "garbage", "empty-list", "none"]))
def test_conformer_api_arguments(smiles, n, steps, solver, seed, clip, max_atoms, fault):
    mols = smiles
    if fault in ("n0", "n-float"):
        n = 0 if fault == "n0" else 1.5
    elif fault == "steps0":
        steps = 0
    elif fault == "solver":
        solver = "langevin-ish"
    elif fault in ("seed-negative", "seed-float"):
        seed = -1 if fault == "seed-negative" else 0.5
    elif fault in ("clip-negative", "clip-nan"):
        clip = -1.0 if fault == "clip-negative" else float("nan")
    elif fault == "garbage":
        mols = "C1CC((N"
    elif fault == "empty-list":
        mols = []
    elif fault == "none":
        mols = [smiles, None]
    out, err = outcome(lambda: generate_conformers(mols, n, net=NET, process=PROC, steps=steps, solver=solver,
                                                   seed=seed, clip=clip, max_batch_atoms=max_atoms))
    single_atom = smiles == "[He]"  # a conformer needs two atoms: a named error
    assert (err is None) == (fault is None and not single_atom), err
    if out is not None:
        assert out.GetNumConformers() == n
        for c in out.GetConformers():
            pos = np.asarray(c.GetPositions())
            assert np.isfinite(pos).all() and np.abs(pos.mean(0)).max() < 1e-4  # zero centre of mass frame


# --- a caller's conformers: NaN/inf anywhere is named by the argument that carried it -----------
def _embedded(smiles: str, n: int, seed: int):
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMultipleConfs(mol, n, randomSeed=seed + 1)
    return mol


EMBEDDABLE = ["CC", "CO", "CCO", "C=O", "CC(=O)N", "C1CC1", "C[C@H](N)O"]


@settings(FUZZ, max_examples=40)
@given(smiles=st.lists(st.sampled_from(EMBEDDABLE), min_size=1, max_size=3), n_conf=st.integers(1, 2),
       bad_value=st.sampled_from([float("nan"), float("inf"), -float("inf")]), seed=st.integers(0, 2**10),
       max_atoms=st.one_of(st.sampled_from([1, 30, 20000]), st.integers(-2, 0), st.just(30.0)),
       single=st.booleans(), fault=st.sampled_from(VALID + ["coords"]))
def test_refine_names_the_conformer_input(smiles, n_conf, bad_value, seed, max_atoms, single, fault):
    from polydiff.molecules.generate import refine_conformers

    mols = [_embedded(s, n_conf, seed) for s in smiles]
    rng = np.random.default_rng(seed)
    bad = int(rng.integers(len(mols)))
    if fault == "coords":
        conf = mols[bad].GetConformer(int(rng.integers(n_conf)))
        conf.SetAtomPosition(int(rng.integers(mols[bad].GetNumAtoms())), (0.0, bad_value, 0.0))
    arg = mols[0] if single else mols
    out, err = outcome(lambda: refine_conformers(arg, net=NET, process=PROC, noise_level=0.5, steps=2,
                                                 solver="ddim", seed=seed, max_batch_atoms=max_atoms))
    nan_seen = fault == "coords" and (not single or bad == 0)
    good_atoms = isinstance(max_atoms, int) and max_atoms >= 1
    assert (err is None) == (not nan_seen and good_atoms), (fault, max_atoms, err)
    if nan_seen:  # checked before anything else, named by the caller's argument (not core's "x_T")
        assert str(err).startswith("mols" if single else f"mols[{bad}]") and "x_T" not in str(err), err
    if out is not None:
        for m in ([out] if single else out):
            assert m.GetNumConformers() == n_conf
            assert all(np.isfinite(c.GetPositions()).all() for c in m.GetConformers())


@settings(FUZZ, max_examples=60)
@given(smiles=st.sampled_from(EMBEDDABLE), n_ref=st.integers(1, 3), n_gen=st.integers(1, 3), seed=st.integers(0, 99),
       delta=st.one_of(st.floats(-1.0, 3.0), st.sampled_from([float("nan"), float("inf")])),
       fault=st.sampled_from(VALID + ["ref-nan", "gen-inf", "gen-smiles", "gen-none", "other-molecule", "no-conformer"]))
def test_ensemble_metrics(smiles, n_ref, n_gen, seed, delta, fault):
    from polydiff.molecules.metrics import score_conformers, summarize

    ref, gen = _embedded(smiles, n_ref, seed), _embedded(smiles, n_gen, seed + 7)
    if fault == "ref-nan":
        ref.GetConformer(n_ref - 1).SetAtomPosition(0, (float("nan"), 0.0, 0.0))
    elif fault == "gen-inf":
        gen.GetConformer(0).SetAtomPosition(gen.GetNumAtoms() - 1, (0.0, 0.0, float("inf")))
    elif fault == "gen-smiles":
        gen = smiles
    elif fault == "gen-none":
        gen = None
    elif fault == "other-molecule":
        gen = _embedded("CCCCO", n_gen, seed)
    elif fault == "no-conformer":
        gen.RemoveAllConformers()
    scores, err = outcome(lambda: score_conformers([ref], [gen]))
    assert (err is None) == (fault is None), (fault, err)
    if fault in ("ref-nan", "gen-inf", "gen-smiles", "gen-none"):
        assert str(err).startswith("refs[0]" if fault == "ref-nan" else "gens[0]"), err
    if scores is not None:
        assert scores.rmsd[0].shape == (n_ref, n_gen) and (scores.rmsd[0] >= 0).all()
        summary, err = outcome(lambda: summarize(scores, delta))
        assert (err is None) == (0 < delta < float("inf")), (delta, err)
        if summary is not None:
            assert 0 <= summary["COV-R mean"] <= 100 and 0 <= summary["COV-P mean"] <= 100
            assert summary["MAT-R mean"] == pytest.approx(scores.rmsd[0].min(1).mean())


@settings(FUZZ, max_examples=40)
@given(smiles=st.sampled_from(EMBEDDABLE + ["[He]"]), n=st.one_of(st.integers(-1, 3), st.floats(0.5, 2.5)),
       seed=st.one_of(st.integers(-2, 2**20), st.just(1.5)), threads=st.integers(0, 2))
def test_etkdg_arguments(smiles, n, seed, threads):
    from polydiff.molecules.baselines import etkdg

    out, err = outcome(lambda: etkdg(smiles, n, seed=seed, threads=threads))
    ok = (isinstance(n, int) and n >= 1 and isinstance(seed, int) and seed >= 1 and threads >= 1)
    assert (err is None) == ok, (n, seed, threads, err)
    if out is not None:
        assert 1 <= out.GetNumConformers() <= n
        assert all(np.isfinite(c.GetPositions()).all() for c in out.GetConformers())
