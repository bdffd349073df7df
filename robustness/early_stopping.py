"""Early stopping of adversarial training on validation robust accuracy (Rice et al. 2020).

Adversarially trained networks overfit robustly: test robust accuracy peaks and then falls
while training loss keeps improving, so Rice et al. keep the checkpoint with the best robust
accuracy on held-out images. Here :func:`robust_accuracy_fn` is the training loop's
``eval_fn``: clean and PGD robust accuracy of a fixed set of validation images (the full
radius, also during an eps ramp; PGD's random start seeded the same at every evaluation), and
:func:`select_best` loads the checkpoint of the step where it was highest and writes the curve
(``selection.json`` in the run folder) so that a benchmark can state when the network was still
improving at its last step, i.e. trained too briefly to have stopped improving.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from polydiff.core.atomic import atomic_file
from polydiff.core.training import Trainer, load_checkpoint
from polydiff.core.validate import check_int
from torch import Tensor, nn

from .attacks import _check_labels, _radius, pgd_examples
from .purify import check_images

__all__ = ["KEY", "robust_accuracy_fn", "select_best", "selection_file"]

#: The metrics-log key :func:`select_best` ranks checkpoints by.
KEY = "eval/val_robust"


def robust_accuracy_fn(x: Tensor, y: Tensor, eps: float, pgd_steps: int = 20, *, batch_size: int = 256,
                       seed: int = 0) -> Callable[[nn.Module, int], dict[str, float]]:
    """``eval_fn(net, step)`` for :class:`~polydiff.core.training.Trainer`: ``{"val_clean",
    "val_robust"}``, the accuracy of ``net`` on the images ``x`` (labels ``y``) and under
    L-inf PGD-``pgd_steps`` at radius ``eps`` (step ``2.5 eps / pgd_steps``, random start)."""
    check_images(x)
    _check_labels(y, x.shape[0], None)
    _radius(eps, "eps", "Linf")
    pgd_steps = check_int(pgd_steps, "pgd_steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    seed = check_int(seed, "seed")

    def evaluate(net: nn.Module, step: int) -> dict[str, float]:
        dev = next(net.parameters()).device
        g = torch.Generator().manual_seed(seed)  # the same random starts at every evaluation
        clean = robust = 0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev)
            with torch.no_grad():
                clean += int((net(xb).argmax(1) == yb).sum())
            adv = pgd_examples(net, xb, yb, eps, pgd_steps, g)
            with torch.no_grad():
                robust += int((net(adv).argmax(1) == yb).sum())
        return {"val_clean": clean / len(x), "val_robust": robust / len(x)}

    return evaluate


def selection_file(run_dir: str | Path) -> Path:
    """Where :func:`select_best` writes its choice and the validation curve."""
    return Path(run_dir) / "selection.json"


def select_best(trainer: Trainer, net: nn.Module) -> dict:
    """Load into ``net`` the checkpointed weights of the step with the highest validation robust
    accuracy in the run's metrics log (the earliest such step on a tie) and return (and, on rank 0,
    write to :func:`selection_file`) ``{"selected_step", "last_step", "still_improving",
    "val_robust", "val_clean"}`` (the curves as ``{step: accuracy}``). ``still_improving``: the
    best step is the last one evaluated."""
    if trainer.run_dir is None:
        raise ValueError("select_best: the trainer has no ckpt_dir (the best step's checkpoint is loaded from it)")
    rows = [r for r in trainer.metrics.read() if KEY in r]
    if not rows:
        raise ValueError(f"select_best: {trainer.run_dir}: the metrics log holds no {KEY!r} rows "
                         "(train with eval_fn=robust_accuracy_fn(...) and eval_every > 0)")
    curve = {int(r["step"]): float(r[KEY]) for r in rows}
    clean = {int(r["step"]): float(r["eval/val_clean"]) for r in rows if "eval/val_clean" in r}
    best = max(curve, key=lambda s: (curve[s], -s))
    ckpt = trainer.run_dir / f"step_{best:08d}"
    if not ckpt.is_dir():
        raise FileNotFoundError(f"select_best: {ckpt}: no checkpoint of the best step {best} (checkpoint at every "
                                "evaluation, ckpt_every == eval_every, and keep them all: keep_last >= their number)")
    net.load_state_dict(load_checkpoint(ckpt, net=net).model)
    out = {"selected_step": best, "last_step": max(curve), "still_improving": best == max(curve),
           "val_robust": curve, "val_clean": clean}
    if trainer.dist.is_main:
        with atomic_file(selection_file(trainer.run_dir)) as f:
            json.dump(out, f, indent=1)
    return out
