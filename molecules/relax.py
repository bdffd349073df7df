"""Force-field refinement of conformers: MMFF94 (Halgren 1996) local minimisation.

The usual last step of a conformer pipeline (RDKit's ETKDG + MMFF; GeoDiff Sec. 5.2 "+FF"):
every conformer of a molecule is relaxed to its nearest MMFF94 minimum, so a generator's
output is judged on the basin it lands in rather than on bond-length noise.
:func:`~polydiff.molecules.relax_sampled.relax_conformers` relaxes a diffusion sampler's
output and keeps its stereo.
"""
from __future__ import annotations

__all__ = ["mmff_relax"]


def mmff_relax(mol, *, max_iters: int = 2000, threads: int = 1):
    """A copy of ``mol`` with every conformer relaxed by ``MMFFOptimizeMoleculeConfs``.

    Raises ``ValueError`` when the molecule has no conformer, MMFF94 has no parameters for it,
    or ``max_iters``/``threads`` are not positive; the input is never modified.
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from .positions import check_conformers

    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"mmff_relax needs an RDKit Mol, got {type(mol).__name__}")
    for name, v in (("max_iters", max_iters), ("threads", threads)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if mol.GetNumConformers() == 0:
        raise ValueError("mmff_relax: the molecule has no conformer to relax")
    check_conformers(mol, "mol")  # MMFF would minimise NaN coordinates into NaN without a word
    work = Chem.Mol(mol)  # MMFF setup re-perceives aromaticity: keep the input's flags on `out`
    try:
        Chem.SanitizeMol(work)
    except Exception as e:  # RDKit raises several sanitisation exception types
        raise ValueError(f"mmff_relax: RDKit cannot sanitise {Chem.MolToSmiles(mol)!r}: {e}") from e
    if not AllChem.MMFFHasAllMoleculeParams(work):
        raise ValueError(f"MMFF94 has no parameters for {Chem.MolToSmiles(mol)!r}")
    AllChem.MMFFOptimizeMoleculeConfs(work, numThreads=threads, maxIters=max_iters)
    out = Chem.Mol(mol)
    for c_out, c_work in zip(out.GetConformers(), work.GetConformers()):
        c_out.SetPositions(c_work.GetPositions())
    return out
