"""RDKit conformer baselines: ETKDGv3, ETKDG + MMFF94 and clustered ETKDG.

- ETKDGv3 (Riniker & Landrum 2015; Wang et al. 2020): distance geometry with
  experimental-torsion and knowledge terms, ``rdDistGeom.EmbedMultipleConfs``.
- ETKDG + MMFF: every embedded conformer relaxed with MMFF94 (Halgren 1996), the usual
  "RDKit + force field" baseline of the conformer-generation papers.
- clustered ETKDG: ``oversample * n`` ETKDG conformers, Butina clustering (Butina 1999) of
  their heavy-atom RMSD matrix, the ``n`` largest clusters' centroids kept (fills up from
  the largest clusters when there are fewer clusters than ``n``).

The molecule keeps its atoms (hydrogens as given), so results align atom by atom with the
input and with :func:`polydiff.molecules.generate.generate_conformers`.

Every baseline takes ``stereo=``, the stereo information it is given (:data:`STEREO_INFO`):
``"full"`` embeds the molecule with the chiral tags and double-bond stereo it carries (for a
QM9 molecule: read from its DFT geometry, i.e. the answer's stereo), ``"centres"`` keeps
only the chiral tags and ``"none"`` removes all stereo, so ETKDG draws it at random. A fair
comparison gives ETKDG the information the diffusion sampler received
(:func:`polydiff.molecules.generate.stereo_information`).
"""
from __future__ import annotations

__all__ = ["BASELINES", "STEREO_INFO", "clustered_etkdg", "etkdg", "etkdg_mmff", "restrict_stereo"]

STEREO_INFO = {
    "full": "chiral tags (R/S) and double-bond stereo (E/Z) of the input",
    "centres": "chiral tags (R/S) of the input only; double-bond stereo removed",
    "none": "no stereo: chiral tags and double-bond stereo removed",
}


def restrict_stereo(mol, stereo: str):
    """A copy of ``mol`` carrying only the stereo information named by ``stereo`` (:data:`STEREO_INFO`)."""
    from rdkit import Chem

    if stereo not in STEREO_INFO:
        raise ValueError(f"stereo must be one of {sorted(STEREO_INFO)}, got {stereo!r}")
    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"restrict_stereo needs an RDKit Mol, got {type(mol).__name__}")
    m = Chem.Mol(mol)
    if stereo == "full":
        return m
    if stereo == "none":
        for a in m.GetAtoms():
            a.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for b in m.GetBonds():
        b.SetStereo(Chem.BondStereo.STEREONONE)
        b.SetBondDir(Chem.BondDir.NONE)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return m

_DEFAULT_SEED = 0xC0FFEE


def _embed(mol_or_smiles, n: int, seed: int, *, threads: int = 1, stereo: str = "full"):
    from polydiff.core.validate import check_int
    from rdkit import Chem
    from rdkit.Chem import rdDistGeom

    from .featurize import parse_molecule

    check_int(n, "n", low=1)
    check_int(seed, "seed", low=0)  # RDKit reads a negative randomSeed as "unseeded"
    check_int(threads, "threads", low=1)
    if seed == 0:  # RDKit treats randomSeed=0 as "seeded with 0" and repeats conformers
        raise ValueError("seed must be non-zero (RDKit's randomSeed=0 yields identical conformers)")
    mol = Chem.Mol(parse_molecule(mol_or_smiles))
    mol.RemoveAllConformers()
    mol = restrict_stereo(mol, stereo)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = int(seed)
    params.numThreads = int(threads)
    rdDistGeom.EmbedMultipleConfs(mol, numConfs=int(n), params=params)
    # Hard cases (strained fused rings with stereo centres, as in some QM9 molecules):
    # random starting coordinates (RDKit's documented fallback), then without enforcing
    # the chirality constraints during embedding, then up to 10 rounds of KDG, without the
    # experimental torsion preferences (strained cages such as QM9 66740 embed only so; given
    # no stereo, most random stereo assignments of a cage cannot close it).
    attempts = [(rdDistGeom.ETKDGv3, True), (rdDistGeom.ETKDGv3, False)] + [(rdDistGeom.KDG, False)] * 10
    for k, (make, chirality) in enumerate(attempts, start=1):
        if mol.GetNumConformers() >= n:
            break
        params = make()
        params.useRandomCoords, params.enforceChirality = True, chirality
        params.numThreads = int(threads)
        params.clearConfs = False
        params.randomSeed = int(seed) + k
        rdDistGeom.EmbedMultipleConfs(mol, numConfs=int(n) - mol.GetNumConformers(), params=params)
    if mol.GetNumConformers() == 0 and stereo != "full":
        _embed_stereoisomers(mol, n, seed, threads)
    if mol.GetNumConformers() == 0:
        name = mol.GetProp("_Name") if mol.HasProp("_Name") else Chem.MolToSmiles(mol)
        raise ValueError(f"ETKDG could not embed any conformer of {name!r}")
    return mol


def _embed_stereoisomers(mol, n: int, seed: int, threads: int) -> None:
    """Add up to ``n`` conformers to ``mol`` (whose stereo is not all given) from its
    stereoisomers (RDKit's ``EnumerateStereoisomers``), tried in a seeded random order, each
    embedded with its stereo enforced; infeasible ones are skipped. What an RDKit user does when
    ETKDG's own random stereo choices cannot close a cage (QM9 44409, O=C1OC2C3C=CC12C3, has
    two infeasible assignments of eight, and ETKDG without stereo finds no conformer)."""
    import random

    from rdkit import Chem
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

    isomers = list(EnumerateStereoisomers(Chem.Mol(mol), options=StereoEnumerationOptions(unique=True)))
    random.Random(seed).shuffle(isomers)
    for k, iso in enumerate(isomers, start=1):
        if mol.GetNumConformers() >= n:
            break
        try:
            done = _embed(iso, n - mol.GetNumConformers(), seed + 100 * k, threads=threads, stereo="full")
        except ValueError:
            continue
        for conf in done.GetConformers():
            mol.AddConformer(Chem.Conformer(conf), assignId=True)


def etkdg(mol_or_smiles, n: int, *, seed: int = _DEFAULT_SEED, threads: int = 1, stereo: str = "full"):
    """``n`` ETKDGv3 conformers (fewer only if embedding fails repeatedly), given ``stereo``
    (:data:`STEREO_INFO`)."""
    return _embed(mol_or_smiles, n, seed, threads=threads, stereo=stereo)


def etkdg_mmff(mol_or_smiles, n: int, *, seed: int = _DEFAULT_SEED, max_iters: int = 2000,
               threads: int = 1, stereo: str = "full"):
    """ETKDGv3 conformers relaxed with MMFF94 (:func:`~polydiff.molecules.relax.mmff_relax`)."""
    from .relax import mmff_relax

    return mmff_relax(_embed(mol_or_smiles, n, seed, threads=threads, stereo=stereo), max_iters=int(max_iters),
                      threads=int(threads))


def clustered_etkdg(mol_or_smiles, n: int, *, oversample: int = 5, threshold: float = 0.3,
                    seed: int = _DEFAULT_SEED, threads: int = 1, stereo: str = "full"):
    """The centroids of the ``n`` largest Butina clusters of ``oversample * n`` ETKDG conformers.

    Args:
        threshold: Butina distance cutoff (heavy-atom RMSD, Å).
    """
    from polydiff.core.validate import check_int, check_number
    from rdkit import Chem
    from rdkit.Chem import AllChem
    from rdkit.ML.Cluster import Butina

    check_int(n, "n", low=1)
    check_int(oversample, "oversample", low=1)
    check_number(threshold, "threshold", low=0.0, low_open=True)
    pool = _embed(mol_or_smiles, n * oversample, seed, threads=threads, stereo=stereo)
    heavy = Chem.RemoveHs(pool, sanitize=False)
    m = heavy.GetNumConformers()
    dists = AllChem.GetConformerRMSMatrix(heavy, prealigned=False) if m > 1 else []
    clusters = Butina.ClusterData(dists, m, threshold, isDistData=True, reordering=True)
    clusters = sorted(clusters, key=len, reverse=True)
    picks = [c[0] for c in clusters[:n]]  # Butina puts the centroid first
    for c in clusters:  # fewer clusters than n: fill with members of the largest clusters
        for idx in c[1:]:
            if len(picks) >= n:
                break
            picks.append(idx)
    conf_ids = [c.GetId() for c in pool.GetConformers()]
    out = Chem.Mol(pool)
    out.RemoveAllConformers()
    for k in picks[:n]:
        out.AddConformer(Chem.Conformer(pool.GetConformer(conf_ids[k])), assignId=True)
    return out


BASELINES = {"etkdg": etkdg, "etkdg+mmff": etkdg_mmff, "clustered-etkdg": clustered_etkdg}
