"""Coordinates back into RDKit: a copy of a molecule whose conformers are given arrays."""
from __future__ import annotations

__all__ = ["with_conformers"]


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
