"""Molecule datasets that work offline, and the papers' datasets from a user path.

- :func:`load_qm9`: QM9 (Ramakrishnan et al. 2014) with its B3LYP geometries, read from the
  CSV files shipped in the ``qm9pack`` wheel (one DFT conformer per molecule, with H).
- :func:`split_by_molecule`: a seeded train/val/test split in which no molecule is shared.
- :func:`load_rdkit_sdf`: small 3D drug-like sets shipped with RDKit (``cdk2``, ``cmet``).
- :func:`load_moses_smiles`: MOSES SMILES (Polykovskiy et al. 2020) read from the ``molsets``
  package files without importing ``moses``.
- :func:`load_geom`: GEOM conformer ensembles (Axelrod & Gomez-Bombarelli 2022) exported
  as SDF files into a user-supplied folder (GEOM cannot be downloaded here; no pickles).
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import pathlib
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "QM9_COLUMNS",
    "RDKIT_SDF_SETS",
    "Split",
    "load_geom",
    "load_moses_smiles",
    "load_qm9",
    "load_rdkit_sdf",
    "mol_from_xyz",
    "qm9_files",
    "split_by_molecule",
]

QM9_COLUMNS = ("Index", "SMILES", "Elements", "XYZ_Ang")
RDKIT_SDF_SETS = {
    "cdk2": ("Fastcluster", "testdata", "cdk2.sdf"),
    "cmet": ("FreeWilson", "data", "cmet_ligands.sdf"),
}


def _package_dir(name: str) -> pathlib.Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name!r} is not installed; it ships the data files")
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def qm9_files(root: str | pathlib.Path | None = None) -> list[pathlib.Path]:
    """Paths of the three QM9 CSV parts (``qm9_part{1,2,3}.csv``).

    Args:
        root: folder holding the CSVs; default: the ``data`` folder of the installed
            ``qm9pack`` wheel.
    """
    root = pathlib.Path(root) if root is not None else _package_dir("qm9pack") / "data"
    files = [root / f"qm9_part{i}.csv" for i in (1, 2, 3)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"QM9 CSV files not found: {missing}; pass root=<folder with "
                                "qm9_part{1,2,3}.csv> or `pip install qm9pack` (it ships them)")
    return files


def mol_from_xyz(elements: Sequence[str], coords: Sequence[Sequence[float]], name: str = ""):
    """RDKit ``Mol`` with one conformer from element symbols and coordinates in Å.

    Bonds and bond orders are perceived with ``rdDetermineBonds.DetermineBonds(charge=0)``
    (Kim & Kim 2015 xyz2mol); the molecule is sanitised.

    Raises:
        ValueError: if the counts differ or RDKit cannot perceive/sanitise the molecule.
    """
    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds

    if len(elements) != len(coords) or len(elements) == 0:
        raise ValueError(f"{name}: {len(elements)} elements but {len(coords)} coordinates")
    table = Chem.GetPeriodicTable()
    for i, e in enumerate(elements):
        try:
            known = isinstance(e, str) and table.GetAtomicNumber(e) > 0
        except RuntimeError:  # RDKit's "Element 'Xx' not found"
            known = False
        if not known:
            raise ValueError(f"{name}: elements[{i}] must be an element symbol, got {e!r}")
    xyz = np.asarray(coords, dtype=np.float64)
    if xyz.shape != (len(elements), 3) or not np.isfinite(xyz).all():
        raise ValueError(f"{name}: coords must be finite [{len(elements)}, 3] positions in Å, got "
                         f"{'shape ' + str(xyz.shape) if xyz.shape != (len(elements), 3) else 'NaN/inf'}")
    lines = [str(len(elements)), name]
    lines += [f"{e} {x:.10f} {y:.10f} {z:.10f}" for e, (x, y, z) in zip(elements, coords)]
    mol = Chem.MolFromXYZBlock("\n".join(lines) + "\n")
    if mol is None:
        raise ValueError(f"{name}: RDKit could not read the XYZ block")
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=0)
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises ValueError or its own exception types
        raise ValueError(f"{name}: bond perception/sanitisation failed: {exc}") from exc
    if name:
        mol.SetProp("_Name", name)
    return mol


def load_qm9(
    root: str | pathlib.Path | None = None,
    *,
    parts: Sequence[int] = (1, 2, 3),
    max_atoms: int | None = None,
    min_heavy_atoms: int = 1,
    max_heavy_atoms: int | None = None,
    limit: int | None = None,
) -> list:
    """QM9 molecules with their DFT geometry as RDKit ``Mol`` objects (explicit H).

    Reads only the ``SMILES``, ``Elements`` and ``XYZ_Ang`` columns of the CSVs and builds
    each molecule with :func:`mol_from_xyz`. Molecules RDKit cannot perceive (a few
    zwitterions and charged species) are skipped and counted in a warning.

    Args:
        root: folder of the CSVs (default: the ``qm9pack`` wheel).
        parts: which CSV parts to read (1, 2, 3).
        max_atoms: keep molecules with at most this many atoms (with H).
        min_heavy_atoms / max_heavy_atoms: bounds on the number of non-H atoms.
        limit: stop after this many molecules are built (in file order).

    Returns:
        List of ``Mol``; each has props ``_Name`` (QM9 index) and ``smiles`` (the CSV SMILES).
    """
    import pandas as pd

    if not parts or any(p not in (1, 2, 3) for p in parts):
        raise ValueError(f"parts must be a non-empty subset of (1, 2, 3), got {parts}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    files = qm9_files(root)
    mols, skipped = [], 0
    for p in parts:
        df = pd.read_csv(files[p - 1], usecols=list(QM9_COLUMNS))
        for idx, smi, elems, xyz in df.itertuples(index=False, name=None):
            elements = json.loads(elems.replace("'", '"'))
            n = len(elements)
            heavy = sum(e != "H" for e in elements)
            if max_atoms is not None and n > max_atoms:
                continue
            if heavy < min_heavy_atoms or (max_heavy_atoms is not None and heavy > max_heavy_atoms):
                continue
            try:
                mol = mol_from_xyz(elements, json.loads(xyz), name=f"qm9_{idx}")
            except ValueError:
                skipped += 1
                continue
            mol.SetProp("smiles", smi)
            mols.append(mol)
            if limit is not None and len(mols) >= limit:
                break
        if limit is not None and len(mols) >= limit:
            break
    if skipped:
        warnings.warn(f"load_qm9: skipped {skipped} molecules RDKit could not perceive", stacklevel=2)
    return mols


@dataclass(frozen=True)
class Split:
    """Indices of a split by molecule (disjoint, sorted)."""

    train: list[int]
    val: list[int]
    test: list[int]


def split_by_molecule(n: int, *, val: float = 0.05, test: float = 0.1,
                      seed: int = 0) -> Split:
    """Shuffle ``range(n)`` with a fixed seed and cut it into disjoint train/val/test.

    ``val``/``test`` are counts (int) or fractions (float in [0, 1)). Each QM9 molecule has
    one conformer, so a split by index is a split by molecule.
    """
    if n < 1:
        raise ValueError(f"need at least one molecule to split, got n={n}")

    def count(v, name):
        if isinstance(v, float):
            if not 0 <= v < 1:
                raise ValueError(f"{name} fraction must be in [0, 1), got {v}")
            return round(v * n)
        if v < 0:
            raise ValueError(f"{name} count must be >= 0, got {v}")
        return int(v)

    n_val, n_test = count(val, "val"), count(test, "test")
    if n_val + n_test >= n:
        raise ValueError(f"val ({n_val}) + test ({n_test}) leave no training molecules of {n}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return Split(sorted(order[n_val + n_test:]), sorted(order[:n_val]),
                 sorted(order[n_val:n_val + n_test]))


def load_rdkit_sdf(name: str = "cdk2", *, remove_hs: bool = False) -> list:
    """A 3D SDF set shipped in RDKit's ``Contrib`` folder: ``"cdk2"`` (47) or ``"cmet"`` (24).

    Hydrogens are kept (``removeHs=False``) unless ``remove_hs``; molecules RDKit cannot
    read raise ``ValueError``.
    """
    from rdkit import Chem, RDConfig

    if name not in RDKIT_SDF_SETS:
        raise ValueError(f"unknown RDKit SDF set {name!r}; expected one of {sorted(RDKIT_SDF_SETS)}")
    path = pathlib.Path(RDConfig.RDContribDir).joinpath(*RDKIT_SDF_SETS[name])
    if not path.is_file():
        raise FileNotFoundError(f"RDKit contrib file not found: {path}")
    mols = []
    for i, mol in enumerate(Chem.SDMolSupplier(str(path), removeHs=remove_hs)):
        if mol is None:
            raise ValueError(f"{path}: record {i} could not be read by RDKit")
        mols.append(mol)
    return mols


def load_moses_smiles(split: str = "test", *, limit: int | None = None,
                      root: str | pathlib.Path | None = None) -> list[str]:
    """MOSES SMILES from ``<moses>/dataset/data/{train,test,test_scaffolds}.csv.gz``.

    The ``molsets`` package is read as files (importing ``moses`` pulls heavy dependencies).
    """
    if split not in ("train", "test", "test_scaffolds"):
        raise ValueError(f"unknown MOSES split {split!r}")
    root = pathlib.Path(root) if root is not None else _package_dir("moses") / "dataset" / "data"
    path = root / f"{split}.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"MOSES file not found: {path}; pass root=<folder with {split}.csv.gz> "
                                "or `pip install --no-deps molsets==0.3.1` (it ships the CSVs)")
    out = []
    with gzip.open(path, "rt") as fh:
        header = fh.readline().strip().split(",")
        col = header.index("SMILES") if "SMILES" in header else 0
        for line in fh:
            out.append(line.rstrip("\n").split(",")[col])
            if limit is not None and len(out) >= limit:
                break
    return out


def load_geom(root: str | pathlib.Path, dataset: str = "drugs", split: str = "test",
              *, limit: int | None = None) -> dict[str, list]:
    """GEOM conformer ensembles (Axelrod & Gomez-Bombarelli 2022) from a local copy.

    Expects the SDF layout ``<root>/<dataset>/<split>/<name>.sdf`` (one file per molecule,
    all reference conformers of it as records with explicit H), e.g. exported from GEOM's
    ``rdkit_folder`` or GeoDiff's test pickles. No pickle is ever loaded here.

    Returns:
        ``{name: [Mol, ...]}``; merge conformers with :func:`polydiff.molecules.metrics.merge_conformers`.

    Raises:
        FileNotFoundError: if the folder is absent (GEOM downloads are not possible offline).
    """
    from rdkit import Chem

    if dataset not in ("drugs", "qm9"):
        raise ValueError(f"GEOM dataset must be 'drugs' or 'qm9', got {dataset!r}")
    folder = pathlib.Path(root) / dataset / split
    if not folder.is_dir():
        raise FileNotFoundError(
            f"GEOM folder {folder} not found: download GEOM (https://github.com/learningmatter-mit/geom) "
            "and export each test molecule's conformers to <root>/<dataset>/<split>/<name>.sdf")
    out: dict[str, list] = {}
    for path in sorted(folder.glob("*.sdf")):
        confs = [m for m in Chem.SDMolSupplier(str(path), removeHs=False)]
        if not confs or any(m is None for m in confs):
            raise ValueError(f"{path}: empty or unreadable SDF")
        out[path.stem] = confs
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise FileNotFoundError(f"no .sdf files in {folder}: export each GEOM test molecule's conformers "
                                "to <root>/<dataset>/<split>/<name>.sdf")
    return out
