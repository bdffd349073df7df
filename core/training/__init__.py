"""polydiff.core.training — one training loop for every domain.

EMA, AdamW with warm-up and cosine/constant schedules, gradient clipping and accumulation,
bf16 autocast, crash-safe safetensors checkpoints with bitwise resume, ``torchrun`` data
parallelism and data-parallel sampling::

    from polydiff.core.training import TrainConfig, Trainer, load_for_sampling
    trainer = Trainer(TrainConfig(steps=1000, batch_size=64, ckpt_dir="run"), net, loss_fn,
                      dataset, net_config=net_config, extra={"process": "VP"})
    trainer.fit(resume=True)
    net, net_config, extra = load_for_sampling("run", MyNet)   # EMA weights, eval mode

The same script runs data-parallel unchanged: ``torchrun --nproc_per_node=N script.py``
(``batch_size`` stays the global batch). Rooms: :mod:`.config` (TrainConfig), :mod:`.loop`
(Trainer), :mod:`.data` (data order), :mod:`.ema`, :mod:`.checkpoint` (layout, atomic
writes, validated loading), :mod:`.serialize` (pickle-free state), :mod:`.state` (what a
resumable run saves), :mod:`.cli` (the flags every ``polydiff train <domain>`` shares),
:mod:`.rng`, :mod:`.distributed`, :mod:`.metrics`. The cost of the extras is measured by
:mod:`polydiff.bench.training_overhead`.
"""

from .checkpoint import (
    Checkpoint,
    latest_checkpoint,
    load_checkpoint,
    load_for_sampling,
    save_checkpoint,
)
from .cli import is_main_process, resume_derived, seeded_init, train_config, train_parser
from .config import TrainConfig
from .data import DataOrder, derive_seed
from .distributed import DistInfo, sample_data_parallel, setup_distributed, unwrap
from .ema import EMA, ema_decay_at
from .loop import Trainer, lr_factor
from .metrics import plot_loss
from .serialize import CheckpointError

__all__ = [
    "EMA",
    "Checkpoint",
    "CheckpointError",
    "DataOrder",
    "DistInfo",
    "TrainConfig",
    "Trainer",
    "derive_seed",
    "ema_decay_at",
    "is_main_process",
    "latest_checkpoint",
    "load_checkpoint",
    "load_for_sampling",
    "lr_factor",
    "plot_loss",
    "resume_derived",
    "sample_data_parallel",
    "save_checkpoint",
    "seeded_init",
    "setup_distributed",
    "train_config",
    "train_parser",
    "unwrap",
]
