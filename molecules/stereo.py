"""Stereochemistry of the input and of generated conformers: perception, matching, repair.

Two kinds of stereo element are handled, each with its canonical CIP label:

- tetrahedral centres, ``R``/``S`` (``r``/``s`` pseudo-asymmetric), and
- double bonds, ``E``/``Z``.

The *target* is what the input ``Mol`` specifies (chiral tags and bond stereo, from a SMILES
with ``@``/``/`` or from a 3D structure); a conformer's *perceived* stereo is read from its
coordinates (``AssignStereochemistryFrom3D``). A reflection ``x -> -x`` swaps R and S,
keeps r/s and keeps E/Z, so a conformer whose R/S centres are *all* inverted and whose E/Z
bonds all match is the mirror image of a valid one and is repaired by reflecting it (an
equally likely sample of a reflection-symmetric model: the distance-based GeoDiff network
and the O(3)-equivariant e3nn network both are). Wrong diastereomers (some centres
inverted) and wrong E/Z isomers cannot be repaired by a reflection; :func:`classify_conformers`
marks them ``"wrong"`` and :func:`polydiff.molecules.generate.generate_conformers`
replaces them by new samples (``stereo_rounds``).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Stereo",
    "cis_trans_pairs",
    "classify_conformers",
    "conformer_centres",
    "conformer_stereo",
    "match_enantiomer",
    "specified_bonds",
    "specified_centres",
    "specified_stereo",
    "stereo_from_geometry",
    "stereo_report",
]

_MIRROR = {"R": "S", "S": "R"}  # "r"/"s" (pseudo-asymmetric) and E/Z are unchanged by a reflection


@dataclass(frozen=True)
class Stereo:
    """CIP labels of a molecule's stereo elements.

    Attributes:
        centres: ``{atom index: "R" | "S" | "r" | "s"}``.
        bonds: ``{(begin atom, end atom): "E" | "Z"}`` of double bonds (``begin < end``).
    """

    centres: dict[int, str]
    bonds: dict[tuple[int, int], str]

    def mirrored(self) -> Stereo:
        """The labels of the mirror image (R <-> S; r/s and E/Z unchanged)."""
        return Stereo({i: _MIRROR.get(v, v) for i, v in self.centres.items()}, dict(self.bonds))

    def agrees_with(self, other: Stereo) -> bool:
        """Whether ``other`` has every element of ``self`` with the same label."""
        return (all(other.centres.get(i) == v for i, v in self.centres.items())
                and all(other.bonds.get(b) == v for b, v in self.bonds.items()))


def _assigned_labels(m) -> dict[int, str]:
    """CIP labels of the assigned centres. A centre RDKit perceives as stereo but cannot give a
    CIP label (it reports the chiral tag, e.g. ``Tet_CW``, in some bridged rings) is left out."""
    from rdkit import Chem

    found = Chem.FindMolChiralCenters(m, includeUnassigned=False, useLegacyImplementation=False)
    return {i: lab for i, lab in found if lab in ("R", "S", "r", "s")}


def _cis_reference(bond) -> tuple[int, int, bool] | None:
    """``(a, d, cis)``: the bond's stereo atoms and whether they are cis, or ``None``."""
    from rdkit import Chem

    st = bond.GetStereo()
    if st not in (Chem.BondStereo.STEREOE, Chem.BondStereo.STEREOZ,
                  Chem.BondStereo.STEREOCIS, Chem.BondStereo.STEREOTRANS):
        return None
    a, d = bond.GetStereoAtoms()
    return a, d, st in (Chem.BondStereo.STEREOZ, Chem.BondStereo.STEREOCIS)


def _bond_labels(m) -> dict[tuple[int, int], str]:
    """E/Z of the stereo double bonds of ``m`` after legacy ``AssignStereochemistry``.

    E/Z compares the CIP-highest neighbour on each side (``_CIPRank``); the bond's stereo
    atoms may be other neighbours, so the cis/trans relation is carried over to them.
    """
    out = {}
    for bond in m.GetBonds():
        ref = _cis_reference(bond)
        if ref is None:
            continue
        a, d, cis = ref
        b, c = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if a not in {n.GetIdx() for n in m.GetAtomWithIdx(b).GetNeighbors()}:
            b, c = c, b
        top = [max((n for n in m.GetAtomWithIdx(x).GetNeighbors() if n.GetIdx() != y),
                   key=lambda n: int(n.GetProp("_CIPRank")) if n.HasProp("_CIPRank") else -1).GetIdx()
               for x, y in ((b, c), (c, b))]
        cis ^= (top[0] != a) ^ (top[1] != d)
        out[tuple(sorted((b, c)))] = "Z" if cis else "E"
    return out


def specified_centres(mol) -> dict[int, str]:
    """CIP labels (``R``/``S``; ``r``/``s`` pseudo-asymmetric) of the centres the chiral tags specify."""
    from rdkit import Chem

    m = Chem.Mol(mol)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return _assigned_labels(m)


def specified_bonds(mol) -> dict[tuple[int, int], str]:
    """E/Z labels of the double bonds whose stereo the input specifies."""
    from rdkit import Chem

    m = Chem.Mol(mol)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return _bond_labels(m)


def specified_stereo(mol) -> Stereo:
    """The input's specified stereo (:func:`specified_centres` and :func:`specified_bonds`)."""
    from rdkit import Chem

    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"specified_stereo needs an RDKit Mol, got {type(mol).__name__}")
    m = Chem.Mol(mol)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return Stereo(_assigned_labels(m), _bond_labels(m))


def stereo_from_geometry(mol, conf_id: int = 0):
    """A copy of ``mol`` holding only conformer ``conf_id``, its chiral tags and double-bond
    stereo erased and re-read from that conformer's 3D geometry (as for a DFT structure)."""
    from rdkit import Chem

    from .positions import check_conformers, check_mol

    if conf_id not in {c.GetId() for c in check_mol(mol, "mol").GetConformers()}:
        raise ValueError(f"molecule has no conformer with id {conf_id}")
    check_conformers(mol, "mol", {conf_id})
    m = Chem.Mol(mol, False, conf_id)  # a copy holding only this conformer
    for a in m.GetAtoms():
        a.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for b in m.GetBonds():
        b.SetStereo(Chem.BondStereo.STEREONONE)
    Chem.AssignStereochemistryFrom3D(m)
    return m


def conformer_centres(mol, conf_id: int) -> dict[int, str]:
    """CIP labels of the stereocentres as conformer ``conf_id``'s 3D geometry has them."""
    return _assigned_labels(stereo_from_geometry(mol, conf_id))


def conformer_stereo(mol, conf_id: int) -> Stereo:
    """R/S centres and E/Z double bonds as conformer ``conf_id``'s 3D geometry has them."""
    m = stereo_from_geometry(mol, conf_id)
    return Stereo(_assigned_labels(m), _bond_labels(m))


def cis_trans_pairs(mol, bonds: dict[tuple[int, int], str] | None = None) -> dict[tuple[int, int], str]:
    """``{(x, y): "cis" | "trans"}`` for every substituent pair across a stereo double bond.

    For ``x-b=c-y`` the 1,4 pair ``(x, y)`` (both orders) is cis or trans as the bond's E/Z
    label and the CIP ranks of ``x`` and ``y`` on their side dictate; this is the geometric
    fact a distance-based network can use (the 1,4 distance differs by ~1 Å).

    Args:
        mol: the molecule (its stereo perceived with legacy ``AssignStereochemistry``).
        bonds: E/Z labels to use (default: :func:`specified_bonds`).
    """
    from rdkit import Chem

    m = Chem.Mol(mol)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    bonds = _bond_labels(m) if bonds is None else bonds
    out: dict[tuple[int, int], str] = {}
    for (b, c), label in bonds.items():
        if label not in ("E", "Z"):
            raise ValueError(f"bond ({b}, {c}): E/Z label must be 'E' or 'Z', got {label!r}")
        sides = []
        for x, y in ((b, c), (c, b)):
            nbrs = [n for n in m.GetAtomWithIdx(x).GetNeighbors() if n.GetIdx() != y]
            rank = lambda n: int(n.GetProp("_CIPRank")) if n.HasProp("_CIPRank") else -1
            top = max(nbrs, key=rank).GetIdx() if nbrs else None
            sides.append([(n.GetIdx(), n.GetIdx() == top) for n in nbrs])
        for x, x_top in sides[0]:
            for y, y_top in sides[1]:
                cis = (label == "Z") ^ (not x_top) ^ (not y_top)
                out[(x, y)] = out[(y, x)] = "cis" if cis else "trans"
    return out


def classify_conformers(mol, target: Stereo | None = None, *, repair: bool = True) -> list[str]:
    """Compare every conformer's perceived stereo with ``target``; reflect mirror images.

    Args:
        mol: an RDKit ``Mol`` with conformers (mirror images reflected in place if ``repair``).
        target: the labels to match (default: :func:`specified_stereo` of ``mol``).
        repair: reflect (``x -> -x``) conformers whose mirror image matches ``target``.

    Returns:
        One status per conformer, in conformer order: ``"ok"`` (matches), ``"mirrored"``
        (its mirror image matches; reflected if ``repair``) or ``"wrong"`` (a wrong
        diastereomer or E/Z isomer: no reflection fixes it).
    """
    from rdkit import Chem

    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"classify_conformers needs an RDKit Mol, got {type(mol).__name__}")
    target = specified_stereo(mol) if target is None else target
    if not isinstance(target, Stereo):
        raise TypeError(f"target must be a Stereo, got {type(target).__name__}")
    _check_labels(target)
    if not target.centres and not target.bonds:
        return ["ok"] * mol.GetNumConformers()
    mirror = target.mirrored()
    out = []
    for conf in mol.GetConformers():
        have = conformer_stereo(mol, conf.GetId())
        if target.agrees_with(have):
            out.append("ok")
        elif mirror != target and mirror.agrees_with(have):
            if repair:
                _reflect(conf)
            out.append("mirrored")
        else:
            out.append("wrong")
    return out


def _check_labels(target: Stereo) -> None:
    bad = {i: lab for i, lab in target.centres.items() if lab not in ("R", "S", "r", "s")}
    if bad:
        raise ValueError(f"target CIP labels must be R, S, r or s; got {bad}")
    bad_b = {b: lab for b, lab in target.bonds.items() if lab not in ("E", "Z")}
    if bad_b:
        raise ValueError(f"target bond labels must be E or Z; got {bad_b}")


def _reflect(conf) -> None:
    for i, p in enumerate(conf.GetPositions()):
        conf.SetAtomPosition(i, (-float(p[0]), float(p[1]), float(p[2])))


def match_enantiomer(mol, target: dict[int, str] | None = None) -> int:
    """Reflect, in place, every conformer of ``mol`` whose specified centres are all inverted.

    Only tetrahedral centres are compared (E/Z is unchanged by a reflection); see
    :func:`classify_conformers` for the check that includes double bonds.

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
    mirrored = {i: _MIRROR.get(lab, lab) for i, lab in target.items()}
    if mirrored == target:  # achiral (only pseudo-asymmetric centres): nothing to choose
        return 0
    reflected = 0
    for conf in mol.GetConformers():
        have = conformer_centres(mol, conf.GetId())
        if all(have.get(i) == lab for i, lab in mirrored.items()):
            _reflect(conf)
            reflected += 1
    return reflected


def stereo_report(gens, refs) -> dict[str, float]:
    """How often generated conformers carry the reference molecules' specified stereo.

    Every conformer of ``gens[i]`` is compared, without repair, with the stereo ``refs[i]``
    specifies (:func:`classify_conformers`); molecules without specified stereo are skipped.

    Returns:
        ``molecules`` (with specified stereo), ``conformers`` (theirs), and the fractions of
        those conformers that are ``ok``, ``mirrored`` (right after a reflection) and
        ``wrong`` (wrong diastereomer or E/Z isomer).
    """
    from rdkit import Chem

    if len(gens) != len(refs):
        raise ValueError(f"gens and refs must pair up, got {len(gens)} and {len(refs)} molecules")
    counts = {"ok": 0, "mirrored": 0, "wrong": 0}
    molecules = 0
    for i, (g, r) in enumerate(zip(gens, refs)):
        if not isinstance(g, Chem.Mol) or not isinstance(r, Chem.Mol):
            raise TypeError(f"molecule {i}: expected RDKit Mols, got {type(g).__name__} and {type(r).__name__}")
        if g.GetNumAtoms() != r.GetNumAtoms():
            raise ValueError(f"molecule {i}: generated has {g.GetNumAtoms()} atoms, reference {r.GetNumAtoms()}")
        target = specified_stereo(r)
        if not target.centres and not target.bonds:
            continue
        molecules += 1
        for s in classify_conformers(g, target, repair=False):
            counts[s] += 1
    total = sum(counts.values())
    return {"molecules": molecules, "conformers": total,
            **{k: (v / total if total else float("nan")) for k, v in counts.items()}}
