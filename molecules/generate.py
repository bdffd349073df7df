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

import time
from dataclasses import dataclass, field

import torch

from .process import ComFreeNoise, PaddedDenoiser, masked_zero_center

__all__ = ["GenerationStats", "conformer_generator", "generate_conformers"]


@dataclass
class GenerationStats:
    """Cost of one :func:`generate_conformers` call."""

    nfe: int = 0
    seconds: float = 0.0
    conformers: int = 0
    reflected: int = 0  # conformers mirrored to the input's enantiomer (``match_stereo``)
    batches: list[int] = field(default_factory=list)

    @property
    def seconds_per_conformer(self) -> float:
        return self.seconds / max(self.conformers, 1)


def _set_positions(mol, coords) -> Chem.Mol:  # noqa: F821
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    for xyz in coords:
        conf = Chem.Conformer(out.GetNumAtoms())
        for k, (x, y, z) in enumerate(xyz.tolist()):
            conf.SetAtomPosition(k, Point3D(x, y, z))
        conf.Set3D(True)
        out.AddConformer(conf, assignId=True)
    return out


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
        seed: conformer ``k`` of molecule ``m`` uses a generator seeded with ``(seed, m, k)``.
        clip: clip each atom's predicted ``eps`` to this norm (GeoDiff's ``clip``); ``None``: off.
        max_batch_atoms: atoms per solver call (molecules x conformers are chunked to fit).
        stats: filled with NFE, wall time and the number of conformers.
        relax: ``"mmff"`` relaxes every conformer to its MMFF94 minimum afterwards
            (:func:`~polydiff.molecules.relax.mmff_relax`, counted in ``stats.seconds``);
            ``None``: the sampler's coordinates as they are.
        match_stereo: reflect every conformer whose specified stereocentres are all inverted,
            so conformers carry the input's enantiomer (the networks cannot tell mirror images
            apart; :mod:`polydiff.molecules.stereo`). A no-op without specified centres.
        **solver_options: passed to the solver (``eta`` for DDIM, ...).

    Returns:
        One ``Mol`` with ``n`` conformers (coordinates in the training unit, Å), or a list of
        them for a list input. Writable with ``Chem.SDWriter``.
    """
    import polydiff.core as pc
    from torch_geometric.data import Batch

    from .featurize import mol_to_data, parse_molecule

    single = isinstance(mol_or_smiles, str) or not isinstance(mol_or_smiles, (list, tuple))
    items = [mol_or_smiles] if single else list(mol_or_smiles)
    if not items:
        raise ValueError("generate_conformers needs at least one molecule")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if solver not in pc.SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {sorted(pc.SOLVERS)}")
    if not isinstance(match_stereo, bool):
        raise ValueError(f"match_stereo must be a bool, got {match_stereo!r}")
    if relax not in (None, "mmff"):
        raise ValueError(f"relax must be None or 'mmff', got {relax!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    mols = [parse_molecule(m) for m in items]
    datas = [mol_to_data(m, conf_id=None) for m in mols]
    jobs = [(mi, k) for mi in range(len(mols)) for k in range(n)]  # one row per conformer
    p = next(net.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    stats = stats if stats is not None else GenerationStats()
    coords: list[list] = [[None] * n for _ in mols]
    net_was_training = net.training
    net.eval()
    t0 = time.perf_counter()
    try:
        start = 0
        while start < len(jobs):
            chunk, atoms = [], 0
            while start < len(jobs) and (not chunk or atoms + datas[jobs[start][0]].num_nodes <= max_batch_atoms):
                chunk.append(jobs[start])
                atoms += datas[jobs[start][0]].num_nodes
                start += 1
            graph = Batch.from_data_list([datas[mi] for mi, _ in chunk]).to(device)
            sizes = torch.tensor([datas[mi].num_nodes for mi, _ in chunk], device=device)
            mask = torch.arange(int(sizes.max()), device=device)[None] < sizes[:, None]
            gens = [torch.Generator(device=device).manual_seed(int(conformer_seed(seed, mi, k))) for mi, k in chunk]
            noise = ComFreeNoise(mask, gens)
            x_T = process.prior_std() * noise(torch.zeros(*mask.shape, 3, device=device), -1)
            model = PaddedDenoiser(net, graph, mask, clip=clip)
            x0 = pc.sample(model, process, x_T, steps=steps, solver=solver, prediction="eps",
                           project_x=lambda x, t, m=mask: masked_zero_center(x, m), noise=noise,
                           **solver_options)
            if not torch.isfinite(x0).all():
                raise FloatingPointError("sampling produced NaN/inf coordinates")
            for row, (mi, k) in enumerate(chunk):
                coords[mi][k] = x0[row, : datas[mi].num_nodes].double().cpu()
            stats.nfe += model.nfe
            stats.batches.append(len(chunk))
    finally:
        net.train(net_was_training)
    out = [_set_positions(m, c) for m, c in zip(mols, coords)]
    if match_stereo:
        from .stereo import match_enantiomer, specified_centres

        stats.reflected += sum(match_enantiomer(o, specified_centres(m)) for o, m in zip(out, mols))
    if relax == "mmff":
        from .relax import mmff_relax

        out = [mmff_relax(m) for m in out]
    stats.seconds += time.perf_counter() - t0
    stats.conformers += len(jobs)
    return out[0] if single else out


def conformer_seed(seed: int, mol_index: int, conf_index: int) -> int:
    """Seed of one conformer's generator (numpy ``SeedSequence`` hashing of the triple)."""
    from polydiff.core.training import derive_seed

    return derive_seed(int(seed), int(mol_index), int(conf_index))


def conformer_generator(ckpt_dir, *, device: str = "cpu"):
    """``(net, process)`` from a :mod:`polydiff.molecules.train` run directory (safetensors + JSON)."""
    from polydiff.core.training import load_for_sampling

    from .nets import NetConfig, build_net
    from .process import geodiff_process

    net, _, extra = load_for_sampling(ckpt_dir, lambda **kw: build_net(NetConfig(**kw)), device=device)
    proc_cfg = extra.get("process", {})
    process = geodiff_process(int(proc_cfg.get("T", 5000)), float(proc_cfg.get("beta_start", 1e-7)),
                              float(proc_cfg.get("beta_end", 2e-3)))
    return net, process
