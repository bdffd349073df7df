"""Conformer-ensemble metrics: COV and MAT, recall and precision (Xu et al. 2021 CGCF;
Ganea et al. 2021 GeoMol; Xu et al. 2022 GeoDiff, eq. 18-19; Jing et al. 2022).

For a molecule with reference conformers ``R`` and generated conformers ``G`` and the
heavy-atom RMSD after optimal alignment over molecular symmetries:

- ``COV-R(δ) = |{r in R : min_g RMSD(r, g) < δ}| / |R|``, ``MAT-R = mean_r min_g RMSD(r, g)``;
- ``COV-P(δ)``/``MAT-P`` swap the roles of ``R`` and ``G``.

Scores are per molecule, then summarised by mean and median over molecules. Thresholds
in use: 1.25 Å on GEOM-Drugs (GeoDiff's protocol), 0.75 Å (torsional diffusion's protocol),
0.5 Å on QM9. RMSDs are computed without hydrogens (``RemoveHs``) as both protocols do,
with ``rdMolAlign.GetBestRMS`` over the symmetry maps (found once per molecule) or
``rdMolAlign.AlignMol`` (atom order as given) for large molecules.
"""
from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from polydiff.core.validate import check_int, check_number

from .positions import check_conformers, check_mol

__all__ = [
    "THRESHOLDS",
    "ConformerScores",
    "coverage_curve",
    "merge_conformers",
    "plot_coverage",
    "rmsd_matrix",
    "score_conformers",
    "summarize",
]

THRESHOLDS = {"geom-drugs-geodiff": 1.25, "geom-drugs-torsional": 0.75, "geom-qm9": 0.5, "qm9": 0.5}


def _heavy_copy(mol, remove_hs: bool):
    from rdkit import Chem

    # RemoveAllHs: RemoveHs keeps a hydrogen that defines double-bond stereo (an imine N-H),
    # so a reference with E/Z tags and a conformer without them would differ in atoms
    return Chem.RemoveAllHs(mol, sanitize=False) if remove_hs else Chem.Mol(mol)


def _topology(mol):
    """Copy with every bond single and no aromatic flags (graph automorphisms by element)."""
    from rdkit import Chem

    m = Chem.RWMol(mol)
    for b in m.GetBonds():
        b.SetBondType(Chem.BondType.SINGLE)
        b.SetIsAromatic(False)
    for a in m.GetAtoms():
        a.SetIsAromatic(False)
        a.SetNoImplicit(True)
    return m.GetMol()


def merge_conformers(mols: Sequence) -> Chem.Mol:  # noqa: F821
    """One ``Mol`` carrying the conformers of several copies of the same molecule."""
    from rdkit import Chem

    if isinstance(mols, (str, bytes)) or not isinstance(mols, Sequence):
        raise TypeError(f"mols must be a list of rdkit.Chem.Mol, got {type(mols).__name__}")
    if not mols:
        raise ValueError("merge_conformers needs at least one molecule")
    for i, m in enumerate(mols):
        check_mol(m, f"mols[{i}]")
    out = Chem.Mol(mols[0])
    n = out.GetNumAtoms()
    for m in mols[1:]:
        if m.GetNumAtoms() != n:
            raise ValueError(f"cannot merge conformers of molecules with {n} and {m.GetNumAtoms()} atoms")
        for c in m.GetConformers():
            out.AddConformer(Chem.Conformer(c), assignId=True)
    return out


def rmsd_matrix(ref, gen, *, remove_hs: bool = True, max_matches: int = 10000,
                large: int = 100) -> np.ndarray:
    """Symmetry-aware RMSD ``[n_ref, n_gen]`` (Å) between the conformers of two ``Mol``s.

    ``ref`` and ``gen`` must be the same molecule (same atoms); their atom orders may differ
    only by a symmetry of the graph. Molecules with more than ``large`` heavy atoms fall back
    to ``AlignMol`` with the identity atom map (no symmetry search).
    """
    from rdkit.Chem import rdMolAlign

    for name, m in (("ref", ref), ("gen", gen)):
        check_conformers(check_mol(m, name), name)
    check_int(max_matches, "max_matches", low=1)
    check_int(large, "large", low=0)
    if ref.GetNumConformers() == 0 or gen.GetNumConformers() == 0:
        raise ValueError(f"rmsd_matrix needs conformers on both molecules, got "
                         f"{ref.GetNumConformers()} reference and {gen.GetNumConformers()} generated")
    r, g = _heavy_copy(ref, remove_hs), _heavy_copy(gen, remove_hs)
    if r.GetNumAtoms() != g.GetNumAtoms():
        raise ValueError(f"reference and generated molecules differ: {r.GetNumAtoms()} vs {g.GetNumAtoms()} atoms")
    n = r.GetNumAtoms()
    ids_r = [c.GetId() for c in r.GetConformers()]
    ids_g = [c.GetId() for c in g.GetConformers()]
    out = np.zeros((len(ids_r), len(ids_g)))
    if n > large:
        amap = [(i, i) for i in range(n)]
        for a, cr in enumerate(ids_r):
            for b, cg in enumerate(ids_g):
                out[a, b] = rdMolAlign.AlignMol(g, r, prbCid=cg, refCid=cr, atomMap=amap)
        return out
    # Symmetry maps once per molecule (GetBestRMS would redo the substructure search per pair).
    # Match on elements and connectivity only: force fields (MMFF) re-perceive aromaticity,
    # and conjugated terminal groups are symmetric anyway.
    matches = _topology(g).GetSubstructMatches(_topology(r), uniquify=False, useChirality=False,
                                               maxMatches=max_matches)
    if not matches:
        raise ValueError("generated molecule does not match the reference graph")
    maps = [list(zip(m, range(n))) for m in matches]  # (probe atom, reference atom)
    for a, cr in enumerate(ids_r):
        for b, cg in enumerate(ids_g):
            out[a, b] = rdMolAlign.GetBestRMS(g, r, prbId=cg, refId=cr, map=maps)
    return out


@dataclass(frozen=True)
class ConformerScores:
    """Per-molecule RMSD matrices and the COV/MAT numbers derived from them."""

    rmsd: list[np.ndarray]  # one [n_ref, n_gen] matrix per molecule

    def __post_init__(self) -> None:
        if not isinstance(self.rmsd, (list, tuple)) or not self.rmsd:
            raise ValueError(f"rmsd must be a non-empty list of [n_ref, n_gen] matrices, got {self.rmsd!r}")
        for i, m in enumerate(self.rmsd):
            a = np.asarray(m, dtype=np.float64)
            if a.ndim != 2 or 0 in a.shape:
                raise ValueError(f"rmsd[{i}] must be a non-empty [n_ref, n_gen] matrix, got shape {a.shape}")
            if not np.isfinite(a).all() or (a < 0).any():
                raise ValueError(f"rmsd[{i}] must hold finite RMSDs >= 0")

    def cov_r(self, delta: float) -> np.ndarray:
        """Per molecule, the share of references within ``delta`` of a generated conformer."""
        delta = check_number(delta, "delta", low=0.0, low_open=True)
        return np.array([(m.min(1) < delta).mean() for m in self.rmsd])

    def cov_p(self, delta: float) -> np.ndarray:
        """Per molecule, the share of generated conformers within ``delta`` of a reference."""
        delta = check_number(delta, "delta", low=0.0, low_open=True)
        return np.array([(m.min(0) < delta).mean() for m in self.rmsd])

    def mat_r(self) -> np.ndarray:
        return np.array([m.min(1).mean() for m in self.rmsd])

    def mat_p(self) -> np.ndarray:
        return np.array([m.min(0).mean() for m in self.rmsd])


def score_conformers(refs: Sequence, gens: Sequence, **kw) -> ConformerScores:
    """RMSD matrices of every (reference Mol, generated Mol) pair, one pair per molecule."""
    for name, v in (("refs", refs), ("gens", gens)):
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
            raise TypeError(f"{name} must be a list of rdkit.Chem.Mol (one per molecule), got {type(v).__name__}")
    if len(refs) != len(gens) or not refs:
        raise ValueError(f"need equally many reference and generated molecules (>0), got {len(refs)}, {len(gens)}")
    for i, (r, g) in enumerate(zip(refs, gens)):
        check_conformers(check_mol(r, f"refs[{i}]"), f"refs[{i}]")
        check_conformers(check_mol(g, f"gens[{i}]"), f"gens[{i}]")
    return ConformerScores([rmsd_matrix(r, g, **kw) for r, g in zip(refs, gens)])


def summarize(scores: ConformerScores, delta: float) -> dict[str, float]:
    """Mean and median over molecules of COV-R/MAT-R/COV-P/MAT-P (COV in percent)."""
    if not isinstance(scores, ConformerScores):
        raise TypeError(f"scores must be a ConformerScores, got {type(scores).__name__}")
    check_number(delta, "delta", low=0.0, low_open=True)
    out = {}
    for name, v in (("COV-R", 100 * scores.cov_r(delta)), ("MAT-R", scores.mat_r()),
                    ("COV-P", 100 * scores.cov_p(delta)), ("MAT-P", scores.mat_p())):
        out[f"{name} mean"] = float(np.mean(v))
        out[f"{name} median"] = float(np.median(v))
    return out


def coverage_curve(scores: ConformerScores, deltas: Sequence[float], kind: str = "R") -> np.ndarray:
    """Mean COV (percent) at every threshold of a sweep (``kind``: ``"R"`` or ``"P"``)."""
    if kind not in ("R", "P"):
        raise ValueError(f"kind must be 'R' or 'P', got {kind!r}")
    if not isinstance(scores, ConformerScores):
        raise TypeError(f"scores must be a ConformerScores, got {type(scores).__name__}")
    f = scores.cov_r if kind == "R" else scores.cov_p
    return np.array([100 * f(d).mean() for d in deltas])


def plot_coverage(results: Mapping[str, ConformerScores], path: str | pathlib.Path, *,
                  deltas: Sequence[float] | None = None, mark: float | None = None,
                  title: str = "") -> pathlib.Path:
    """PNG of COV-R and COV-P against the threshold δ, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    deltas = np.linspace(0.05, 2.0, 40) if deltas is None else np.asarray(deltas)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, kind in zip(axes, ("R", "P")):
        for name, sc in results.items():
            ax.plot(deltas, coverage_curve(sc, deltas, kind), label=name)
        if mark is not None:
            ax.axvline(mark, color="grey", ls=":", lw=1)
        ax.set_xlabel("threshold δ (Å)")
        ax.set_ylabel(f"COV-{kind} (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
