"""The flag set every domain's training script shares, and what a script does with it.

``polydiff train <domain> --help`` shows the same program name and the same eight flags in
every domain::

    --steps --batch-size --lr --seed --out --resume --ckpt-every --device

:func:`train_parser` builds that parser (the domain adds its own flags after), and
:func:`train_config` turns the parsed flags into a :class:`TrainConfig`. Fields a script
derives from ``--steps`` (``warmup_steps`` above all) are taken from the checkpoint when a
run is resumed, so a finished run extended with a larger ``--steps`` continues the schedule
it was trained with instead of failing on a re-derived value. :func:`seeded_init` builds a
network under ``--seed`` without touching the global RNG.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch

from ..flags import non_negative_int, positive_float, positive_int
from .checkpoint import latest_checkpoint
from .config import RESUME_FREE_FIELDS, TrainConfig
from .distributed import cleanup
from .serialize import CheckpointError, read_json

__all__ = [
    "DERIVED_FIELDS",
    "is_main_process",
    "resume_derived",
    "run_script",
    "seeded_init",
    "train_config",
    "train_parser",
]

T = TypeVar("T")

#: Fields training scripts compute from other flags; on resume the checkpoint's value wins.
DERIVED_FIELDS: frozenset[str] = frozenset({"warmup_steps"})




def train_parser(
    domain: str,
    description: str,
    *,
    steps: int,
    batch_size: int,
    lr: float | None,
    ckpt_every: int | None = None,
    out: str | None = None,
) -> argparse.ArgumentParser:
    """The parser of ``polydiff train <domain>`` with the shared flags already added.

    Args:
        domain: the domain name shown in the program name (``polydiff train vision``).
        description: the script's help text (its module docstring).
        steps, batch_size, lr: the domain's defaults (``lr=None``: the script picks one per
            model).
        ckpt_every: default checkpoint period (default: ``steps // 10``, at least 1).
        out: default run directory (``None``: ``--out`` is required).
    """
    if not isinstance(domain, str) or not domain:
        raise ValueError(f"train_parser: domain must be a non-empty str, got {domain!r}")
    for name, v in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"train_parser: {name} must be a positive int, got {v!r}")
    p = argparse.ArgumentParser(
        prog=f"polydiff train {domain}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("training (shared by every domain)")
    g.add_argument("--steps", type=positive_int, default=steps,
                   help=f"optimizer steps of the whole run (default {steps}); a larger value "
                        "with --resume extends a finished run")
    g.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=f"global batch per optimizer step (default {batch_size})")
    g.add_argument("--lr", type=positive_float, default=lr,
                   help="peak AdamW learning rate" + (f" (default {lr})" if lr else ""))
    g.add_argument("--seed", type=non_negative_int, default=0,
                   help="seeds the network's initialisation and the data order (default 0)")
    g.add_argument("--out", required=out is None, default=out,
                   help="run directory: checkpoints, metrics, the trained model")
    g.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --out")
    g.add_argument("--ckpt-every", type=non_negative_int, default=ckpt_every,
                   help="checkpoint period in steps (default: steps // 10; 0: only at the end)")
    g.add_argument("--device", default="cpu",
                   help="cpu, cuda, cuda:i or auto (under torchrun, cuda means cuda:LOCAL_RANK)")
    return p


def _stored_config(ckpt_dir: str | os.PathLike) -> dict[str, Any] | None:
    found = latest_checkpoint(ckpt_dir)
    if found is None:
        return None
    stored = read_json(found / "config.json")
    if not isinstance(stored, dict):
        raise CheckpointError(f"{found / 'config.json'}: expected a JSON object")
    return stored


def train_config(
    args: argparse.Namespace,
    *,
    ckpt_dir: str | os.PathLike | None = None,
    derived: Iterable[str] = DERIVED_FIELDS,
    **fields: Any,
) -> TrainConfig:
    """The :class:`TrainConfig` of a run from the shared flags plus the script's ``fields``.

    With ``--resume`` and a checkpoint in ``ckpt_dir``, every field named in ``derived``
    (values the script computes, e.g. ``warmup_steps = min(500, steps // 10)``) is read from
    the checkpoint's ``config.json``: the schedule a run was trained with is stored, never
    re-derived from the new ``--steps``.

    Args:
        args: parsed flags of :func:`train_parser`.
        ckpt_dir: the checkpoint directory (default ``args.out``).
        derived: field names taken from the checkpoint on resume.
        **fields: any other :class:`TrainConfig` fields (``warmup_steps``, ``ema_decay``...).
    """
    if not isinstance(args, argparse.Namespace):
        raise TypeError(f"train_config: args must be an argparse.Namespace, got {type(args).__name__}")
    missing = [k for k in ("steps", "batch_size", "lr", "seed", "out", "resume", "ckpt_every",
                           "device") if not hasattr(args, k)]
    if missing:
        raise ValueError(f"train_config: args lacks the shared flags {missing}; build the parser "
                         "with train_parser()")
    derived = frozenset(derived)
    free = sorted(derived & RESUME_FREE_FIELDS)
    if free:
        raise ValueError(f"train_config: {free} may change on resume anyway; not derived fields")
    ckpt_dir = str(ckpt_dir if ckpt_dir is not None else args.out)
    ckpt_every = args.ckpt_every if args.ckpt_every is not None else max(1, args.steps // 10)
    base: dict[str, Any] = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
                            "device": args.device, "ckpt_dir": ckpt_dir, "ckpt_every": ckpt_every}
    if args.lr is not None:
        base["lr"] = args.lr
    clash = sorted(set(base) & set(fields))
    if clash:
        raise ValueError(f"train_config: {clash} come from the shared flags; do not pass them")
    cfg = TrainConfig(**base, **fields)
    return resume_derived(cfg, derived) if args.resume else cfg


def resume_derived(cfg: TrainConfig, derived: Iterable[str] = DERIVED_FIELDS) -> TrainConfig:
    """``cfg`` with the ``derived`` fields read from the latest checkpoint in ``cfg.ckpt_dir``
    (``cfg`` unchanged when there is none): for library functions that resume a run whose
    warm-up they compute from ``steps``."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"resume_derived: cfg must be a TrainConfig, got {type(cfg).__name__}")
    derived = frozenset(derived)
    free = sorted(derived & RESUME_FREE_FIELDS)
    if free:
        raise ValueError(f"resume_derived: {free} may change on resume anyway; not derived fields")
    if cfg.ckpt_dir is None:
        return cfg
    stored = _stored_config(cfg.ckpt_dir)
    if stored is None:
        return cfg
    return cfg.replace(**{name: stored[name] for name in derived if name in stored})


def seeded_init(factory: Callable[[], T], seed: int) -> T:
    """``factory()`` under ``torch.manual_seed(seed)``, the global RNG restored afterwards
    (the same ``--seed`` gives the same initial weights; the caller's stream is untouched)."""
    if not callable(factory):
        raise TypeError(f"seeded_init: factory must be callable, got {type(factory).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seeded_init: seed must be an int >= 0, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def is_main_process() -> bool:
    """Whether this process is rank 0 (or the only one): the one that writes files.

    Reads the process group when there is one, else torchrun's ``RANK`` variable, so a
    script can ask before its :class:`Trainer` has joined the group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def run_script(main: Callable[[], Any]) -> None:
    """Run a training script's ``main`` and exit; under torchrun every rank first leaves the
    process group together (:func:`~polydiff.core.training.distributed.cleanup`), so no rank
    aborts at exit. An ``int`` returned by ``main`` is the exit status."""
    status = main()
    cleanup()
    raise SystemExit(status if isinstance(status, int) else 0)
