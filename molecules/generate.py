"""``generate_conformers``: RDKit molecules in, molecules with n diffusion conformers out.

All conformers of all requested molecules are solved together: they are stacked in the
padded layout ``x [B, A, 3]`` (``B`` = molecules x conformers, ``A`` = largest molecule)
and handed to :func:`polydiff.core.sample` with the model closure
:class:`~polydiff.molecules.process.PaddedDenoiser`, the CoM-free noise sampler
:class:`~polydiff.molecules.process.ComFreeNoise` (``noise=``) and the zero-CoM projection
(``project_x=``). Any core solver works: the paper's ancestral chain (``solver="ddpm"`` with
``steps=T``, GeoDiff Alg. 1 with 5,000 steps) or fast ODE solvers (``ddim``, ``dpmpp_2m``) at
50–200 steps. Every conformer has its own seeded generator, so a conformer does not depend
on which other molecules share its batch.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import time
from dataclasses import dataclass, field

import torch

from .positions import check_conformers, with_conformers
from .process import ComFreeNoise, PaddedDenoiser, masked_zero_center, true_scale_input
from .stereo_filter import filter_stereo, relax_matching_stereo, stereo_information

__all__ = ["GenerationStats", "conformer_generator", "generate_conformers", "load_run", "refine_conformers",
           "stereo_information"]


@dataclass
class GenerationStats:
    """Cost of one :func:`generate_conformers` call."""

    nfe: int = 0  # network calls (a call evaluates a whole batch of conformers)
    seconds: float = 0.0
    conformers: int = 0
    conformer_nfe: int = 0  # network evaluations summed over conformers, stereo redraws included
    reflected: int = 0  # conformers mirrored to the input's enantiomer (``match_stereo``)
    resampled: int = 0  # conformers drawn again because their stereo was wrong (``stereo_rounds``)
    stereo_wrong: int = 0  # conformers returned with a stereo that still disagrees with the input
    stereo_seconds: float = 0.0  # perceiving, reflecting and resampling (part of ``seconds``)
    batches: list[int] = field(default_factory=list)

    @property
    def seconds_per_conformer(self) -> float:
        return self.seconds / max(self.conformers, 1)

    @property
    def nfe_per_conformer(self) -> float:
        """Mean network evaluations per returned conformer: the solver's NFE plus, spread over
        the conformers returned, those of every stereo redraw (``stereo_rounds``)."""
        return self.conformer_nfe / max(self.conformers, 1)


def generate_conformers(
    mol_or_smiles,
    n: int,
    *,
    net: torch.nn.Module,
    process,
    steps: int = 100,
    solver: str = "dpmpp_2m",
    seed: int = 0,
    clip: float | None = None,
    max_batch_atoms: int = 20000,
    stats: GenerationStats | None = None,
    relax: str | None = None,
    match_stereo: bool = True,
    stereo_rounds: int = 0,
    restarts: int = 0,
    restart_noise: float = 0.2,
    restart_steps: int = 10,
    first_index: int = 0,
    **solver_options,
):
    """Generate ``n`` conformers of one molecule or of a list of molecules.

    Args:
        mol_or_smiles: an RDKit ``Mol`` (hydrogens as given, existing conformers ignored), a
            SMILES string (hydrogens added), or a list of these.
        n: conformers per molecule.
        net: a trained denoiser ``net(pos, t, batch) -> eps`` (:mod:`polydiff.molecules.nets`).
        process: the process it was trained with (e.g. :func:`~polydiff.molecules.process.geodiff_process`).
        steps: solver steps (``process.num_train_timesteps`` for the paper's full chain).
        solver: a name in ``polydiff.core.SOLVERS``.
        seed: conformer ``k`` of molecule ``m`` uses a generator seeded with
            ``(seed, first_index + m, k)``.
        clip: clip each atom's predicted ``eps`` to this norm (GeoDiff's ``clip``); ``None``: off.
        max_batch_atoms: atoms per solver call (molecules x conformers are chunked to fit; a
            molecule larger than the cap is solved alone, one conformer per call).
        stats: filled with NFE, wall time and the number of conformers.
        relax: ``"mmff"`` relaxes every conformer to its MMFF94 minimum afterwards
            (:func:`~polydiff.molecules.relax.mmff_relax`, counted in ``stats.seconds``) and,
            with ``match_stereo``, checks the stereo again: MMFF can invert a centre or turn a
            double bond of a strained sample, so mirror images are reflected and wrong ones
            redrawn (solved, relaxed, checked) for ``stereo_rounds`` further rounds
            (:func:`~polydiff.molecules.stereo_filter.relax_matching_stereo`);
            ``None``: the sampler's coordinates as they are.
        restarts: rounds of Restart sampling (:func:`polydiff.core.restart`; Xu et al. 2023,
            Alg. 1) after the solve, with the restart interval from the data end to
            ``s = sigma/alpha = restart_noise`` (Å): each round re-noises every conformer there
            with fresh CoM-free noise (its own generator's stream) and solves back with
            ``restart_steps`` steps of ``solver`` (``restart_steps`` NFE per round). The
            repeated low-noise solves pull the one-pass sample's geometry onto the model's
            (on QM9 validation molecules, 8 rounds cut MAT-R from 0.244 to 0.146 Å).
        match_stereo: reflect every conformer whose mirror image has the stereo the input
            specifies (R/S centres all inverted, E/Z bonds right), so conformers carry the
            input's enantiomer (the networks cannot tell mirror images apart;
            :func:`polydiff.molecules.stereo.classify_conformers`). A no-op without
            specified stereo.
        stereo_rounds: oversample and filter: up to this many rounds in which every
            conformer whose stereo is still wrong after reflection (a wrong diastereomer or
            E/Z isomer) is replaced by a new sample (conformer index ``n * round + k``, its
            own seed), itself reflected where that fixes it. Conformers still wrong after
            the last round are returned as they are, counted in ``stats.stereo_wrong``
            and warned about. The time spent is in ``stats.stereo_seconds`` (and in
            ``stats.seconds``), the redrawn conformers in ``stats.resampled``, their network
            evaluations in ``stats.conformer_nfe``; needs ``match_stereo``. 0: no resampling.
        first_index: the index of the first molecule in the seeding: a list generated in
            chunks, each with ``first_index`` = the chunk's start, equals the list generated
            at once up to float rounding (``polydiff conformers`` does so for its progress bar).
        **solver_options: passed to the solver (``eta`` for DDIM, ...).

    Returns:
        One ``Mol`` with ``n`` conformers (coordinates in the training unit, Å), or a list of
        them for a list input. Writable with ``Chem.SDWriter``. A ``Mol`` given without
        explicit hydrogens gets them (``Chem.AddHs``, heavy-atom indices kept, hydrogens
        appended) with a warning: the networks are trained on all-atom structures.

    Raises:
        ValueError: for an unparsable SMILES, a molecule with fewer than two atoms, or a bad
            option (the message names it).
    """
    from .featurize import parse_molecule

    single = isinstance(mol_or_smiles, str) or not isinstance(mol_or_smiles, (list, tuple))
    items = [mol_or_smiles] if single else list(mol_or_smiles)
    if not items:
        raise ValueError("generate_conformers needs at least one molecule")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = int(n)
    if not isinstance(match_stereo, bool):
        raise TypeError(f"match_stereo must be a bool, got {match_stereo!r}")
    if relax not in (None, "mmff"):
        raise ValueError(f"relax must be None or 'mmff', got {relax!r}")
    stats = stats if stats is not None else GenerationStats()
    draw = _sampler(net=net, process=process, steps=steps, solver=solver, seed=seed, clip=clip,
                    max_batch_atoms=max_batch_atoms, stats=stats, stereo_rounds=stereo_rounds,
                    restarts=restarts, restart_noise=restart_noise, restart_steps=restart_steps,
                    first_index=first_index, **solver_options)
    if stereo_rounds and not match_stereo:
        raise ValueError("stereo_rounds > 0 needs match_stereo=True (resampling filters on the input's stereo)")
    mols = [_all_atom(parse_molecule(m), i) for i, m in enumerate(items)]
    t0 = time.perf_counter()
    out = [with_conformers(m, c) for m, c in zip(mols, draw(mols, [n] * len(mols), None))]
    if match_stereo:
        tic = time.perf_counter()
        left = filter_stereo(mols, out, n, stereo_rounds, stats, lambda counts, offsets: draw(mols, counts, offsets),
                             warn=relax is None)
        stats.stereo_seconds += time.perf_counter() - tic
        stats.stereo_wrong += left if relax is None else 0
    if relax == "mmff":
        out = relax_matching_stereo(mols, out, n, stereo_rounds if match_stereo else None, stats,
                                    lambda counts, offsets: draw(mols, counts, offsets))
    stats.seconds += time.perf_counter() - t0
    stats.conformers += n * len(mols)
    return out[0] if single else out


def _sampler(*, net, process, steps, solver: str, seed: int, stats: GenerationStats, stereo_rounds: int,
             clip: float | None = None, max_batch_atoms: int = 20000, restarts: int = 0,
             restart_noise: float = 0.2, restart_steps: int = 10, first_index: int = 0, **solver_options):
    """Check the sampling options; returns ``draw(mols, counts, offsets) -> coords[m][k]``, the
    from-scratch solve (and Restart rounds) of :func:`generate_conformers`, costs added to ``stats``."""
    from polydiff.core.validate import check_int

    _check_options(solver, seed, steps)
    _check_run(net, process, max_batch_atoms, stats)
    first_index = check_int(first_index, "first_index", low=0)
    if isinstance(stereo_rounds, bool) or not isinstance(stereo_rounds, int) or stereo_rounds < 0:
        raise ValueError(f"stereo_rounds must be a non-negative int, got {stereo_rounds!r}")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
        raise ValueError(f"restarts must be a non-negative int, got {restarts!r}")
    if isinstance(restart_steps, bool) or not isinstance(restart_steps, int) or restart_steps < 1:
        raise ValueError(f"restart_steps must be a positive integer, got {restart_steps!r}")
    t_restart = _noise_time(process, restart_noise, restart_steps, solver, "restart_noise") if restarts else None
    restart = (t_restart, restarts, restart_steps) if restarts else None

    def prior(rows, mask, noise):
        return process.prior_std() * noise(torch.zeros(*mask.shape, 3, device=mask.device), -1)

    def draw(mols, counts, offsets):
        return _solve(mols, counts, prior, net=net, process=process, steps=steps, solver=solver, seed=seed,
                      clip=clip, max_batch_atoms=max_batch_atoms, stats=stats, restart=restart, offsets=offsets,
                      first_index=first_index, **solver_options)

    return draw


def _all_atom(mol, index: int):
    """``mol`` with every hydrogen as an atom (a warning when they had to be added); >= 2 atoms."""
    import warnings

    from rdkit import Chem

    implicit = sum(a.GetTotalNumHs(includeNeighbors=False) for a in mol.GetAtoms())
    if implicit:
        warnings.warn(f"molecule {index} ({Chem.MolToSmiles(mol)!r}) has {implicit} hydrogens that are not "
                      "atoms of the Mol; adding them with Chem.AddHs (heavy-atom indices kept, hydrogens "
                      "appended): the networks are trained on all-atom structures", UserWarning, stacklevel=3)
        mol = Chem.AddHs(mol)
    if mol.GetNumAtoms() < 2:
        raise ValueError(f"molecule {index} ({Chem.MolToSmiles(mol)!r}) has {mol.GetNumAtoms()} atom: "
                         "a conformer needs at least 2 atoms")
    return mol


def _check_options(solver: str, seed: int, steps: int) -> None:
    import polydiff.core as pc

    if solver not in pc.SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(pc.SOLVERS)}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")


def _check_run(net, process, max_batch_atoms, stats) -> None:
    """The denoiser, its process, the chunk size and the stats record of a sampling call."""
    import inspect

    from polydiff.core.validate import check_int, describe

    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"net must be a torch.nn.Module (a trained denoiser), got {describe(net)}")
    if not all(hasattr(process, a) for a in ("t_max", "alpha", "sigma")):
        raise TypeError(f"process must be a polydiff.core process (e.g. geodiff_process()), got {describe(process)}")
    check_int(max_batch_atoms, "max_batch_atoms", low=1)
    if stats is not None and not isinstance(stats, GenerationStats):
        raise TypeError(f"stats must be a GenerationStats or None, got {describe(stats)}")
    try:
        inspect.signature(net.forward).bind(None, None, None)
    except TypeError:
        raise TypeError(f"net must be a denoiser called as net(pos, t, batch) (a polydiff.molecules.nets "
                        f"network), got {type(net).__name__} whose forward takes "
                        f"{inspect.signature(net.forward)}") from None
    except ValueError:  # no signature to inspect (a builtin): left to the call
        pass


def refine_conformers(
    mols,
    *,
    net: torch.nn.Module,
    process,
    noise_level: float = 0.2,
    steps: int = 30,
    solver: str = "dpmpp_2m_sde",
    seed: int = 0,
    clip: float | None = None,
    max_batch_atoms: int = 20000,
    stats: GenerationStats | None = None,
    **solver_options,
):
    """Refine existing conformers with the denoiser: SDEdit (Meng et al. 2022, Alg. 1).

    Every conformer ``x`` (centred) is perturbed to the time ``t0`` at which GeoDiff's
    perturbation scale ``s = sigma/alpha`` equals ``noise_level``,
    ``x_t0 = alpha(t0) x + sigma(t0) eps`` with CoM-free ``eps``, and solved back to the
    data end. A small ``noise_level`` keeps the input's conformation (torsions, ring
    puckers, chirality) and moves its geometry toward what the network learned (on QM9:
    the DFT geometry), the role a force-field minimisation plays for ETKDG conformers.

    Args:
        mols: an RDKit ``Mol`` with at least one conformer, or a list of them.
        net, process: the trained denoiser and its process (as for :func:`generate_conformers`).
        noise_level: ``s`` at the start of the solve, in the coordinate unit (Å); > 0 and at
            most the prior's ``sigma/alpha``.
        steps: solver steps from ``t0`` to the data end.
        solver, seed, clip, max_batch_atoms, stats, **solver_options: as for
            :func:`generate_conformers`.

    Returns:
        New ``Mol`` (or list) with the refined conformers, in the input's conformer order.
    """
    from rdkit import Chem

    from .featurize import parse_molecule

    single = not isinstance(mols, (list, tuple))
    items = [mols] if single else list(mols)
    if not items:
        raise ValueError("refine_conformers needs at least one molecule")
    for i, m in enumerate(items):
        if not isinstance(m, Chem.Mol):
            raise TypeError(f"molecule {i}: expected an rdkit.Chem.Mol with conformers, got {type(m).__name__}")
        if m.GetNumConformers() == 0:
            raise ValueError(f"molecule {i} ({Chem.MolToSmiles(m)!r}) has no conformer to refine")
        if any(a.GetTotalNumHs(includeNeighbors=False) for a in m.GetAtoms()):
            raise ValueError(f"molecule {i} ({Chem.MolToSmiles(m)!r}) has hydrogens that are not atoms: "
                             "refine all-atom conformers (Chem.AddHs(mol, addCoords=True))")
        check_conformers(m, "mols" if single else f"mols[{i}]")
    _check_options(solver, seed, steps)
    _check_run(net, process, max_batch_atoms, stats)
    t0 = _noise_time(process, noise_level, steps, solver)
    parsed = [parse_molecule(m) for m in items]
    counts = [m.GetNumConformers() for m in parsed]
    init = [[torch.as_tensor(c.GetPositions(), dtype=torch.float32) for c in m.GetConformers()] for m in parsed]
    stats = stats if stats is not None else GenerationStats()
    tic = time.perf_counter()

    def given(rows, mask, noise):  # the input conformers, centred, in the padded layout
        x = torch.zeros(*mask.shape, 3, device=mask.device)
        for r, (mi, k) in enumerate(rows):
            x[r, : init[mi][k].shape[0]] = init[mi][k].to(mask.device)
        return masked_zero_center(x, mask)

    # SDEdit is one Restart round from the given data: core's forward kernel, then the solve back
    coords = _solve(parsed, counts, given, net=net, process=process, steps=None, solver=solver,
                    seed=seed, clip=clip, max_batch_atoms=max_batch_atoms, stats=stats,
                    restart=(t0, 1, steps), **solver_options)
    out = [with_conformers(m, c) for m, c in zip(parsed, coords)]
    stats.seconds += time.perf_counter() - tic
    stats.conformers += sum(counts)
    return out[0] if single else out


def _noise_time(process, noise_level: float, steps: int, solver: str, name: str = "noise_level") -> float:
    """The time at which GeoDiff's ``s = sigma/alpha`` equals ``noise_level``, checked to hold
    ``steps`` solver steps before the data end."""
    import polydiff.core as pc

    t_max = torch.tensor(process.t_max, dtype=torch.float64)
    s_max = float(process.sigma(t_max) / process.alpha(t_max))
    if isinstance(noise_level, bool) or not (isinstance(noise_level, (int, float)) and 0 < noise_level <= s_max):
        raise ValueError(f"{name} must lie in (0, {s_max:.4g}] (the prior's sigma/alpha), got {noise_level!r}")
    t0 = float(process.t_from_log_snr(torch.tensor(-2.0 * math.log(noise_level), dtype=torch.float64)))
    t0 = min(max(t0, float(process.t_min)), float(process.t_max))
    try:  # the grid from t0 must hold ``steps`` steps (a DiscreteVP has integer timesteps)
        pc.build_grid(process, steps, solver, t_start=t0)
    except ValueError as e:
        raise ValueError(f"{name}={noise_level!r} starts the solve at t={t0:.4g}, too early for "
                         f"{steps} {solver} steps; raise noise_level or lower steps ({e})") from e
    return t0


def _solve(mols, counts: list[int], start, *, net, process, steps: int | None, solver: str, seed: int,
           clip: float | None, max_batch_atoms: int, stats: GenerationStats,
           restart: tuple[float, int, int] | None = None, offsets: list[int] | None = None,
           first_index: int = 0, **solver_options) -> list[list[torch.Tensor]]:
    """Solve ``counts[m]`` conformers of every molecule ``m``, chunked to ``max_batch_atoms``.

    Conformer ``k`` of molecule ``m`` is seeded as conformer index ``offsets[m] + k`` (default 0)
    of molecule index ``first_index + m``.

    ``start(rows, mask, noise) -> x [B, A, 3]`` builds each chunk's initial state (``rows``:
    its ``(molecule, conformer)`` pairs) at ``t_max``, solved in ``steps`` steps (``None``: no
    solve, ``start`` is already data);
    ``restart = (t_restart, rounds, steps)`` follows it with :func:`polydiff.core.restart`.
    Returns the coordinates ``coords[m][k]`` (``[n_atoms, 3]`` float64, CPU).
    """
    import polydiff.core as pc
    from torch_geometric.data import Batch

    from .featurize import mol_to_data

    datas = [mol_to_data(m, conf_id=None) for m in mols]
    jobs = [(mi, k) for mi, c in enumerate(counts) for k in range(c)]  # one row per conformer
    p = next(net.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    coords: list[list] = [[None] * c for c in counts]
    net_was_training = net.training
    net.eval()
    try:
        begin = 0
        while begin < len(jobs):
            chunk, atoms = [], 0
            while begin < len(jobs) and (not chunk or atoms + datas[jobs[begin][0]].num_nodes <= max_batch_atoms):
                chunk.append(jobs[begin])
                atoms += datas[jobs[begin][0]].num_nodes
                begin += 1
            graph = Batch.from_data_list([datas[mi] for mi, _ in chunk]).to(device)
            sizes = torch.tensor([datas[mi].num_nodes for mi, _ in chunk], device=device)
            mask = torch.arange(int(sizes.max()), device=device)[None] < sizes[:, None]
            off = offsets or [0] * len(mols)
            gens = [torch.Generator(device=device).manual_seed(
                    int(conformer_seed(seed, first_index + mi, off[mi] + k))) for mi, k in chunk]
            noise = ComFreeNoise(mask, gens)
            model = PaddedDenoiser(true_scale_input(net, process), graph, mask, clip=clip)
            proj = lambda x, t, m=mask: masked_zero_center(x, m)
            x0 = start(chunk, mask, noise)
            if steps is not None:
                x0 = pc.sample(model, process, x0, steps=steps, solver=solver, prediction="eps",
                               project_x=proj, noise=noise, **solver_options)
            if restart is not None:
                t_r, rounds, r_steps = restart
                x0 = pc.restart(model, process, x0, t_restart=t_r, rounds=rounds, steps=r_steps, solver=solver,
                                prediction="eps", project_x=proj, noise=noise, **solver_options)
            if not torch.isfinite(x0).all():
                raise FloatingPointError("sampling produced NaN/inf coordinates")
            for row, (mi, k) in enumerate(chunk):
                coords[mi][k] = x0[row, : datas[mi].num_nodes].double().cpu()
            stats.nfe += model.nfe
            stats.conformer_nfe += model.nfe * len(chunk)
            stats.batches.append(len(chunk))
    finally:
        net.train(net_was_training)
    return coords


def conformer_seed(seed: int, mol_index: int, conf_index: int) -> int:
    """Seed of one conformer's generator (numpy ``SeedSequence`` hashing of the triple)."""
    from polydiff.core.training import derive_seed

    return derive_seed(int(seed), int(mol_index), int(conf_index))


def conformer_generator(ckpt_dir, *, device: str = "cpu"):
    """``(net, process)`` from a :mod:`polydiff.molecules.train` run directory (safetensors + JSON)."""
    net, process, _ = load_run(ckpt_dir, device=device)
    return net, process


def load_run(ckpt_dir, *, device: str = "cpu"):
    """``(net, process, extra)`` of a :mod:`polydiff.molecules.train` run directory; ``extra`` is
    the JSON saved with it (``"process"``, ``"spec"``, ``"train_sizes"`` where recorded)."""
    from polydiff.core.training import load_for_sampling

    from .nets import NetConfig, build_net
    from .process import geodiff_process

    def build(**kw):
        unknown = sorted(set(kw) - {f.name for f in dataclasses.fields(NetConfig)})
        if unknown:
            raise ValueError(f"ckpt_dir: {ckpt_dir} holds no molecules network (its net_config has the keys "
                             f"{unknown}, not NetConfig's); expected a `polydiff train molecules` run")
        # a checkpoint saved before NetConfig.stereo existed holds a network without stereo inputs
        return build_net(NetConfig(**{"stereo": False, "true_scale": False, **kw}))

    net, _, extra = load_for_sampling(ckpt_dir, build, device=device)
    proc_cfg = extra.get("process", {})
    process = geodiff_process(int(proc_cfg.get("T", 5000)), float(proc_cfg.get("beta_start", 1e-7)),
                              float(proc_cfg.get("beta_end", 2e-3)))
    return net, process, extra
