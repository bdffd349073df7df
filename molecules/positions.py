"""Coordinates between RDKit and arrays: a copy of a molecule whose conformers are given
arrays, and the check that a caller's conformers hold finite coordinates."""
from __future__ import annotations

__all__ = ["check_conformers", "check_mol", "with_conformers"]


def check_mol(mol, name: str):
    """``mol`` if it is an RDKit ``Mol``; otherwise a ``TypeError`` naming ``name``."""
    from polydiff.core.validate import describe
    from rdkit import Chem

    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"{name} must be an rdkit.Chem.Mol, got {describe(mol)}")
    return mol


def check_conformers(mol, name: str, conf_ids=None):
    """``mol`` if every conformer (or those with ``conf_ids``) holds finite coordinates;
    otherwise a ``ValueError`` naming ``name``, the conformer and the first bad atom."""
    import numpy as np

    for conf in mol.GetConformers():
        if conf_ids is not None and conf.GetId() not in conf_ids:
            continue
        pos = np.asarray(conf.GetPositions())
        bad = ~np.isfinite(pos)
        if bad.any():
            atom = int(np.flatnonzero(bad.any(1))[0])
            kind = "NaN" if np.isnan(pos).any() else "inf"
            raise ValueError(f"{name}: conformer {conf.GetId()} has non-finite coordinates ({kind} first at "
                             f"atom {atom}); pass conformers with finite positions (Å)")
    return mol


def with_conformers(mol, coords):
    """A copy of ``mol`` with one 3D conformer per ``[n_atoms, 3]`` array in ``coords``
    (tensors or arrays, in Å), its existing conformers removed."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    for xyz in coords:
        if tuple(xyz.shape) != (out.GetNumAtoms(), 3):
            raise ValueError(f"coords: each conformer must be [{out.GetNumAtoms()}, 3], got {tuple(xyz.shape)}")
        conf = Chem.Conformer(out.GetNumAtoms())
        for k, (x, y, z) in enumerate(xyz.tolist()):
            conf.SetAtomPosition(k, Point3D(x, y, z))
        conf.Set3D(True)
        out.AddConformer(conf, assignId=True)
    return out
