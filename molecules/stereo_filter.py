"""Oversample and filter: conformers whose stereo disagrees with the input are reflected or redrawn.

The distance-based and O(3)-equivariant denoisers sample mirror images as often as the
molecule, and an imperfect network also samples wrong diastereomers and E/Z isomers. After a
solve, every conformer's perceived stereo is compared with what the input specifies
(:func:`polydiff.molecules.stereo.classify_conformers`): mirror images are reflected, and the
remaining wrong ones are replaced by fresh samples for a given number of rounds (each redrawn
conformer has its own seed, so results do not depend on batching). Used by
:func:`polydiff.molecules.generate.generate_conformers` (``match_stereo``, ``stereo_rounds``).
A force-field relaxation can flip the stereo of a strained sample, so relaxed conformers are
checked again (:func:`relax_matching_stereo`; ``relax="mmff"``).
"""
from __future__ import annotations

import torch

__all__ = ["filter_stereo", "relax_matching_stereo", "stereo_information"]


def filter_stereo(mols, out, n: int, rounds: int, stats, resample, *, finish=None, first_round: int = 1,
                  warn: bool = True) -> int:
    """Reflect mirror images in ``out``; replace wrong stereoisomers by ``resample`` for ``rounds``.

    Args:
        mols: the input molecules (their specified stereo is the target).
        out: per molecule, a ``Mol`` with ``n`` generated conformers (changed in place).
        n: conformers per molecule; round ``r`` draws conformer indices ``n * r + k``.
        rounds: resampling rounds (0: reflection only), numbered from ``first_round``.
        stats: a :class:`~polydiff.molecules.generate.GenerationStats` (``reflected`` and
            ``resampled`` are added to).
        resample: ``resample(counts, offsets) -> coords[m][k]`` draws ``counts[m]`` new
            conformers of molecule ``m`` with conformer indices from ``offsets[m]``.
        finish: applied to every redrawn ``Mol`` before its stereo is checked (e.g.
            :func:`~polydiff.molecules.relax.mmff_relax`), so what is checked is what is returned.
        first_round: the number of the first round (a second filter continues the seeds).
        warn: warn about conformers still wrong after the last round (when ``rounds > 0``).

    Returns:
        The number of conformers left with a wrong stereo (the caller counts them).
    """
    import warnings

    from rdkit import Chem

    from .positions import with_conformers
    from .stereo import classify_conformers, specified_stereo

    targets = [specified_stereo(m) for m in mols]
    status = [classify_conformers(o, tg) for o, tg in zip(out, targets)]
    stats.reflected += sum(s.count("mirrored") for s in status)
    for r in range(first_round, first_round + rounds):
        wrong = [[k for k, s in enumerate(st) if s == "wrong"] for st in status]
        if not any(wrong):
            break
        coords = resample([len(w) for w in wrong], [n * r] * len(mols))
        for mi, ks in enumerate(wrong):
            if not ks:
                continue
            stats.resampled += len(ks)
            fresh = with_conformers(mols[mi], coords[mi])
            fresh = finish(fresh) if finish is not None else fresh
            for k, s, conf in zip(ks, classify_conformers(fresh, targets[mi]), fresh.GetConformers()):
                if s == "wrong":
                    continue
                stats.reflected += s == "mirrored"
                dst = out[mi].GetConformer(out[mi].GetConformers()[k].GetId())
                for a, p in enumerate(conf.GetPositions()):
                    dst.SetAtomPosition(a, p.tolist())
                status[mi][k] = s
    left = [(mi, st.count("wrong")) for mi, st in enumerate(status) if "wrong" in st]
    if warn and rounds and left:
        names = ", ".join(f"{Chem.MolToSmiles(Chem.RemoveHs(mols[mi]))} ({c})" for mi, c in left[:5])
        warnings.warn(f"{sum(c for _, c in left)} conformers still have a stereo that disagrees with the input "
                      f"after {rounds} resampling rounds{' and MMFF' if finish is not None else ''}: {names}"
                      f"{' ...' if len(left) > 5 else ''}", UserWarning, stacklevel=3 + (finish is not None))
    return sum(c for _, c in left)


def relax_matching_stereo(mols, out, n: int, rounds: int | None, stats, resample) -> list:
    """MMFF94-relax every conformer of ``out``, then check its stereo again.

    A force field minimises to the nearest basin: a strained sample (a flattened centre, a
    twisted double bond) can come out as the other stereoisomer, so a filter that ran before
    the relaxation no longer holds. The relaxed conformers are classified against ``mols``'
    specified stereo: mirror images are reflected (MMFF94's energy is reflection-invariant),
    and wrong ones are redrawn for ``rounds`` rounds numbered after the first filter's
    (``rounds + 1 ... 2 * rounds``), each redraw relaxed before it is checked. Conformers still
    wrong are counted in ``stats.stereo_wrong`` and warned about; the time is in
    ``stats.stereo_seconds``.

    Args:
        mols: the input molecules (their specified stereo is the target).
        out: per molecule, a ``Mol`` with ``n`` conformers (not changed).
        n: conformers per molecule.
        rounds: resampling rounds; ``None``: relax only, no stereo check (``match_stereo=False``).
        stats: a :class:`~polydiff.molecules.generate.GenerationStats`.
        resample: as for :func:`filter_stereo` (the sampler that drew ``out``).

    Returns:
        New ``Mol`` objects with the relaxed conformers.
    """
    import time

    from .relax import mmff_relax

    relaxed = [mmff_relax(m) for m in out]
    if rounds is None:
        return relaxed
    tic = time.perf_counter()
    stats.stereo_wrong += filter_stereo(mols, relaxed, n, rounds, stats, resample, finish=mmff_relax,
                                        first_round=rounds + 1)
    stats.stereo_seconds += time.perf_counter() - tic
    return relaxed


def stereo_information(net: torch.nn.Module, match_stereo: bool = True) -> str:
    """The stereo information (a key of :data:`polydiff.molecules.baselines.STEREO_INFO`) that
    :func:`~polydiff.molecules.generate.generate_conformers` with this network and ``match_stereo`` receives from the input:
    ``"full"`` when the network reads the R/S and E/Z labels (``NetConfig.stereo``) or the
    sampler matches them (``match_stereo``: reflection, and filtering with ``stereo_rounds``),
    else ``"none"``. Give a baseline the same to compare fairly."""
    if not isinstance(match_stereo, bool):
        raise TypeError(f"match_stereo must be a bool, got {type(match_stereo).__name__} {match_stereo!r}")
    config = getattr(net, "config", None)
    return "full" if match_stereo or bool(getattr(config, "stereo", False)) else "none"
