"""Train the vision networks with polydiff's one training loop.

    polydiff train vision --task generate --dataset mnist --steps 2000 --out runs/gen
    torchrun --nproc_per_node 2 -m polydiff.vision.train --steps 2000 --out runs/gen  # data parallel
    python -m polydiff.vision.train --task superres --dataset mnist --factor 4 --out runs/sr
    python -m polydiff.vision.train --task inpaint --dataset photos --size 32 --out runs/inp
    python -m polydiff.vision.train --task anomaly --dataset mnist --normal-class 1 --noise simplex --out runs/ano
    python -m polydiff.vision.train --task classifier --dataset mnist --steps 500 --out runs/clf

Tasks and what they train: ``generate`` a class-conditional U-Net with label dropout (CFG);
``superres`` an SR3 U-Net conditioned on the bicubic up-sampled low-resolution image
(``superres-regression``: the same U-Net regressing the image, the SR baseline);
``inpaint``/``sdedit``/``segment`` an unconditional U-Net (RePaint, SDEdit and the
segmentation features all use one); ``anomaly`` an unconditional U-Net on normal images
with simplex (AnoDDPM) or Gaussian noise; ``classifier`` the evaluation classifier.
Checkpoints are safetensors + JSON (``polydiff.core.training``); load with
:func:`load_trained`.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from polydiff.core.training.cli import run_script
from torch import Tensor, nn

from . import data as vdata
from ._common import PROCESS, default_process
from .nets import Classifier, ClassifierConfig, UNet, UNetConfig

__all__ = ["DATASETS", "TASKS", "build_net", "load_images", "load_trained", "main", "make_loss", "train"]

TASKS = ("generate", "superres", "inpaint", "sdedit", "segment", "anomaly", "classifier", "superres-regression",
         "palette")
DATASETS = ("mnist", "fashion-mnist", "digits", "photos", "mni152")


def load_images(dataset: str, split: str = "train", *, size: int | None = None, limit: int | None = None,
                classes: tuple[int, ...] | None = None, path: str | None = None) -> tuple[Tensor, Tensor]:
    """``(images [N, C, H, W] in [0, 1], labels [N])`` of a named dataset (labels 0 where none)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if dataset == "mnist":
        x, y = vdata.load_mnist(split, path)
    elif dataset == "fashion-mnist":
        x, y = vdata.load_fashion_mnist(split, path)
    elif dataset == "digits":
        x, y = vdata.load_digits()
        x, y = (x[:1500], y[:1500]) if split == "train" else (x[1500:], y[1500:])
    elif dataset == "photos":
        x = vdata.photo_patches(split, size or 32, per_image=256 if split == "train" else 64, path=path)
        y = torch.zeros(len(x), dtype=torch.long)
    else:
        x, _ = vdata.load_mni152_slices(size or 64)
        x = x[0::2] if split == "train" else x[1::2]  # interleaved slices: no slice in both
        y = torch.zeros(len(x), dtype=torch.long)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if size is not None and x.shape[-1] != size:
        x = vdata.resize(x, size, mode="area" if size < x.shape[-1] else "bicubic").clamp(0, 1)
    return x.contiguous(), y.contiguous()


def build_net(task: str, in_channels: int = 1, num_classes: int = 10, **net_kwargs: Any) -> nn.Module:
    """The network a task trains (a :class:`UNet` or, for ``classifier``, a :class:`Classifier`)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if task == "classifier":
        return Classifier(ClassifierConfig(in_channels=in_channels, num_classes=num_classes, **net_kwargs))
    extra = {"num_classes": num_classes} if task == "generate" else {}
    if task in ("superres", "superres-regression"):
        extra["cond_channels"] = in_channels
    if task == "superres":  # stable at high noise, where SR sampling starts (see superres.py)
        extra["prediction"] = "x0" if net_kwargs.get("residual") else "v"
    if task == "palette":  # the known image and the mask (palette.py); v: stable at high noise
        extra.update(cond_channels=in_channels + 1, prediction="v")
    return UNet(UNetConfig(in_channels=in_channels, **{**extra, **net_kwargs}))


def make_loss(task: str, process, *, factor: int = 4, p_uncond: float = 0.1, noise: str = "gaussian",
              simplex: dict | None = None, prediction: str = "eps",
              residual: bool = False) -> Callable[[nn.Module, Any, torch.Generator], Tensor]:
    """``loss_fn(net, batch, generator) -> scalar`` for :class:`polydiff.core.training.Trainer`;
    ``batch`` is ``[images, labels]``. ``prediction``/``residual`` are the U-Net config's (the
    loss gets them here because under DDP ``net`` is a wrapper without the config)."""
    from polydiff.core.losses import dsm_loss

    from .anomaly import anoddpm_loss, noise_sampler
    from .generate import generate_loss
    from .palette import palette_loss
    from .superres import regression_loss, superres_loss
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if noise not in ("gaussian", "simplex"):
        raise ValueError(f"noise must be 'gaussian' or 'simplex', got {noise!r}")
    if task != "anomaly" and (noise != "gaussian" or simplex):
        what = f"noise={noise!r}" if noise != "gaussian" else f"simplex={simplex!r}"
        raise ValueError(f"noise and simplex apply only to task='anomaly' (AnoDDPM); task {task!r} trains "
                         f"with Gaussian noise, got {what}")
    if task == "anomaly" and simplex and noise != "simplex":
        raise ValueError(f"simplex options need noise='simplex', got noise={noise!r} with simplex={simplex!r}")
    if task == "anomaly" and prediction != "eps":
        raise ValueError(f"the anomaly task trains eps-prediction (AnoDDPM), got prediction={prediction!r}")

    def loss_fn(net, batch, g):
        x, y = batch
        if task == "classifier":
            return F.cross_entropy(net(x), y)
        if task == "generate":
            return generate_loss(net, process, x, y, p_uncond=p_uncond, prediction=prediction, generator=g)
        if task == "superres":
            return superres_loss(net, process, x, factor, prediction=prediction, residual=residual, generator=g)
        if task == "superres-regression":
            return regression_loss(net, x, factor)
        if task == "palette":
            return palette_loss(net, process, x, prediction=prediction, generator=g)
        if task == "anomaly" and noise == "simplex":
            return anoddpm_loss(net, process, x, noise_sampler("simplex", generator=g, **(simplex or {})), generator=g)
        return dsm_loss(net, process, vdata.to_model_range(x), prediction=prediction, generator=g).mean()
    return loss_fn


def _factory(**cfg: Any) -> nn.Module:
    kind = cfg.pop("class")
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    if kind == "UNet":
        return UNet(UNetConfig(**cfg))
    if kind == "Classifier":
        return Classifier(ClassifierConfig(**cfg))
    raise ValueError(f"unknown network class {kind!r}")


def train(task: str, images: Tensor, labels: Tensor, *, steps: int, batch_size: int = 64, lr: float = 2e-4,
          net_kwargs: dict | None = None, out_dir: str | pathlib.Path | None = None, seed: int = 0,
          ema_decay: float | None = 0.999, factor: int = 4, p_uncond: float = 0.1,
          noise: str = "gaussian", simplex: dict | None = None, device: str = "cpu",
          log_every: int = 50, num_classes: int = 10, resume: bool = False,
          ckpt_every: int = 0,
          eval_fn: Callable[[nn.Module, int], dict | None] | None = None,
          eval_every: int = 0) -> tuple[nn.Module, Any]:
    """Train a task's network on ``images``/``labels`` and return ``(net, process)``.

    The returned net is the EMA copy (or the raw net without EMA) in eval mode. With
    ``out_dir`` the run is checkpointed there every ``ckpt_every`` steps (0: only at the end;
    the command line's default is ``steps // 10``) as safetensors + JSON; ``resume=True``
    continues it, also with a larger ``steps`` (the warm-up is read from the checkpoint, not
    re-derived). The bench's cache takes a run directory with ``latest`` as finished, hence
    the library default 0. ``eval_fn(net, step) -> dict`` runs every ``eval_every`` steps on
    the EMA network (a learning curve); its values land in the run's metrics log.
    """
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"eval_fn must be callable, got {type(eval_fn).__name__}")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
        raise ValueError(f"eval_every must be an int >= 0, got {eval_every!r}")
    from polydiff.core.training import TrainConfig, Trainer, resume_derived
    vdata.check_images(images)
    if (not isinstance(labels, Tensor) or labels.shape != (images.shape[0],) or labels.is_floating_point()
            or labels.dtype == torch.bool):
        raise ValueError(f"labels must be integer class ids of shape [{images.shape[0]}], got "
                         f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}")
    if task in ("generate", "classifier") and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (num_classes={num_classes}), "
                         f"got values in [{int(labels.min())}, {int(labels.max())}]")
    process = default_process()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = build_net(task, images.shape[1], num_classes, **(net_kwargs or {}))
    cfg = TrainConfig(steps=steps, batch_size=min(batch_size, len(images)), lr=lr, seed=seed,
                      ema_decay=None if task == "classifier" else ema_decay, device=device,
                      ckpt_dir=None if out_dir is None else str(out_dir), log_every=log_every,
                      warmup_steps=min(100, steps // 10), ckpt_every=ckpt_every,
                      eval_every=eval_every)
    if resume:
        cfg = resume_derived(cfg)
    net_config = {"class": type(net).__name__, **dataclasses.asdict(net.config)}
    extra = {"task": task, "process": PROCESS, "factor": factor, "noise": noise,
             "simplex": simplex or {}, "image_shape": list(images.shape[1:])}
    extra = {k: (list(v) if isinstance(v, tuple) else v) for k, v in extra.items()}
    pred = {"prediction": net.config.prediction, "residual": net.config.residual} if isinstance(net, UNet) else {}
    trainer = Trainer(cfg, net, make_loss(task, process, factor=factor, p_uncond=p_uncond, noise=noise,
                                          simplex=simplex, **pred),
                      torch.utils.data.TensorDataset(images, labels), net_config=_jsonable(net_config),
                      extra=_jsonable(extra), eval_fn=eval_fn)
    trainer.fit(resume=resume)
    out = trainer.ema if trainer.ema is not None else trainer.net
    return out.eval(), process


def _jsonable(d: dict) -> dict:
    import json
    return json.loads(json.dumps(d, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def load_trained(out_dir: str | pathlib.Path, device: str = "cpu") -> tuple[nn.Module, Any, dict]:
    """Load a run written by :func:`train`: ``(net, process, extra)`` (no unpickling)."""
    from polydiff.core.training import load_for_sampling
    net, _, extra = load_for_sampling(out_dir, _factory, device=device)
    return net, default_process(), extra


def main(argv: list[str] | None = None) -> int:
    from polydiff.core.training import train_parser
    p = train_parser("vision", __doc__, steps=2000, batch_size=64, lr=2e-4)
    p.add_argument("--task", default="generate", choices=TASKS,
                   help="what to train (default: generate, the class-conditional CFG U-Net)")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--data-path", default=None, help="folder with the dataset's files (optional)")
    p.add_argument("--size", type=int, default=None, help="resize images to size x size")
    p.add_argument("--limit", type=int, default=None, help="use the first N training images")
    p.add_argument("--base", type=int, default=32)
    p.add_argument("--mults", type=int, nargs="+", default=[1, 2, 2])
    p.add_argument("--attention-levels", type=int, nargs="*", default=[2])
    p.add_argument("--factor", type=int, default=4, help="super-resolution factor")
    p.add_argument("--p-uncond", type=float, default=0.1, help="CFG label dropout")
    p.add_argument("--noise", choices=("gaussian", "simplex"), default="gaussian")
    p.add_argument("--normal-class", type=int, default=None, help="anomaly: train on this class only")
    a = p.parse_args(argv)
    classes = (a.normal_class,) if a.normal_class is not None else None
    x, y = load_images(a.dataset, "train", size=a.size, limit=a.limit, classes=classes, path=a.data_path)
    if a.task == "classifier":
        kw = {}
    else:
        levels = tuple(lv for lv in a.attention_levels if lv < len(a.mults))
        kw = {"base": a.base, "mults": tuple(a.mults), "attention_levels": levels}
    train(a.task, x, y, steps=a.steps, batch_size=a.batch_size, lr=a.lr, net_kwargs=kw, out_dir=a.out,
          seed=a.seed, factor=a.factor, p_uncond=a.p_uncond, noise=a.noise, device=a.device,
          num_classes=int(y.max()) + 1 if a.task in ("generate", "classifier") else 10, resume=a.resume,
          ckpt_every=max(1, a.steps // 10) if a.ckpt_every is None else a.ckpt_every)
    from polydiff.core.training import is_main_process
    if is_main_process():
        print(f"saved to {a.out}")
    return 0


if __name__ == "__main__":
    run_script(main)
