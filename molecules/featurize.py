"""RDKit ``Mol`` → torch_geometric ``Data``/``Batch`` (the 2D graph GeoDiff conditions on).

Node features: one-hot element (:data:`ELEMENTS` + "other"), formal charge (-1, 0, +1),
aromaticity, hybridisation (S, SP, SP2, SP3, SP3D, SP3D2, other) and ring membership.
Edges: the chemical bonds in both directions, typed single/double/triple/aromatic
(:data:`BOND_TYPES`, 1..4; 0 is reserved for radius edges). The extended graph of
:mod:`.graph` (2- and 3-hop edges) is stored alongside as ``ext_edge_index``/``ext_edge_type``.

Stereo features (:func:`stereo_features`), from the stereo the input specifies
(:func:`polydiff.molecules.stereo.specified_stereo`): ``stereo_atom`` (:data:`ATOM_STEREO`:
none, R, S, r, s) and ``ext_edge_stereo`` on the extended graph (:data:`EDGE_STEREO`: none,
E or Z on a stereo double bond, cis or trans on the 1,4 pairs across it).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "ATOM_STEREO",
    "BOND_TYPES",
    "EDGE_STEREO",
    "ELEMENTS",
    "NUM_ATOM_FEATURES",
    "NUM_EDGE_TYPES",
    "atom_features",
    "featurizer_config",
    "mol_to_data",
    "mols_to_batch",
    "parse_molecule",
    "stereo_features",
]

ELEMENTS = ("H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I")
_CHARGES = (-1, 0, 1)
_HYBRID = ("S", "SP", "SP2", "SP3", "SP3D", "SP3D2")
BOND_TYPES = {"SINGLE": 1, "DOUBLE": 2, "TRIPLE": 3, "AROMATIC": 4}
NUM_ATOM_FEATURES = (len(ELEMENTS) + 1) + (len(_CHARGES) + 1) + 1 + (len(_HYBRID) + 1) + 1
# 0: radius-only edge, 1..4: bonds, 5: 2-hop, 6: 3-hop (GeoDiff's typed extended graph).
NUM_EDGE_TYPES = 1 + len(BOND_TYPES) + 2
# index 0: no stereo element; a reflection swaps R <-> S and keeps everything else.
ATOM_STEREO = ("none", "R", "S", "r", "s")
EDGE_STEREO = ("none", "E", "Z", "cis", "trans")


def featurizer_config() -> dict:
    """The featuriser as JSON: every vocabulary a trained network's inputs are indexed by.

    Saved with a pipeline (:class:`polydiff.molecules.pipelines.ConformerPipeline`) and
    compared on load, so a network is never fed features laid out differently from those it
    was trained on.
    """
    return {"elements": list(ELEMENTS), "charges": list(_CHARGES), "hybridisations": list(_HYBRID),
            "bond_types": dict(BOND_TYPES), "edge_types": ["radius", *BOND_TYPES, "2-hop", "3-hop"],
            "atom_stereo": list(ATOM_STEREO), "edge_stereo": list(EDGE_STEREO),
            "num_atom_features": NUM_ATOM_FEATURES, "num_edge_types": NUM_EDGE_TYPES,
            "explicit_hydrogens": True}


def parse_molecule(mol_or_smiles, *, add_hs: bool = True):
    """Return a sanitised RDKit ``Mol`` from a ``Mol`` or a SMILES string.

    A SMILES gets explicit hydrogens (``add_hs``); a ``Mol`` is used with its hydrogens as
    given (a copy is sanitised).

    Raises:
        ValueError: for an invalid SMILES or a molecule RDKit cannot sanitise; the message
            names the input.
        TypeError: for anything that is neither ``str`` nor ``Mol``.
    """
    from rdkit import Chem

    if not isinstance(add_hs, bool):  # 'no' is truthy
        raise TypeError(f"add_hs must be a bool, got {add_hs!r}")
    if isinstance(mol_or_smiles, str):
        if not mol_or_smiles.strip():
            raise ValueError("empty SMILES string")
        mol = Chem.MolFromSmiles(mol_or_smiles)
        if mol is None:
            raise ValueError(f"invalid SMILES (RDKit cannot parse or sanitise it): {mol_or_smiles!r}")
        return Chem.AddHs(mol) if add_hs else mol
    if isinstance(mol_or_smiles, Chem.Mol):
        mol = Chem.Mol(mol_or_smiles)
        if mol.GetNumAtoms() == 0:
            raise ValueError("molecule has no atoms")
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit raises several unrelated exception types
            name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
            if not name:
                try:
                    name = Chem.MolToSmiles(mol, canonical=False)
                except Exception:  # noqa: BLE001 - an unsanitised molecule may not be writable
                    name = f"<Mol with {mol.GetNumAtoms()} atoms>"
            raise ValueError(f"molecule {name!r} cannot be sanitised by RDKit: {exc}") from exc
        return mol
    raise TypeError(f"expected a SMILES string or rdkit.Chem.Mol, got {type(mol_or_smiles).__name__}")


def _one_hot(value, choices: Sequence) -> list[float]:
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def atom_features(mol) -> Tensor:
    """Float features ``[N, NUM_ATOM_FEATURES]`` of every atom (order as in ``mol``)."""
    rows = []
    for atom in mol.GetAtoms():
        rows.append(
            _one_hot(atom.GetSymbol(), ELEMENTS)
            + _one_hot(atom.GetFormalCharge(), _CHARGES)
            + [float(atom.GetIsAromatic())]
            + _one_hot(str(atom.GetHybridization()), _HYBRID)
            + [float(atom.IsInRing())]
        )
    return torch.tensor(rows, dtype=torch.float32)


def stereo_features(mol, ext_edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """``(stereo_atom [N], ext_edge_stereo [E'])``: indices into :data:`ATOM_STEREO` and
    :data:`EDGE_STEREO` of the stereo ``mol`` specifies (chiral tags, bond stereo).

    A double bond's own edges carry its CIP label (E/Z); the 1,4 substituent pairs across it
    (:func:`~polydiff.molecules.stereo.cis_trans_pairs`, 3-hop edges of the extended graph)
    carry cis/trans, the relation that fixes their distance.
    """
    from .stereo import cis_trans_pairs, specified_stereo

    target = specified_stereo(mol)
    atom = torch.zeros(mol.GetNumAtoms(), dtype=torch.long)
    for i, lab in target.centres.items():
        atom[i] = ATOM_STEREO.index(lab)
    lookup = {pair: EDGE_STEREO.index(lab) for pair, lab in target.bonds.items()}
    lookup.update({pair: EDGE_STEREO.index(lab) for pair, lab in cis_trans_pairs(mol, target.bonds).items()})
    edge = torch.tensor([lookup.get((int(a), int(b)), lookup.get((int(b), int(a)), 0)) if lookup else 0
                         for a, b in ext_edge_index.t().tolist()], dtype=torch.long)
    return atom, edge


def mol_to_data(mol_or_smiles, *, conf_id: int | None = -1, add_hs: bool = True):
    """Featurise one molecule into a ``torch_geometric.data.Data``.

    Fields: ``x`` ``[N, F]`` atom features, ``atom_type`` ``[N]`` (index into
    :data:`ELEMENTS`, ``len(ELEMENTS)`` for others), ``edge_index`` ``[2, E]`` bonds (both
    directions), ``edge_type`` ``[E]`` (1..4), ``ext_edge_index``/``ext_edge_type`` (bonds,
    2- and 3-hop edges; see :func:`polydiff.molecules.graph.extend_graph`), ``pos`` ``[N, 3]``
    (float32 Å, only if the molecule has a conformer and ``conf_id`` is not None),
    ``heavy`` ``[N]`` bool mask of non-H atoms, ``stereo_atom`` ``[N]`` and
    ``ext_edge_stereo`` ``[E']`` (:func:`stereo_features`).
    """
    from torch_geometric.data import Data

    from .graph import extend_graph
    from .positions import check_conformers

    mol = parse_molecule(mol_or_smiles, add_hs=add_hs)
    n = mol.GetNumAtoms()
    src, dst, typ = [], [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        t = BOND_TYPES.get(str(bond.GetBondType()))
        if t is None:
            raise ValueError(f"unsupported bond type {bond.GetBondType()} in "
                             f"{mol.GetProp('_Name') if mol.HasProp('_Name') else 'molecule'}")
        src += [i, j]
        dst += [j, i]
        typ += [t, t]
    edge_index = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)
    edge_type = torch.tensor(typ, dtype=torch.long)
    ext_index, ext_type = extend_graph(edge_index, edge_type, n, order=3)
    atom_type = torch.tensor(
        [ELEMENTS.index(a.GetSymbol()) if a.GetSymbol() in ELEMENTS else len(ELEMENTS) for a in mol.GetAtoms()],
        dtype=torch.long)
    data = Data(x=atom_features(mol), atom_type=atom_type, edge_index=edge_index, edge_type=edge_type,
                ext_edge_index=ext_index, ext_edge_type=ext_type, num_nodes=n,
                heavy=atom_type != ELEMENTS.index("H"))
    data.stereo_atom, data.ext_edge_stereo = stereo_features(mol, ext_index)
    if conf_id is not None and mol.GetNumConformers() > 0:
        ids = [c.GetId() for c in mol.GetConformers()]
        if isinstance(conf_id, bool) or not isinstance(conf_id, int) or (conf_id != -1 and conf_id not in ids):
            raise ValueError(f"conf_id must be -1 (the first conformer), None or one of the conformer ids {ids}, "
                             f"got {conf_id!r}")
        check_conformers(mol, "mol_or_smiles", {ids[0] if conf_id == -1 else conf_id})
        pos = mol.GetConformer(conf_id).GetPositions()
        data.pos = torch.tensor(pos, dtype=torch.float32)
    return data


def mols_to_batch(items: Sequence) -> Batch:  # noqa: F821 - torch_geometric type
    """Collate ``Data`` objects (or molecules/SMILES, featurised first) into a ``Batch``."""
    from torch_geometric.data import Batch, Data

    if len(items) == 0:
        raise ValueError("cannot batch an empty list of molecules")
    datas = [it if isinstance(it, Data) else mol_to_data(it) for it in items]
    return Batch.from_data_list(datas)
