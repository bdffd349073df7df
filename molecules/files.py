"""The files chemists pass around: SMILES lists and SDF in, SDF out (written atomically).

- A SMILES file (``.smi``, ``.smiles``, ``.txt``) holds one molecule a line, ``SMILES [name]``
  (the name is the rest of the line; blank lines and ``#`` comments are skipped), as RDKit's
  ``SmilesMolSupplier`` and Open Babel read it.
- An SDF file (``.sdf``, ``.sd``) holds one record per molecule; its hydrogens are added where
  they are implicit, its coordinates are ignored (the stereo they imply is kept) and its
  properties are carried into the output.

Readers never raise on a bad molecule: they return the good ones and a :class:`Problem` per
bad line or record, so a caller can skip them with a report or refuse the file. Output goes
through :func:`atomic_output`: a crash leaves no half-written file under the finished name.
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from polydiff.core.atomic import atomic_path

__all__ = ["SDF_SUFFIXES", "SMILES_SUFFIXES", "Problem", "atomic_output", "read_molecules", "read_sdf",
           "read_smiles", "write_records"]

SMILES_SUFFIXES = (".smi", ".smiles", ".txt")
SDF_SUFFIXES = (".sdf", ".sd")


@dataclass(frozen=True)
class Problem:
    """A molecule of an input file that cannot be used: where it is (``"line 3"``,
    ``"record 2"``) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def _usable(mol, where: str, name: str):
    """``(mol with explicit hydrogens, None)`` or ``(None, Problem)``."""
    from rdkit import Chem

    if any(a.GetTotalNumHs(includeNeighbors=False) for a in mol.GetAtoms()):
        mol = Chem.AddHs(mol)
    if mol.GetNumAtoms() < 2:
        return None, Problem(where, f"{name!r} has {mol.GetNumAtoms()} atom: a conformer needs at least 2")
    return mol, None


def read_smiles(path: str | os.PathLike) -> tuple[list, list[Problem]]:
    """Molecules of a SMILES file (hydrogens added, ``_Name`` and ``input_line`` set) and the
    lines that could not be parsed."""
    from rdkit import Chem, rdBase

    mols, problems = [], []
    data = pathlib.Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}: line {line}: not UTF-8 text ({e.reason} at byte {e.start}); "
                         "a SMILES file is UTF-8 (ASCII) text") from None
    with io.StringIO(text, newline=None) as f:  # universal newlines, as open() in text mode
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            smiles, *rest = text.split(None, 1)  # a SMILES holds no whitespace; the name may
            name = rest[0].strip() if rest else smiles
            with rdBase.BlockLogs():  # the Problem says it; RDKit's own log would say it twice
                mol = Chem.MolFromSmiles(smiles)
            if mol is None:
                problems.append(Problem(f"line {number}", f"invalid SMILES {smiles!r}"))
                continue
            mol, problem = _usable(mol, f"line {number}", smiles)
            if problem is not None:
                problems.append(problem)
                continue
            mol.SetProp("_Name", name)
            mol.SetIntProp("input_line", number)
            mols.append(mol)
    return mols, problems


def read_sdf(path: str | os.PathLike) -> tuple[list, list[Problem]]:
    """Molecules of an SDF file (implicit hydrogens added, ``_Name`` kept or ``record<i>``,
    ``input_record`` set) and the records RDKit cannot read or sanitise."""
    from rdkit import Chem, rdBase

    mols, problems = [], []
    with rdBase.BlockLogs():
        supplier = Chem.SDMolSupplier(os.fspath(path), removeHs=False)
        records = list(supplier)
    for number, mol in enumerate(records, start=1):
        if mol is None:
            problems.append(Problem(f"record {number}", "RDKit cannot read or sanitise it"))
            continue
        name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
        mol, problem = _usable(mol, f"record {number}", name or f"record{number}")
        if problem is not None:
            problems.append(problem)
            continue
        mol.SetProp("_Name", name or f"record{number}")
        mol.SetIntProp("input_record", number)
        mols.append(mol)
    return mols, problems


def read_molecules(path: str | os.PathLike) -> tuple[list, list[Problem]]:
    """:func:`read_smiles` or :func:`read_sdf`, by the file's suffix.

    Raises:
        ValueError: for a suffix that is neither (the message lists the known ones).
        FileNotFoundError: when the file does not exist.
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in SMILES_SUFFIXES + SDF_SUFFIXES:
        raise ValueError(f"{path}: unknown molecule file type {suffix!r}; expected SMILES "
                         f"({', '.join(SMILES_SUFFIXES)}) or SDF ({', '.join(SDF_SUFFIXES)})")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return read_smiles(path) if suffix in SMILES_SUFFIXES else read_sdf(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A temporary path beside ``path`` (parent folders created), renamed to ``path`` when the
    block ends without error and removed when it raises (:func:`polydiff.core.atomic.atomic_path`)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        yield tmp


def write_records(writer, mols: Sequence, first_index: int = 0) -> int:
    """Write every conformer of every ``Mol`` with an open ``Chem.SDWriter``: one record each,
    ``_Name`` kept (``mol<i>`` when unset) and the conformer's index as the ``conformer``
    property; returns the number of records."""
    from rdkit import Chem

    count = 0
    for i, m in enumerate(mols, start=first_index):
        m = Chem.Mol(m)
        if not m.HasProp("_Name") or not m.GetProp("_Name"):
            m.SetProp("_Name", f"mol{i}")
        for k, conf in enumerate(m.GetConformers()):
            m.SetIntProp("conformer", k)
            writer.write(m, confId=conf.GetId())
            count += 1
    return count
