"""Train a GeoDiff conformer denoiser on QM9 DFT geometries with the core training loop.

Run::

    python -m polydiff.molecules.train --out runs/geodiff-qm9 --steps 20000 --batch-size 64 \
        --net geodiff --hidden 128 --max-heavy-atoms 9 --n-mols 20000
    torchrun --nproc_per_node 2 -m polydiff.molecules.train --out runs/geodiff-qm9  # data parallel

The run directory holds safetensors checkpoints with the network config and the process
config as JSON (``extra["process"]``); load them with
:func:`polydiff.molecules.generate.conformer_generator`. Molecules are split by molecule
with a fixed seed (:func:`polydiff.molecules.data.split_by_molecule`); only the training
part is used here, the test part by :mod:`polydiff.bench.molecules`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from polydiff.core.training.cli import run_script

__all__ = ["GRAD_CLIP", "MolTrainSpec", "main", "qm9_split", "qm9_splits", "train", "training_sizes"]

#: Global gradient-norm clip of a molecules run: GeoDiff's ``max_grad_norm`` (its QM9/Drugs configs,
#: 1e4: in effect a guard against blow-ups, not a constant rescaling). The CLI's default and the
#: benchmark's training both read it from here.
GRAD_CLIP = 1e4


@dataclass(frozen=True)
class MolTrainSpec:
    """What decides a molecules training run (besides the core ``TrainConfig``).

    Attributes:
        n_mols: QM9 molecules drawn in all (train = ``n_mols - n_val - n_test``).
        max_atoms / min_heavy_atoms / max_heavy_atoms: QM9 size filters of the pool drawn from.
        n_test / n_val: held-out molecules (a random split, disjoint by graph, ``split_seed``:
            :func:`polydiff.molecules.splits.random_qm9_split`).
        T: diffusion steps of GeoDiff's sigmoid schedule (paper: 5000).
        global_start_sigma: GeoDiff's gating of the radius-edge score (paper configs: 0.5).
    """

    n_mols: int = 20000
    max_atoms: int | None = None
    min_heavy_atoms: int = 1
    max_heavy_atoms: int | None = 9
    n_test: int = 200
    n_val: int = 100
    split_seed: int = 2022
    T: int = 5000
    beta_start: float = 1e-7
    beta_end: float = 2e-3
    global_start_sigma: float | None = 0.5


def qm9_split(spec: MolTrainSpec, root=None):
    """The spec's random QM9 split (:class:`~polydiff.molecules.splits.QM9Split`: molecules with
    the DFT conformer, drawn from every QM9 molecule in the size range; ``.label`` names the set)."""
    from .splits import random_qm9_split

    n_train = spec.n_mols - spec.n_val - spec.n_test
    if n_train < 1:
        raise ValueError(f"n_mols ({spec.n_mols}) must exceed n_val + n_test ({spec.n_val + spec.n_test})")
    return random_qm9_split(n_train, spec.n_val, spec.n_test, seed=spec.split_seed,
                            min_heavy_atoms=spec.min_heavy_atoms, max_heavy_atoms=spec.max_heavy_atoms or 9,
                            max_atoms=spec.max_atoms, root=root)


def qm9_splits(spec: MolTrainSpec, root=None) -> dict[str, list]:
    """QM9 molecules per split (``train``/``val``/``test``) of :func:`qm9_split`."""
    split = qm9_split(spec, root)
    return {"train": split.train, "val": split.val, "test": split.test}


_INIT_STREAM = 0x1417  # derive_seed(seed, _INIT_STREAM): the initialisation's own stream


def training_sizes(mols: Sequence) -> dict[str, list[int]]:
    """``{"heavy_atoms": [min, max], "atoms": [min, max]}`` of a set of molecules (hydrogens
    counted as atoms in ``atoms``)."""
    if not mols:
        raise ValueError("training_sizes needs at least one molecule")
    heavy = [m.GetNumHeavyAtoms() for m in mols]
    atoms = [m.GetNumAtoms() for m in mols]
    return {"heavy_atoms": [min(heavy), max(heavy)], "atoms": [min(atoms), max(atoms)]}


def train(spec: MolTrainSpec, net_config, train_config, train_mols: Sequence, *, resume: bool = False,
          progress=None):
    """Fit a denoiser on ``train_mols`` (their first conformer) with :class:`Trainer`.

    ``net_config.global_cutoff_t`` is filled in from ``spec.global_start_sigma``. The network's
    initialisation is drawn from a stream seeded by ``train_config.seed`` (the global torch RNG
    is left as it was), so one seed fixes the whole run: initialisation, data order, noise.
    The training molecules' size range is saved with the checkpoint (``extra["train_sizes"]``)
    for :class:`~polydiff.molecules.pipeline.ConformerGenerator` to warn outside it.
    ``resume=True`` continues the run in ``train_config.ckpt_dir``, also with a larger
    ``steps`` (the warm-up is read from the checkpoint, not re-derived).

    Returns:
        ``(ema_or_raw_net, process, history)``.
    """
    from polydiff.core.training import Trainer, derive_seed, resume_derived
    from torch_geometric.data import Batch

    from .featurize import mol_to_data
    from .nets import build_net
    from .process import conformer_loss, geodiff_process, global_cutoff_t, true_scale_input

    if not train_mols:
        raise ValueError("no training molecules")
    process = geodiff_process(spec.T, spec.beta_start, spec.beta_end)
    if spec.global_start_sigma is not None:
        net_config = dataclasses.replace(net_config, global_cutoff_t=global_cutoff_t(process, spec.global_start_sigma))
    dataset = [mol_to_data(m) for m in train_mols]
    if any(getattr(d, "pos", None) is None for d in dataset):
        raise ValueError("every training molecule needs a conformer")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(train_config.seed, _INIT_STREAM))
        net = build_net(net_config)
    if resume:
        train_config = resume_derived(train_config)

    def loss_fn(model, batch, generator):
        return conformer_loss(true_scale_input(model, process), process, batch, generator)

    extra = {"process": {"class": "DiscreteVP", "schedule": "sigmoid", "T": spec.T,
                         "beta_start": spec.beta_start, "beta_end": spec.beta_end},
             "spec": dataclasses.asdict(spec), "train_sizes": training_sizes(train_mols)}
    trainer = Trainer(train_config, net, loss_fn, dataset, net_config=net_config.to_dict(),
                      collate_fn=Batch.from_data_list, extra=extra)
    history = trainer.fit(resume=resume)
    return (trainer.ema if trainer.ema is not None else trainer.net), process, history


def main(argv: Sequence[str] | None = None) -> None:
    from polydiff.core.training import is_main_process, train_config, train_parser

    from .nets import NetConfig

    ap = train_parser("molecules", __doc__, steps=20000, batch_size=64, lr=1e-3)
    ap.add_argument("--qm9-root", default=None, help="folder of qm9_part{1,2,3}.csv (default: qm9pack)")
    ap.add_argument("--net", choices=("geodiff", "e3nn"), default="geodiff")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--convs", type=int, default=4, help="global and local layers (geodiff) / layers (e3nn)")
    ap.add_argument("--cutoff", type=float, default=10.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--n-mols", type=int, default=20000)
    ap.add_argument("--max-heavy-atoms", type=int, default=9)
    ap.add_argument("--T", type=int, default=5000)
    ap.add_argument("--grad-clip", type=float, default=GRAD_CLIP,
                    help="global gradient-norm clip (GeoDiff: 1e4; 0 disables)")
    ap.add_argument("--no-true-scale", action="store_true",
                    help="feed the network x_t instead of x_t / alpha(t) (the pre-GeoDiff-scale ablation)")
    ap.add_argument("--no-stereo", action="store_true", help="a network without R/S and E/Z features")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    spec = MolTrainSpec(n_mols=a.n_mols, max_heavy_atoms=a.max_heavy_atoms, T=a.T)
    net_cfg = NetConfig(kind=a.net, hidden=a.hidden, num_convs_global=a.convs, num_convs_local=a.convs,
                        num_layers_e3=a.convs, cutoff=a.cutoff, stereo=not a.no_stereo,
                        true_scale=not a.no_true_scale)
    # --seed seeds everything random in the run: initialisation (train() draws it from a stream
    # of the seed), data order and noise
    tcfg = train_config(a, ema_decay=a.ema, lr_schedule="cosine", warmup_steps=min(500, a.steps // 10),
                        grad_clip=a.grad_clip or None)
    split = qm9_split(spec, a.qm9_root)
    if is_main_process():
        print(f"{split.label}: {len(split.train)} train / {len(split.val)} val / {len(split.test)} test molecules")
    train(spec, net_cfg, tcfg, split.train, resume=a.resume)


if __name__ == "__main__":
    run_script(main)
