"""Match generated conformers to the input's tetrahedral stereochemistry by reflection.

The denoisers see only distances (GeoDiff) or are E(3)-equivariant (e3nn), so their
conformer distribution is symmetric under reflection: a conformer and its mirror image are
equally likely and the model cannot tell the enantiomers apart (Xu et al. 2022 inherit this;
GeoMol and torsional diffusion fix chirality explicitly). Where the input specifies its
stereocentres (chiral tags, from a SMILES with ``@`` or from the DFT geometry), a conformer
whose centres are *all* inverted is the mirror image of a valid one: reflecting it
(``x -> -x``), an equally likely sample of the model, gives the requested enantiomer.
Conformers with only some centres inverted are diastereomers and are left as they are.
Pseudo-asymmetric centres (CIP ``r``/``s``) keep their label under reflection.
"""
from __future__ import annotations

__all__ = ["conformer_centres", "match_enantiomer", "specified_centres"]


def _assigned_labels(m) -> dict[int, str]:
    from rdkit import Chem

    return dict(Chem.FindMolChiralCenters(m, includeUnassigned=False, useLegacyImplementation=False))


def specified_centres(mol) -> dict[int, str]:
    """CIP labels (``R``/``S``; ``r``/``s`` pseudo-asymmetric) of the centres the chiral tags specify."""
    from rdkit import Chem

    m = Chem.Mol(mol)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return _assigned_labels(m)


def conformer_centres(mol, conf_id: int) -> dict[int, str]:
    """CIP labels of the stereocentres as conformer ``conf_id``'s 3D geometry has them."""
    from rdkit import Chem

    if conf_id not in {c.GetId() for c in mol.GetConformers()}:
        raise ValueError(f"molecule has no conformer with id {conf_id}")
    m = Chem.Mol(mol, False, conf_id)  # a copy holding only this conformer
    for a in m.GetAtoms():
        a.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    Chem.AssignStereochemistryFrom3D(m)
    return _assigned_labels(m)


def match_enantiomer(mol, target: dict[int, str] | None = None) -> int:
    """Reflect, in place, every conformer of ``mol`` whose specified centres are all inverted.

    Args:
        mol: an RDKit ``Mol`` with conformers (modified in place).
        target: the CIP labels to match (default: :func:`specified_centres` of ``mol``).

    Returns:
        The number of conformers reflected (0 when no centre is specified).
    """
    from rdkit import Chem

    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"match_enantiomer needs an RDKit Mol, got {type(mol).__name__}")
    target = specified_centres(mol) if target is None else target
    bad = {i: lab for i, lab in target.items() if lab not in ("R", "S", "r", "s")}
    if bad:
        raise ValueError(f"target CIP labels must be R, S, r or s; got {bad}")
    if not target:
        return 0
    flip = {"R": "S", "S": "R"}  # "r"/"s" (pseudo-asymmetric) are unchanged by a reflection
    mirrored = {i: flip.get(lab, lab) for i, lab in target.items()}
    if mirrored == target:  # achiral (only pseudo-asymmetric centres): nothing to choose
        return 0
    reflected = 0
    for conf in mol.GetConformers():
        have = conformer_centres(mol, conf.GetId())
        if all(have.get(i) == lab for i, lab in mirrored.items()):
            for i, p in enumerate(conf.GetPositions()):
                conf.SetAtomPosition(i, (-float(p[0]), float(p[1]), float(p[2])))
            reflected += 1
    return reflected
