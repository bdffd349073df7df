"""Catalogue cases of polydiff.molecules."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import MISSING, Case


def _molecules_cases() -> list[Case]:
    import numpy as np
    from polydiff.molecules.baselines import etkdg
    from polydiff.molecules.data import load_geom, load_moses_smiles, qm9_files
    from polydiff.molecules.featurize import mol_to_data, parse_molecule
    from polydiff.molecules.generate import generate_conformers, refine_conformers
    from polydiff.molecules.metrics import (
        ConformerScores,
        merge_conformers,
        rmsd_matrix,
        score_conformers,
        summarize,
    )
    from polydiff.molecules.pipeline import ConformerGenerator, write_sdf
    from polydiff.molecules.process import geodiff_process
    from polydiff.molecules.relax import mmff_relax
    from polydiff.molecules.relax_sampled import relax_conformers
    from rdkit import Chem
    from rdkit.Chem import AllChem

    def conformers(nan: bool = False):
        mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
        AllChem.EmbedMultipleConfs(mol, 2, randomSeed=7)
        if nan:
            mol.GetConformer(0).SetAtomPosition(1, (float("nan"), 0.0, 0.0))
        return mol

    lin = torch.nn.Linear(1, 1)
    return [
        Case("molecules.refine_conformers", "NaN in the caller's conformer (was 'x_T contains NaN')",
             lambda: refine_conformers(conformers(nan=True), net=lin, process=None), ValueError,
             r"mols: conformer 0 has non-finite coordinates \(NaN first at atom 1\)"),
        Case("molecules.refine_conformers", "NaN in the second molecule of a list",
             lambda: refine_conformers([conformers(), conformers(nan=True)], net=lin, process=None), ValueError,
             r"mols\[1\]: conformer 0"),
        Case("molecules.refine_conformers", "max_batch_atoms = 0 (was accepted)",
             lambda: refine_conformers(conformers(), net=lin, process=geodiff_process(200), max_batch_atoms=0),
             ValueError, "max_batch_atoms must be an integer >= 1"),
        Case("molecules.generate_conformers", "net=None (was AttributeError)",
             lambda: generate_conformers("CCO", 1, net=None, process=geodiff_process(200)), TypeError,
             "net must be a torch.nn.Module"),
        Case("molecules.generate_conformers", "stats of the wrong type (was AttributeError)",
             lambda: generate_conformers("CCO", 1, net=lin, process=geodiff_process(200), stats={}), TypeError,
             "stats must be a GenerationStats"),
        Case("molecules.ConformerGenerator", "n_conformers = 0",
             lambda: ConformerGenerator(lin, geodiff_process(200))("CCO", 0), ValueError,
             "n must be a positive integer, got 0"),
        Case("molecules.ConformerGenerator", "n_conformers a float",
             lambda: ConformerGenerator(lin, geodiff_process(200))("CCO", 2.5), ValueError,
             "n must be a positive integer, got 2.5"),
        Case("molecules.ConformerGenerator", "invalid SMILES", lambda: ConformerGenerator(lin, None)("C1CC((N", 1),
             ValueError, "invalid SMILES"),
        Case("molecules.ConformerGenerator", "heavy_atom_range not a pair (was an unpacking error)",
             lambda: ConformerGenerator(lin, None, heavy_atom_range=(5,)), TypeError, "heavy_atom_range must be"),
        Case("molecules.write_sdf", "NaN coordinates (were written to the SDF)",
             lambda: write_sdf([conformers(nan=True)], "/nonexistent/never-written.sdf"), ValueError,
             r"mols\[0\]: conformer 0 has non-finite"),
        Case("molecules.rmsd_matrix", "NaN in the generated conformers (was a silent RMSD)",
             lambda: rmsd_matrix(conformers(), conformers(nan=True)), ValueError, "gen: conformer 0 has non-finite"),
        Case("molecules.rmsd_matrix", "a SMILES instead of a Mol (was AttributeError)",
             lambda: rmsd_matrix("CCO", conformers()), TypeError, "ref must be an rdkit.Chem.Mol"),
        Case("molecules.score_conformers", "NaN in a reference conformer",
             lambda: score_conformers([conformers(nan=True)], [conformers()]), ValueError, r"refs\[0\]: conformer 0"),
        Case("molecules.summarize", "NaN threshold (was a silent 0% coverage)",
             lambda: summarize(ConformerScores([np.ones((2, 2))]), float("nan")), ValueError,
             "delta must be a finite number"),
        Case("molecules.ConformerScores", "empty set of molecules (was NaN scores)", lambda: ConformerScores([]),
             ValueError, "rmsd must be a non-empty list"),
        Case("molecules.ConformerScores", "molecule without generated conformers (was a numpy error)",
             lambda: ConformerScores([np.zeros((3, 0))]), ValueError, r"rmsd\[0\] must be a non-empty"),
        Case("molecules.merge_conformers", "None in the list (was a Boost.Python ArgumentError)",
             lambda: merge_conformers([conformers(), None]), TypeError, r"mols\[1\] must be an rdkit.Chem.Mol"),
        Case("molecules.relax_conformers", "conformer count differs from the generating call's n",
             lambda: relax_conformers(conformers(), 3, net=lin, process=None), ValueError,
             r"conformers: expected n=3 conformers \(the generating call's\), got 2"),
        Case("molecules.relax_conformers", "a SMILES instead of generated conformers",
             lambda: relax_conformers("CCO", 1, net=lin, process=None), TypeError,
             "conformers must be an rdkit.Chem.Mol"),
        Case("molecules.mmff_relax", "NaN coordinates (were minimised into NaN)",
             lambda: mmff_relax(conformers(nan=True)), ValueError, "mol: conformer 0 has non-finite"),
        Case("molecules.mol_to_data", "NaN coordinates (became a NaN pos tensor)",
             lambda: mol_to_data(conformers(nan=True)), ValueError, "mol_or_smiles: conformer 0 has non-finite"),
        Case("molecules.mol_to_data", "unknown conf_id (was RDKit's 'Bad Conformer Id')",
             lambda: mol_to_data(conformers(), conf_id=5), ValueError, "conf_id must be"),
        Case("molecules.etkdg", "float number of conformers (was truncated)", lambda: etkdg("CCO", 2.5), TypeError,
             "n must be an integer"),
        Case("molecules.etkdg", "negative seed (RDKit reads it as unseeded)", lambda: etkdg("CCO", 2, seed=-1),
             ValueError, "seed must be an integer >= 0"),
        Case("molecules.parse_molecule", "invalid SMILES", lambda: parse_molecule("C1CC((N"), ValueError,
             r"invalid SMILES.*C1CC"),
        Case("molecules.parse_molecule", "empty SMILES", lambda: parse_molecule("  "), ValueError, "empty"),
        Case("molecules.parse_molecule", "not a SMILES or Mol", lambda: parse_molecule(42), TypeError,
             "SMILES string or rdkit"),
        Case("molecules.parse_molecule", "pentavalent carbon", lambda: parse_molecule("C(C)(C)(C)(C)C"), ValueError,
             "C\\(C\\)"),
        Case("molecules.parse_molecule", "None instead of a molecule", lambda: parse_molecule(None), TypeError,
             "SMILES string or rdkit"),
        Case("molecules.generate_conformers", "negative seed (was a numpy error)",
             lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(1, 1), process=None, seed=-1), ValueError,
             "seed must be a non-negative int"),
        Case("molecules.refine_conformers", "molecule without a conformer",
             lambda: refine_conformers(Chem.MolFromSmiles("CCO"), net=torch.nn.Linear(1, 1), process=None),
             ValueError, "no conformer to refine"),
        Case("molecules.generate_conformers", "restart level beyond the prior",
             lambda: generate_conformers("CCO", 1, net=_ZeroEps(), process=geodiff_process(5000),
                                         restarts=2, restart_noise=1e4), ValueError, "restart_noise must lie in"),
        Case("molecules.load_geom", "GEOM not downloaded", lambda: load_geom(MISSING / "geom"), FileNotFoundError,
             "download GEOM"),
        Case("molecules.qm9_files", "folder without the QM9 CSVs", lambda: qm9_files(MISSING / "qm9"),
             FileNotFoundError, "pip install qm9pack"),
        Case("molecules.load_moses_smiles", "folder without the MOSES CSVs",
             lambda: load_moses_smiles(root=MISSING / "moses"), FileNotFoundError, "molsets"),
        *_molecules_cases_31(conformers),
    ]


class _ZeroEps(torch.nn.Module):
    """A stand-in denoiser with the molecules networks' call signature."""

    def forward(self, pos, t, batch):
        return torch.zeros_like(pos)


def _molecules_cases_31(conformers) -> list[Case]:
    """Second round of #31: what an independent probe of the molecules API found."""
    import tempfile

    import numpy as np
    from polydiff.molecules.data import mol_from_xyz
    from polydiff.molecules.featurize import parse_molecule
    from polydiff.molecules.files import read_molecules
    from polydiff.molecules.generate import generate_conformers
    from polydiff.molecules.graph import radius_graph
    from polydiff.molecules.nets import NetConfig, build_net
    from polydiff.molecules.pipeline import ConformerGenerator, write_sdf
    from polydiff.molecules.pipelines import ConformerPipeline
    from polydiff.molecules.process import geodiff_process
    from rdkit import Chem

    def pipeline(**settings):
        net = build_net(NetConfig(hidden=8, num_convs_global=1, num_convs_local=1, num_rbf=4, cutoff=5.0))
        return ConformerPipeline(ConformerGenerator(net, geodiff_process(200, beta_end=0.05), **{"solver": "ddim", **settings}))

    def garbage_smiles():
        path = Path(tempfile.mkdtemp(prefix="polydiff-catalogue-")) / "g.smi"
        path.write_bytes(bytes(range(128, 256)))
        return read_molecules(path)

    return [
        Case("molecules.ConformerPipeline", "more steps than the process has (saved, refused at every call)",
             lambda: pipeline(steps=1000), ValueError, r"steps must lie in \[1, 200\]"),
        Case("molecules.ConformerPipeline", "restart_noise beyond the prior (saved, refused at every call)",
             lambda: pipeline(steps=2, restarts=1, restart_noise=1e6), ValueError, "restart_noise must lie in"),
        Case("molecules.ConformerPipeline", "restart_noise = inf with restarts = 0 (was saved)",
             lambda: pipeline(steps=2, restart_noise=float("inf")), ValueError,
             "restart_noise must be a finite number > 0"),
        Case("molecules.NetConfig", "float width (was a torch error in build_net)", lambda: NetConfig(hidden=8.5),
             TypeError, "NetConfig.hidden must be an integer"),
        Case("molecules.NetConfig", "NaN cutoff (was a net without radius edges)",
             lambda: NetConfig(cutoff=float("nan")), ValueError, "NetConfig.cutoff must be a finite number"),
        Case("molecules.write_sdf", "a Mol without conformers (wrote 0 records)",
             lambda: write_sdf([Chem.MolFromSmiles("CCO")], "/nonexistent/n.sdf"), ValueError,
             r"mols\[0\] has no conformer"),
        Case("molecules.write_sdf", "a path without an SDF suffix (SDF written under any name)",
             lambda: write_sdf([conformers()], "/nonexistent/out.txt"), ValueError, "path must end in .sdf"),
        Case("molecules.read_molecules", "non-UTF-8 bytes in a SMILES file (was UnicodeDecodeError)",
             garbage_smiles, ValueError, "g.smi: line 1: not UTF-8 text"),
        Case("molecules.parse_molecule", "add_hs='no' (a truthy string)", lambda: parse_molecule("CCO", add_hs="no"),
             TypeError, "add_hs must be a bool"),
        Case("molecules.generate_conformers", "a net with another call signature (was a torch error)",
             lambda: generate_conformers("CCO", 1, net=torch.nn.Linear(3, 3), process=geodiff_process(200, beta_end=0.05), steps=2,
                                         solver="ddim"), TypeError, r"net must be a denoiser called as net\(pos, t, batch\)"),
        Case("molecules.mol_from_xyz", "unknown element symbol (was 'RDKit could not read the XYZ block')",
             lambda: mol_from_xyz(["C", "Xx"], [[0, 0, 0], [1.5, 0, 0]]), ValueError,
             r"elements\[1\] must be an element symbol"),
        Case("molecules.mol_from_xyz", "NaN coordinates (was 'RDKit could not read the XYZ block')",
             lambda: mol_from_xyz(["C", "O"], [[0, 0, 0], [np.nan, 0, 0]]), ValueError, "coords must be finite"),
        Case("molecules.radius_graph", "NaN radius (was an empty graph)", lambda: radius_graph(torch.zeros(3, 3),
             float("nan")), ValueError, "r: radius must be positive"),
    ]
