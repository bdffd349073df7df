"""A chemist's conformer generator: SMILES or RDKit Mols in, Mols with conformers (or SDF) out.

:class:`ConformerGenerator` bundles a trained denoiser, its process and the sampler settings,
and checks every request against what the network was trained on: a molecule larger or
smaller than any training molecule is generated with a warning (the network extrapolates),
a Mol without explicit hydrogens gets them with a warning, and a molecule whose stereocentres
or stereo double bonds are left unspecified is warned about (its conformers mix stereoisomers).
Specified stereo is enforced by reflection and oversample-and-filter
(:func:`~polydiff.molecules.generate.generate_conformers`, ``stereo_rounds``)::

    gen = ConformerGenerator.from_run("runs/geodiff-qm9")
    mols = gen(["C[C@H](N)C(=O)O", "OC/C=C/C"], n=10, seed=0)
    gen.write_sdf("C/C=C/CO", "out.sdf", n=5)
"""
from __future__ import annotations

import pathlib
import warnings
from dataclasses import dataclass

import torch

from .generate import GenerationStats, generate_conformers, load_run

__all__ = ["ConformerGenerator", "write_sdf"]


@dataclass
class ConformerGenerator:
    """A trained conformer denoiser with its sampler settings.

    Attributes:
        net / process: the denoiser and the process it was trained with.
        heavy_atom_range: ``(min, max)`` heavy atoms of the training molecules (``None``: unknown,
            no size check).
        steps / solver / restarts / restart_noise / restart_steps / relax: passed to
            :func:`~polydiff.molecules.generate.generate_conformers`.
        stereo_rounds: oversample-and-filter rounds for conformers with the wrong stereoisomer.

    The default sampler, DPM-Solver++(2M) SDE at 50 steps then 5 Restart rounds of 10 steps
    (Xu et al. 2023; 100 NFE), was chosen on the 40 *validation* molecules of the full-mode QM9
    split with the full-mode network (``scripts/mol_validation.py``, 8 conformers, delta 0.5 A):
    COV-R 82.5 / MAT-R 0.276 / COV-P 47.5, against 70.0 / 0.369 / 31.6 for DPM-Solver++(2M) SDE
    at 100 steps and 55.0 / 0.450 / 18.4 for the deterministic DPM-Solver++(2M) at 100 steps
    (the former default).
    """

    net: torch.nn.Module
    process: object
    heavy_atom_range: tuple[int, int] | None = None
    steps: int = 50
    solver: str = "dpmpp_2m_sde"
    stereo_rounds: int = 4
    restarts: int = 5
    restart_noise: float = 0.2
    restart_steps: int = 10
    relax: str | None = None

    def __post_init__(self) -> None:
        from polydiff.core.validate import check_int

        r = self.heavy_atom_range
        if r is not None:
            if not isinstance(r, (tuple, list)) or len(r) != 2:
                raise TypeError(f"heavy_atom_range must be a (min, max) pair of ints or None, got {r!r}")
            lo = check_int(r[0], "heavy_atom_range[0]", low=0)
            hi = check_int(r[1], "heavy_atom_range[1]", low=lo)
            self.heavy_atom_range = (lo, hi)

    @classmethod
    def from_run(cls, ckpt_dir: str | pathlib.Path, *, device: str = "cpu", **settings) -> ConformerGenerator:
        """Load a :mod:`polydiff.molecules.train` run; its recorded training size range is used."""
        net, process, extra = load_run(ckpt_dir, device=device)
        sizes = extra.get("train_sizes", {}).get("heavy_atoms")
        if sizes is None:
            warnings.warn(f"{ckpt_dir}: the run recorded no training size range; molecules of any size "
                          "are accepted without a check", UserWarning, stacklevel=2)
        return cls(net, process, tuple(sizes) if sizes else None, **settings)

    def __call__(self, molecules, n: int, *, seed: int = 0, stats: GenerationStats | None = None,
                 first_index: int = 0):
        """``n`` conformers of each molecule (SMILES or ``Mol``, or a list of them).

        ``first_index`` offsets the molecules' indices in the seeding and the warnings
        (:func:`~polydiff.molecules.generate.generate_conformers`): a list generated in chunks
        equals the list generated at once (up to float rounding).

        Returns:
            One ``Mol`` with ``n`` conformers, or a list of them for a list input.

        Raises:
            ValueError: for an unparsable SMILES or a molecule with fewer than two atoms.
            TypeError: for anything that is neither a SMILES nor a ``Mol``.
        """
        from polydiff.core.validate import check_int

        from .featurize import parse_molecule

        single = not isinstance(molecules, (list, tuple))
        items = [molecules] if single else list(molecules)
        if not items:
            raise ValueError("ConformerGenerator needs at least one molecule")
        first_index = check_int(first_index, "first_index", low=0)
        mols = [parse_molecule(m) for m in items]
        for i, m in enumerate(mols, start=first_index):
            self._check(i, m)
        out = generate_conformers(mols, n, net=self.net, process=self.process, steps=self.steps,
                                  solver=self.solver, seed=seed, stats=stats, relax=self.relax,
                                  stereo_rounds=self.stereo_rounds, restarts=self.restarts,
                                  restart_noise=self.restart_noise, restart_steps=self.restart_steps,
                                  first_index=first_index)
        return out[0] if single else out

    def write_sdf(self, molecules, path: str | pathlib.Path, n: int, *, seed: int = 0) -> int:
        """Generate ``n`` conformers of each molecule and write them all to ``path``; returns the
        number of SDF records."""
        from polydiff.core.validate import describe

        if not isinstance(path, (str, pathlib.PurePath)):  # before the (long) generation
            raise TypeError(f"path must be a str or pathlib.Path, got {describe(path)}")
        _check_sdf_path(path)
        out = self(molecules, n, seed=seed)
        return write_sdf(out if isinstance(out, list) else [out], path)

    def _check(self, i: int, mol) -> None:
        from rdkit import Chem

        name = Chem.MolToSmiles(Chem.RemoveHs(mol))
        heavy = mol.GetNumHeavyAtoms()
        if self.heavy_atom_range is not None:
            lo, hi = self.heavy_atom_range
            if not lo <= heavy <= hi:
                warnings.warn(f"molecule {i} ({name}) has {heavy} heavy atoms, outside the {lo}-{hi} of the "
                              "training molecules: the network extrapolates, check its conformers",
                              UserWarning, stacklevel=3)
        from .featurize import ELEMENTS

        fragments = len(Chem.GetMolFrags(mol))
        if fragments > 1:
            warnings.warn(f"molecule {i} ({name}) has {fragments} disconnected fragments: no bond fixes "
                          "their relative placement, which the network guesses from radius edges only",
                          UserWarning, stacklevel=3)
        other = sorted({a.GetSymbol() for a in mol.GetAtoms()} - set(ELEMENTS))
        if other:
            warnings.warn(f"molecule {i} ({name}) holds elements outside the featurizer's vocabulary "
                          f"({', '.join(other)}): they share its 'other' feature, which the network may "
                          "never have seen; check its conformers", UserWarning, stacklevel=3)
        unspecified = [f"{'atom' if 'Atom' in str(info.type) else 'bond'} {info.centeredOn}"
                       for info in Chem.FindPotentialStereo(mol)
                       if info.specified == Chem.StereoSpecified.Unspecified]
        if unspecified:
            warnings.warn(f"molecule {i} ({name}) leaves stereo unspecified ({', '.join(unspecified)}): its "
                          "conformers mix stereoisomers (write @/@@ and / \\ in the SMILES to choose one)",
                          UserWarning, stacklevel=3)


def write_sdf(mols, path: str | pathlib.Path) -> int:
    """Write every conformer of every ``Mol`` to one SDF file (``_Name`` and ``conformer`` set per
    record; :func:`~polydiff.molecules.files.write_records`); returns the number of records.
    The file appears complete or not at all (:func:`~polydiff.molecules.files.atomic_output`)."""
    from polydiff.core.validate import describe
    from rdkit import Chem

    from .files import atomic_output, write_records
    from .positions import check_conformers

    if not isinstance(mols, (list, tuple)) or not all(isinstance(m, Chem.Mol) for m in mols):
        raise TypeError("write_sdf needs a list of RDKit Mols")
    if not isinstance(path, (str, pathlib.PurePath)):
        raise TypeError(f"path must be a str or pathlib.Path, got {describe(path)}")
    _check_sdf_path(path)
    for i, m in enumerate(mols):
        check_conformers(m, f"mols[{i}]")
        if m.GetNumConformers() == 0:
            raise ValueError(f"mols[{i}] has no conformer; write_sdf writes one record per conformer "
                             "(generate them first)")
    with atomic_output(path) as tmp, Chem.SDWriter(str(tmp)) as w:
        count = write_records(w, mols)
    return count


def _check_sdf_path(path) -> None:
    """``path`` names an SDF file (the writer writes SDF whatever the suffix)."""
    from .files import SDF_SUFFIXES

    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in SDF_SUFFIXES:
        raise ValueError(f"path must end in {' or '.join(SDF_SUFFIXES)} (an SDF file is written), got {str(path)!r}")
    if pathlib.Path(path).is_dir():
        raise ValueError(f"path {str(path)!r} is a folder; expected an SDF file path")
