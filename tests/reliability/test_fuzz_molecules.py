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
