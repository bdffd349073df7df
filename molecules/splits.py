"""A random, seeded, graph-disjoint split of QM9 by heavy-atom count, and the label that names it.

QM9's CSV files are sorted by size (molecules with 1-8 heavy atoms come first), so taking the
first ``N`` molecules is not a sample of QM9. :func:`random_qm9_split` draws every split from a
seeded permutation of *all* molecules in the heavy-atom range, builds only the drawn ones
(:func:`~polydiff.molecules.data.mol_from_xyz`) and keeps the splits disjoint by QM9 index and
by molecular graph (a constitution in the test set is never trained on, whatever its
stereoisomer or geometry); :attr:`QM9Split.label` names the set and :meth:`QM9Split.describe`
counts what is in it.
"""
from __future__ import annotations

import json
import pathlib
import warnings
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["QM9Split", "graph_key", "random_qm9_split"]


@dataclass
class QM9Split:
    """Molecules (RDKit ``Mol`` with the DFT conformer) of a random QM9 split.

    Attributes:
        train / val / test: the molecules of each part.
        seed: the permutation's seed.
        min_heavy_atoms / max_heavy_atoms: the heavy-atom range drawn from.
        pool: QM9 molecules in that range (the population sampled).
        skipped: drawn molecules RDKit could not perceive or that repeat a graph of an
            earlier part (replaced by the next in the permutation).
    """

    train: list
    val: list
    test: list
    seed: int
    min_heavy_atoms: int
    max_heavy_atoms: int
    pool: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Dataset name for records, e.g. ``qm9-dft-random-heavy1-9-seed2022``."""
        return f"qm9-dft-random-heavy{self.min_heavy_atoms}-{self.max_heavy_atoms}-seed{self.seed}"

    def describe(self) -> dict:
        """Counts per part and the heavy-atom histogram of each part (what the label covers)."""
        out = {"label": self.label, "pool": self.pool, "skipped": dict(self.skipped)}
        for part in ("train", "val", "test"):
            mols = getattr(self, part)
            hist = Counter(m.GetNumHeavyAtoms() for m in mols)
            out[part] = {"n": len(mols), "heavy_atoms": dict(sorted(hist.items()))}
        return out


def graph_key(mol) -> str:
    """Canonical SMILES of the heavy-atom graph without stereo: one key per constitution."""
    from rdkit import Chem

    return Chem.MolToSmiles(Chem.RemoveHs(mol), isomericSmiles=False)


def _count(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    return v


def random_qm9_split(n_train: int, n_val: int, n_test: int, *, seed: int = 0, min_heavy_atoms: int = 1,
                     max_heavy_atoms: int = 9, max_atoms: int | None = None,
                     root: str | pathlib.Path | None = None) -> QM9Split:
    """Draw disjoint train/val/test sets uniformly from QM9 molecules in a heavy-atom range.

    All QM9 rows with ``min_heavy_atoms <= heavy atoms <= max_heavy_atoms`` are permuted with
    ``numpy.random.default_rng(seed)``; the test set takes the first ``n_test`` molecules that
    RDKit perceives, then validation, then training, each skipping a molecule whose graph
    (:func:`graph_key`) an earlier part already holds.

    Args:
        n_train / n_val / n_test: molecules per part.
        seed: the permutation's seed (``int >= 0``).
        min_heavy_atoms / max_heavy_atoms: heavy-atom range (QM9: 1-9).
        max_atoms: also drop molecules with more atoms (hydrogens included); ``None``: no bound.
        root: folder of ``qm9_part{1,2,3}.csv`` (default: the ``qm9pack`` wheel).

    Raises:
        ValueError: for bad counts or range, or when the range holds too few molecules.
    """
    import numpy as np
    import pandas as pd

    from .data import QM9_COLUMNS, mol_from_xyz, qm9_files

    counts = {p: _count(v, f"n_{p}") for p, v in (("test", n_test), ("val", n_val), ("train", n_train))}
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not (isinstance(min_heavy_atoms, int) and isinstance(max_heavy_atoms, int)
            and 1 <= min_heavy_atoms <= max_heavy_atoms):
        raise ValueError(f"need 1 <= min_heavy_atoms <= max_heavy_atoms, got {min_heavy_atoms!r}, "
                         f"{max_heavy_atoms!r}")
    if max_atoms is not None and (isinstance(max_atoms, bool) or not isinstance(max_atoms, int) or max_atoms < 2):
        raise ValueError(f"max_atoms must be None or an int >= 2, got {max_atoms!r}")
    df = pd.concat([pd.read_csv(f, usecols=list(QM9_COLUMNS)) for f in qm9_files(root)], ignore_index=True)
    elements = [json.loads(e.replace("'", '"')) for e in df["Elements"]]
    heavy = np.array([sum(a != "H" for a in el) for el in elements])
    size = np.array([len(el) for el in elements])
    keep = (heavy >= min_heavy_atoms) & (heavy <= max_heavy_atoms)
    rows = np.flatnonzero(keep if max_atoms is None else keep & (size <= max_atoms))
    if len(rows) < sum(counts.values()):
        raise ValueError(f"QM9 has {len(rows)} molecules with {min_heavy_atoms}-{max_heavy_atoms} heavy atoms, "
                         f"fewer than the {sum(counts.values())} requested")
    from rdkit.rdBase import BlockLogs

    order = np.random.default_rng(seed).permutation(rows)
    block = BlockLogs()  # noqa: F841 - RDKit's valence messages for the molecules skipped below
    parts: dict[str, list] = {p: [] for p in counts}
    seen: set[str] = set()
    skipped = Counter()
    pos = 0
    for part, want in counts.items():
        taken: set[str] = set()
        while len(parts[part]) < want:
            if pos >= len(order):
                raise ValueError(f"ran out of QM9 molecules filling {part!r} ({len(parts[part])}/{want}); "
                                 f"skipped {dict(skipped)}")
            r = int(order[pos])
            pos += 1
            try:
                mol = mol_from_xyz(elements[r], json.loads(df.at[r, "XYZ_Ang"]), name=f"qm9_{df.at[r, 'Index']}")
            except ValueError:
                skipped["unperceived"] += 1
                continue
            key = graph_key(mol)
            if key in seen:
                skipped["graph-in-earlier-part"] += 1
                continue
            taken.add(key)
            mol.SetProp("smiles", str(df.at[r, "SMILES"]))
            parts[part].append(mol)
        seen |= taken
    if skipped["unperceived"]:
        warnings.warn(f"random_qm9_split: skipped {skipped['unperceived']} molecules RDKit could not perceive",
                      stacklevel=2)
    return QM9Split(parts["train"], parts["val"], parts["test"], seed, min_heavy_atoms, max_heavy_atoms,
                    len(rows), dict(skipped))
