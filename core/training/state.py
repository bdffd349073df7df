"""Trainer state <-> checkpoint: what a resumable run saves and how it is restored.

Saved: weights, EMA weights and update count, AdamW tensors (flattened to safetensors, the
rest as JSON), the LR scheduler state, the step, the data position (a pure function of the
step, see :mod:`.data`) and every rank's global RNG streams; the step's ``loss_fn``
generators need no state (they are reseeded from ``(seed, step, chunk)``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .checkpoint import latest_checkpoint, load_checkpoint, load_weights, save_checkpoint
from .config import TrainConfig
from .distributed import all_gather_tensor, barrier
from .rng import capture_rng, restore_rng
from .serialize import CheckpointError, flatten_state, tensor_keys, unflatten_state

if TYPE_CHECKING:
    from .loop import Trainer

__all__ = ["resume_trainer", "save_trainer"]


def save_trainer(trainer: Trainer) -> Path | None:
    """Checkpoint the current step (collective: call on every rank). Returns the path on
    rank 0."""
    if trainer.run_dir is None:
        raise ValueError("Trainer.save: cfg.ckpt_dir is None")
    rng: dict[str, torch.Tensor] = {}
    for key, value in capture_rng(trainer.device).items():  # every rank's streams
        for r, v in enumerate(all_gather_tensor(value)):
            rng[f"rank{r}/{key}"] = v.cpu()
    path = None
    if trainer.dist.is_main:
        optim_tensors, optim_tree = flatten_state(trainer.optimizer.state_dict(), "optimizer")
        state = {
            "optimizer": optim_tree,
            "scheduler": trainer.scheduler.state_dict(),
            "ema_updates": trainer._ema.num_updates if trainer._ema is not None else 0,
            "data": trainer.order.position(trainer.step),
            "world_size": trainer.dist.world_size,
        }
        path = save_checkpoint(
            trainer.run_dir,
            trainer.step,
            model=trainer.net.state_dict(),
            ema=trainer._ema.state_dict() if trainer._ema is not None else None,
            optim=optim_tensors,
            rng=rng,
            state=state,
            config=trainer.cfg.to_dict(),
            net_config=trainer.net_config,
            extra=trainer.extra,
            keep_last=trainer.cfg.keep_last,
        )
    barrier()
    return path


def resume_trainer(trainer: Trainer, path: str | Path | None = None) -> bool:
    """Restore everything from a checkpoint (default: the run's latest). Returns whether
    one was found. Weights, EMA, optimizer, scheduler, step, data position, RNG streams."""
    if path is None:
        if trainer.run_dir is None:
            raise ValueError("Trainer.resume: cfg.ckpt_dir is None and no path given")
        path = latest_checkpoint(trainer.run_dir)
        if path is None:
            return False
    ck = load_checkpoint(path, net=trainer.net, net_config=trainer.net_config)
    diff = TrainConfig.from_dict(ck.config).math_diff(trainer.cfg)
    if diff:
        raise CheckpointError(
            f"{ck.path / 'config.json'}: training config differs from the "
            f"checkpoint's in {diff}; start a new run directory instead"
        )
    if ck.state.get("data", {}).get("dataset_len") != trainer.order.n:
        raise CheckpointError(
            f"{ck.path / 'state.json'}: dataset had "
            f"{ck.state.get('data', {}).get('dataset_len')} samples, now "
            f"{trainer.order.n}; the data order cannot be restored"
        )
    load_weights(trainer.net, ck.model, ck.path / "model.safetensors")
    if trainer._ema is not None:
        if ck.ema is None:
            raise CheckpointError(f"{ck.path}: has no ema.safetensors but the run keeps an EMA")
        trainer._ema.load_state_dict(ck.ema, ck.state.get("ema_updates", 0))
    where = str(ck.path / "optim.safetensors")
    tree = ck.state.get("optimizer")
    unused = sorted(set(ck.optim) - tensor_keys(tree))
    if unused:
        raise CheckpointError(f"{where}: unexpected keys {unused[:10]}")
    try:
        trainer.optimizer.load_state_dict(unflatten_state(tree, ck.optim, where))
        trainer.scheduler.load_state_dict(ck.state["scheduler"])
    except (KeyError, ValueError, TypeError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{ck.path}: optimizer/scheduler state does not fit ({e})") from None
    mine = {
        k.split("/", 1)[1]: v
        for k, v in ck.rng.items()
        if k.startswith(f"rank{trainer.dist.rank}/")
    }
    if not mine:
        warnings.warn(
            f"{ck.path}: no RNG state for rank {trainer.dist.rank}; global RNG not restored"
        )
    restore_rng(mine, trainer.device)
    trainer.step = ck.step
    if trainer.dist.is_main:
        trainer.metrics.truncate_after(trainer.step)
    barrier()
    return True
