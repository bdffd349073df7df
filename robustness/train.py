"""Train the networks of the robustness benchmarks with the core training loop.

* the undefended classifier (cross-entropy on clean MNIST or Fashion-MNIST);
* the adversarially trained classifier (Madry et al. 2018: cross-entropy on L-inf PGD
  examples made on the fly against the current weights, same architecture);
* the diffusion model for purification (vision's U-Net, eps-prediction, denoising score
  matching on the VP process, Song et al. 2021).

Run::

    python -m polydiff.robustness.train classifier  --steps 2000 --out runs/clf
    python -m polydiff.robustness.train adversarial --steps 2000 --eps 0.3 --init runs/clf --out runs/adv
    python -m polydiff.robustness.train diffusion   --steps 20000 --out runs/dm
    torchrun --nproc_per_node 2 -m polydiff.robustness.train --out runs/dm   # data parallel

Each writes ``model.safetensors`` + ``config.json`` (vision's :func:`save_net`) into ``--out``.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib

import polydiff.core as pc
import torch
import torch.nn.functional as F
from polydiff.core.atomic import atomic_file
from polydiff.core.losses import dsm_loss
from polydiff.core.training import TrainConfig, Trainer
from polydiff.core.training.cli import run_script
from polydiff.core.validate import check_int, check_number
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from . import nets
from .attacks import _check_labels, _radius, pgd_examples
from .data import load_images
from .early_stopping import robust_accuracy_fn, select_best
from .loss_plateau import KEY as VAL_KEY
from .loss_plateau import denoising_loss_fn, plateau, plateau_file, stages
from .purify import check_images

__all__ = ["main", "train_classifier", "train_diffusion"]


_pgd_examples = pgd_examples  # the training attack (a module name the tests replace)


def train_classifier(x: Tensor, y: Tensor, cfg: TrainConfig, *, width: int = 16, adversarial: bool = False,
                     eps: float = 0.3, pgd_steps: int = 7, eps_ramp: float = 0.0,
                     init: nn.Module | None = None, resume: bool = False,
                     val: tuple[Tensor, Tensor] | None = None, val_pgd_steps: int = 20) -> nn.Module:
    """Train the CNN classifier (optionally with PGD adversarial training).

    Args:
        x: images ``[N, 1, 28, 28]`` in [0, 1]; y: labels ``[N]``.
        cfg: core training configuration (steps, batch size, lr, ...).
        width: classifier width (see :func:`nets.classifier`).
        adversarial: train on PGD examples (Madry et al.) instead of clean images.
        eps, pgd_steps: the training attack (L-inf radius, iterations).
        eps_ramp: fraction of the steps over which the training radius grows linearly from
            0 to ``eps`` (a curriculum that keeps small networks from collapsing at eps = 0.3).
        init: start from these weights (e.g. fine-tune a clean model adversarially).
        resume: continue the run in ``cfg.ckpt_dir``.
        val: validation images and labels: every ``cfg.eval_every`` steps their clean and
            PGD-``val_pgd_steps`` robust accuracy at ``eps`` are logged, and the weights returned
            are the checkpoint where the robust one was highest (Rice et al. 2020's early
            stopping; :mod:`.early_stopping`, which writes the curve to ``selection.json``).
            Needs ``adversarial=True`` and a checkpoint at every evaluation, all kept
            (``ckpt_every == eval_every``, ``keep_last >= steps / eval_every``).
    """
    check_images(x)  # PGD clamps its examples to [0, 1]: images on another scale would be clipped
    _check_labels(y, x.shape[0], None)
    check_number(eps_ramp, "eps_ramp", low=0.0, high=1.0)
    # checked even when adversarial=False (unused then): a bad value is refused, not ignored
    _radius(eps, "eps", "Linf")
    check_int(pgd_steps, "pgd_steps", low=1)
    net = init if init is not None else nets.classifier(width, in_channels=x.shape[1])

    def loss_fn(model: nn.Module, batch, generator) -> Tensor:
        xb, yb = batch
        if adversarial:
            # the radius follows the optimizer step (trainer.step, restored on resume): a resumed
            # run continues the ramp where it stopped instead of starting it again
            ramp = eps_ramp * cfg.steps
            e = eps * min(1.0, (trainer.step + 1) / ramp) if ramp > 0 else eps
            xb = _pgd_examples(model, xb, yb, e, pgd_steps, generator)
        return F.cross_entropy(model(xb), yb)

    eval_fn = None
    if val is not None:
        _check_selection(cfg, adversarial, val)
        eval_fn = robust_accuracy_fn(*val, eps, val_pgd_steps)
    trainer = Trainer(cfg, net, loss_fn, TensorDataset(x, y), net_config=_net_config(net), eval_fn=eval_fn,
                      extra={"adversarial": adversarial, "eps": eps, "pgd_steps": pgd_steps})
    trainer.fit(resume=resume)
    if val is not None:
        select_best(trainer, net)
    return _final_weights(trainer, net)


def _check_selection(cfg: TrainConfig, adversarial: bool, val) -> None:
    """Refuse a validation-selected run that could not load its best checkpoint."""
    if not adversarial:
        raise ValueError("val selects the adversarially trained checkpoint: it needs adversarial=True")
    if not isinstance(val, tuple) or len(val) != 2:
        raise TypeError(f"val must be a tuple (images, labels), got {type(val).__name__}")
    if cfg.ckpt_dir is None or not cfg.eval_every or cfg.ckpt_every != cfg.eval_every:
        raise ValueError(f"val needs a checkpoint at every evaluation: ckpt_dir set and ckpt_every == eval_every > 0, "
                         f"got ckpt_dir={cfg.ckpt_dir!r}, ckpt_every={cfg.ckpt_every}, eval_every={cfg.eval_every}")
    if cfg.keep_last * cfg.eval_every < cfg.steps:
        raise ValueError(f"val needs every checkpoint kept: keep_last >= steps / eval_every = "
                         f"{-(-cfg.steps // cfg.eval_every)}, got keep_last={cfg.keep_last}")


def train_diffusion(x: Tensor, cfg: TrainConfig, *, process: pc.GaussianProcess | None = None,
                    t_max: float | None = None, resume: bool = False, val: Tensor | None = None,
                    max_steps: int | None = None, growth: float = 1.5, window: float = 0.25,
                    tol: float = 0.01, **net_kwargs) -> nn.Module:
    """Train an eps-prediction U-Net on images ``x`` in [0, 1] (scaled to [-1, 1]) with DSM.

    ``t_max`` restricts training times to ``U(t_min, t_max)``: a purifier only ever queries
    ``t <= t*``, so a small budget is better spent there (default: the whole range).
    ``resume`` continues the run in ``cfg.ckpt_dir``.

    ``val``: validation images whose DSM loss (:func:`.loss_plateau.denoising_loss_fn`, fixed
    times and noise) is logged every ``cfg.eval_every`` steps; with ``max_steps`` the run trains
    ``cfg.steps`` steps, then ``growth`` times more at a time (:func:`.loss_plateau.stages`) while
    that loss still fell by more than ``tol`` over the last ``window`` of the steps
    (:func:`.loss_plateau.plateau`), up to ``max_steps``; the stages and the last verdict go to
    :func:`.loss_plateau.plateau_file` in the run folder. Needs a constant learning rate (a
    schedule would depend on the end not yet known) and ``cfg.ckpt_dir``.
    """
    check_images(x)  # the loss maps [0, 1] to the model range [-1, 1]
    process = process if process is not None else pc.VP()
    if t_max is not None and not (process.t_min < t_max <= process.t_max):
        raise ValueError(f"t_max must lie in ({process.t_min}, {process.t_max}], got {t_max!r}")
    plan = _plateau_plan(cfg, x, val, max_steps, growth)
    net = nets.denoiser(in_channels=x.shape[1], **net_kwargs)

    def loss_fn(model: nn.Module, batch, generator) -> Tensor:
        xb = batch[0] if isinstance(batch, (list, tuple)) else batch
        t = None
        if t_max is not None:
            u = torch.rand(xb.shape[0], generator=generator, device=xb.device, dtype=torch.float64)
            t = process.t_min + (t_max - process.t_min) * u
        return dsm_loss(model, process, 2.0 * xb - 1.0, prediction="eps", generator=generator, t=t).mean()

    eval_fn = denoising_loss_fn(val, process, t_max=t_max) if val is not None else None
    trainer = Trainer(dataclasses.replace(cfg, steps=plan[-1]), net, loss_fn, x, net_config=_net_config(net),
                      eval_fn=eval_fn, extra={"process": process.config()})
    if max_steps is None:
        trainer.fit(resume=resume)
        return _final_weights(trainer, net)
    for i, stage in enumerate(plan):  # a resumed run replays the decisions from its metrics log
        trainer.fit(resume=resume and i == 0, max_steps=stage)
        curve = {int(r["step"]): float(r[VAL_KEY]) for r in trainer.metrics.read() if VAL_KEY in r}
        verdict = plateau({s: v for s, v in curve.items() if s <= stage}, stage, window=window, tol=tol)
        if not verdict["still_improving"]:
            break
    if trainer.dist.is_main:
        with atomic_file(plateau_file(trainer.run_dir)) as f:
            json.dump({**verdict, "stages": plan[:i + 1], "max_steps": plan[-1], "growth": growth,
                       "val_n": int(val.shape[0]), "val_dsm": curve}, f, indent=1)
    return _final_weights(trainer, net)


def _plateau_plan(cfg: TrainConfig, x: Tensor, val: Tensor | None, max_steps: int | None,
                  growth: float) -> list[int]:
    """The stages of a run trained until its validation loss stops improving (``[cfg.steps]``
    without ``max_steps``); refuses what could not carry it out."""
    if val is not None:
        check_images(val, x.shape[1:], name="val")
    if max_steps is None:
        return [cfg.steps]
    if val is None:
        raise ValueError("max_steps trains until the validation loss stops improving: it needs val images")
    if cfg.ckpt_dir is None or not cfg.eval_every:
        raise ValueError(f"max_steps needs ckpt_dir (the verdict is written there) and eval_every > 0, got "
                         f"ckpt_dir={cfg.ckpt_dir!r}, eval_every={cfg.eval_every}")
    if cfg.lr_schedule != "constant":
        raise ValueError(f"max_steps needs lr_schedule='constant' (the run's end is not known in advance), "
                         f"got {cfg.lr_schedule!r}")
    return stages(cfg.steps, max_steps, growth=growth, multiple=cfg.eval_every)


def _net_config(net: nn.Module) -> dict:
    return {"class": type(net).__name__, **dataclasses.asdict(net.config)}


def _final_weights(trainer: Trainer, net: nn.Module) -> nn.Module:
    """The EMA weights when the trainer keeps them, else the raw weights (eval mode)."""
    out = trainer.ema if trainer.ema is not None else net
    for p in out.parameters():
        p.requires_grad_(True)  # attacks differentiate the inputs through these modules
    return out.eval()


def _check_flags(p, a) -> None:
    """Refuse bad flag values by flag name, also those the chosen ``what`` does not use."""
    from polydiff.core.validate import check_number
    checks = [("--n-train", a.n_train, lambda v: v is None or v >= 1, "an int >= 1"),
              ("--pgd-steps", a.pgd_steps, lambda v: v >= 1, "an int >= 1"),
              ("--width", a.width, lambda v: v >= 1, "an int >= 1"),
              ("--base", a.base, lambda v: v >= 1, "an int >= 1")]
    for flag, value, ok, want in checks:
        if not ok(value):
            p.error(f"{flag} must be {want}, got {value}")
    for flag, value, kw in (("--eps", a.eps, {"low": 0.0, "low_open": True, "high": 1.0}),
                            ("--eps-ramp", a.eps_ramp, {"low": 0.0, "high": 1.0})):
        try:
            check_number(value, flag, **kw)
        except ValueError as err:
            hint = " (an L-inf radius on the [0, 1] image scale)" if flag == "--eps" else ""
            p.error(f"{err}{hint}")


def main(argv: list[str] | None = None) -> None:
    from polydiff.core.training import is_main_process, train_config, train_parser

    p = train_parser("robustness", __doc__, steps=2000, batch_size=128, lr=None)
    p.add_argument("what", nargs="?", default="diffusion", choices=["classifier", "adversarial", "diffusion"],
                   help="what to train (default: diffusion, the purification model)")
    p.add_argument("--n-train", type=int, default=None, help="first N training images (default all)")
    p.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    p.add_argument("--eps", type=float, default=0.3)
    p.add_argument("--pgd-steps", type=int, default=7)
    p.add_argument("--eps-ramp", type=float, default=0.5, help="fraction of steps ramping eps from 0")
    p.add_argument("--init", type=pathlib.Path, default=None, help="start from this saved classifier")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--base", type=int, default=32)
    a = p.parse_args(argv)
    _check_flags(p, a)
    x, y = load_images(a.dataset, "train", a.n_train)
    if a.lr is None:
        a.lr = 2e-4 if a.what == "diffusion" else 1e-3
    out = pathlib.Path(a.out)
    cfg = train_config(a, ckpt_dir=out / "run", ema_decay=0.999 if a.what == "diffusion" else None)
    torch.manual_seed(a.seed)  # --seed decides the initial weights (the library functions draw them)
    if a.what == "diffusion":
        net = train_diffusion(x, cfg, resume=a.resume, base=a.base, mults=(1, 2, 2))
    else:
        init = nets.load(a.init) if a.init is not None else None
        net = train_classifier(x, y, cfg, width=a.width, adversarial=a.what == "adversarial",
                               eps=a.eps, pgd_steps=a.pgd_steps, eps_ramp=a.eps_ramp, init=init,
                               resume=a.resume)
    if is_main_process():
        nets.save_net(net.cpu(), out)
        print(f"saved {a.what} to {out}")


if __name__ == "__main__":
    run_script(main)
