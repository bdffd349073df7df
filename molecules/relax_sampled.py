"""MMFF94 relaxation of a diffusion sampler's conformers that keeps their stereo: MMFF can
invert a strained centre, so every relaxed conformer is checked again against the molecule and
reflected or redrawn (:func:`relax_conformers`)."""
from __future__ import annotations

__all__ = ["relax_conformers"]


def relax_conformers(
    conformers,
    n: int,
    *,
    net,
    process,
    steps: int = 100,
    solver: str = "dpmpp_2m",
    seed: int = 0,
    stereo_rounds: int = 0,
    stats=None,
    first_index: int = 0,
    **sampling,
):
    """``relax="mmff"`` applied to the output of a :func:`~polydiff.molecules.generate.generate_conformers` call.

    ``generate_conformers(mols, n, relax="mmff", **kw)`` equals
    ``relax_conformers(generate_conformers(mols, n, **kw), n, **kw)`` (``match_stereo=True``):
    every conformer is relaxed by MMFF94, its stereo checked again against the molecule's
    (MMFF can invert a strained centre), mirror images reflected and wrong ones redrawn by the
    same sampler for ``stereo_rounds`` rounds (conformer indices after those of the
    generating call's rounds), each redraw relaxed and checked in turn
    (:func:`~polydiff.molecules.stereo_filter.relax_matching_stereo`). Lets a benchmark score
    the raw and the relaxed conformers of one sampling run.

    Args:
        conformers: a ``Mol`` with ``n`` generated conformers, or a list of them, as
            ``generate_conformers`` returned it (its stereo tags are the target).
        n, net, process, steps, solver, seed, stereo_rounds, first_index, **sampling: the
            arguments of the generating call (``clip``, ``max_batch_atoms``, ``restarts``,
            ``restart_noise``, ``restart_steps``, solver options).
        stats: the relaxation's own cost (``seconds``, ``conformers``; redraws in
            ``resampled`` and ``conformer_nfe``; ``stereo_wrong``: returned with a wrong stereo).

    Returns:
        New ``Mol`` (or list) with the relaxed conformers, in the input's order.
    """
    import time

    from polydiff.core.validate import check_int

    from .generate import GenerationStats, _sampler
    from .positions import check_mol
    from .stereo_filter import relax_matching_stereo

    single = not isinstance(conformers, (list, tuple))
    mols = [conformers] if single else list(conformers)
    if not mols:
        raise ValueError("relax_conformers needs at least one molecule")
    for i, m in enumerate(mols):
        check_mol(m, "conformers" if single else f"conformers[{i}]")
        if m.GetNumConformers() != n:
            raise ValueError(f"conformers{'' if single else f'[{i}]'}: expected n={n} conformers (the generating "
                             f"call's), got {m.GetNumConformers()}")
    check_int(n, "n", low=1)
    stats = stats if stats is not None else GenerationStats()
    draw = _sampler(net=net, process=process, steps=steps, solver=solver, seed=seed, stats=stats,
                    stereo_rounds=stereo_rounds, first_index=first_index, **sampling)
    t0 = time.perf_counter()
    out = relax_matching_stereo(mols, mols, n, stereo_rounds, stats, lambda counts, offsets: draw(mols, counts, offsets))
    stats.seconds += time.perf_counter() - t0
    stats.conformers += n * len(mols)
    return out[0] if single else out
