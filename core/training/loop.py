"""One training loop for every (network, loss, dataset) of polydiff.

    cfg = TrainConfig(steps=10_000, batch_size=128, lr=2e-4, ckpt_dir="runs/x", ckpt_every=1000)
    loss_fn = lambda net, batch, g: pc.losses.dsm_loss(net, proc, batch, generator=g).mean()
    trainer = Trainer(cfg, net, loss_fn, dataset, net_config={"width": 64})
    history = trainer.fit(resume=True)       # torchrun --nproc_per_node=N works unchanged

Each optimizer step: ``grad_accum`` micro-batches per rank (the data order of
:mod:`.data`), ``loss_fn(net, batch, generator)`` under optional bf16 autocast, mean
gradient over the global batch (DDP all-reduce), global-norm clipping, AdamW with warm-up
and a constant/cosine schedule, an EMA update. The ``generator`` handed to ``loss_fn`` is
reseeded for every micro-batch from ``(seed, step, chunk)``, so the noise a sample gets does
not depend on the number of ranks and resuming needs no generator state. SIGTERM and SIGINT
(preemption, Ctrl-C) stop the loop after the current step with that step checkpointed
(:mod:`.preempt`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import check_writable, latest_checkpoint
from .config import TrainConfig
from .data import DataOrder, dataset_len, derive_seed, iter_batches, to_device
from .distributed import all_reduce_mean, setup_distributed, wrap_ddp
from .ema import EMA
from .metrics import MetricsLog, plot_loss
from .preempt import StopRequests
from .state import resume_trainer, save_trainer

__all__ = ["Trainer", "lr_factor"]

LossFn = Callable[[nn.Module, Any, torch.Generator], torch.Tensor]


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based): linear warm-up to 1 over
    ``warmup_steps``, then constant, half-cosine to 0 at ``cfg.steps`` (SGDR, Loshchilov &
    Hutter 2017, eq. 5 without restarts), or ``"multistep"``: x0.1 at 75% and again at 90% of
    ``cfg.steps`` (CSDI's schedule, Tashiro et al. 2021, App. E)."""
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    if cfg.lr_schedule == "multistep" and step >= cfg.warmup_steps:
        return 0.1 ** ((step >= int(0.75 * cfg.steps)) + (step >= int(0.9 * cfg.steps)))
    if cfg.lr_schedule == "constant" or step < cfg.warmup_steps:
        return warm
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    """Trains ``net`` by minimising ``loss_fn`` over ``dataset``.

    Args:
        cfg: the :class:`TrainConfig`.
        net: the raw network; moved to the configured device. In a torchrun run the
            ``net`` handed to ``loss_fn`` is its ``DistributedDataParallel`` wrapper: calls
            go through DDP, attribute reads (``net.config``, ``net.embed_tokens``) fall
            through to the raw network (:func:`.distributed.unwrap` gives it explicitly).
        loss_fn: ``loss_fn(net, batch, generator) -> scalar tensor`` (mean over the
            micro-batch); draw all randomness from ``generator``.
        dataset: a tensor (indexed along dim 0) or a map-style ``Dataset``.
        net_config: JSON-serialisable constructor arguments of ``net``; saved with every
            checkpoint and compared on resume / load.
        eval_fn: ``eval_fn(net, step) -> dict[str, float] | None`` every ``eval_every`` steps,
            on every rank, with the EMA network (raw one without EMA) in eval mode.
        sample_fn: ``sample_fn(net, step, out_dir) -> dict | None`` every ``sample_every``
            steps, same network; ``out_dir`` is ``ckpt_dir/samples`` or ``None``.
        collate_fn: batches list of dataset items (default ``default_collate``).
        extra: JSON saved with checkpoints (e.g. the process configuration) and returned by
            :func:`load_for_sampling`.
        find_unused_parameters: passed to ``DistributedDataParallel``.

    Attributes:
        net, ema (EMA copy, ``None`` if disabled), optimizer, scheduler, step, history.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        net: nn.Module,
        loss_fn: LossFn,
        dataset: Any,
        *,
        net_config: dict[str, Any],
        eval_fn: Callable | None = None,
        sample_fn: Callable | None = None,
        collate_fn: Callable | None = None,
        extra: dict[str, Any] | None = None,
        find_unused_parameters: bool = False,
    ):
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"Trainer: cfg must be a TrainConfig, got {type(cfg).__name__}")
        if not isinstance(net, nn.Module):
            raise TypeError(f"Trainer: net must be an nn.Module, got {type(net).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"Trainer: loss_fn must be callable as loss_fn(net, batch, generator), "
                            f"got {type(loss_fn).__name__}")
        for name, fn in (
            ("loss_fn", loss_fn),
            ("eval_fn", eval_fn),
            ("sample_fn", sample_fn),
            ("collate_fn", collate_fn),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"Trainer: {name} must be callable, got {type(fn).__name__}")
        for name, obj in (("net_config", net_config), ("extra", extra or {})):
            if not isinstance(obj, dict):
                raise TypeError(f"Trainer: {name} must be a dict, got {type(obj).__name__}")
            try:
                json.dumps(obj)
            except TypeError as e:
                raise TypeError(f"Trainer: {name} is not JSON-serialisable ({e})") from None
        if not any(p.requires_grad for p in net.parameters()):
            raise ValueError("Trainer: net has no trainable parameters")
        self.cfg, self.loss_fn, self.dataset = cfg, loss_fn, dataset
        self.eval_fn, self.sample_fn, self.collate_fn = eval_fn, sample_fn, collate_fn
        self.net_config, self.extra = dict(net_config), dict(extra or {})
        self.dist = setup_distributed(cfg.device)
        self.device = self.dist.device
        self.net = net.to(self.device)
        self.order = DataOrder(
            dataset_len(dataset),
            cfg.batch_size,
            cfg.seed,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            grad_accum=cfg.grad_accum,
        )
        self.model: nn.Module = self.net
        if self.dist.is_distributed:  # attribute reads fall through to the raw network
            self.model = wrap_ddp(self.net, self.device, find_unused_parameters)
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, self.cfg)
        )
        # after the DDP wrap, which has broadcast rank 0's weights
        self._ema = (
            EMA(self.net, cfg.ema_decay, cfg.ema_warmup, cfg.ema_power)
            if cfg.ema_decay is not None
            else None
        )
        self.step = 0
        self._last_lr = cfg.lr
        self.history: list[dict[str, Any]] = []
        self.run_dir = Path(cfg.ckpt_dir) if cfg.ckpt_dir is not None else None
        self.metrics = MetricsLog(self.run_dir, enabled=self.dist.is_main)
        self._gen = torch.Generator(device=self.device)
        self._bf16 = cfg.precision == "bf16" and (
            self.device.type == "cpu" or torch.cuda.is_bf16_supported()
        )
        if cfg.precision == "bf16" and not self._bf16:
            warnings.warn(f"bf16 autocast is not supported on {self.device}; training in fp32")

    @property
    def ema(self) -> nn.Module | None:
        """The EMA copy of the network (eval mode), or ``None`` without EMA."""
        return self._ema.module if self._ema is not None else None

    # --- one step -------------------------------------------------------------------------
    def _train_step(self, step: int, batches) -> tuple[torch.Tensor, torch.Tensor | None]:
        cfg = self.cfg
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
            if self._bf16
            else nullcontext()
        )
        for k in range(cfg.grad_accum):
            batch = to_device(next(batches), self.device)
            self._gen.manual_seed(derive_seed(cfg.seed, 1, step, self.order.chunk_index(k)))
            last = k == cfg.grad_accum - 1
            sync = (
                self.model.no_sync() if (self.dist.is_distributed and not last) else nullcontext()
            )
            with sync:
                with autocast:
                    loss = self.loss_fn(self.model, batch, self._gen)
                if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                    got = (
                        tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
                    )
                    raise ValueError(f"loss_fn must return a scalar tensor, got {got}")
                (loss / cfg.grad_accum if cfg.grad_accum > 1 else loss).backward()
            total += loss.detach().float()
        params = self.optimizer.param_groups[0]["params"]
        # the norm of the (all-reduced) gradients: the same on every rank, so every rank stops
        # together; max_norm=inf measures without clipping
        grad_norm = torch.nn.utils.clip_grad_norm_(
            params, cfg.grad_clip if cfg.grad_clip is not None else float("inf")
        )
        if not (torch.isfinite(total) and torch.isfinite(grad_norm)):
            what = "loss" if not torch.isfinite(total) else "gradient"
            raise FloatingPointError(
                f"training stopped at step {step + 1} (batch {step * cfg.grad_accum}"
                f"{f'..{(step + 1) * cfg.grad_accum - 1}' if cfg.grad_accum > 1 else ''} of the data "
                f"order): non-finite {what} (loss {float(total):.4g}, gradient norm "
                f"{float(grad_norm):.4g}); the optimizer step was not applied: the weights are "
                f"those after step {step}, and no checkpoint holds a later state"
            )
        if cfg.grad_clip is None:
            grad_norm = None  # logged only when clipping, as before
        self._last_lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        if self._ema is not None:
            self._ema.update(self.net)
        return total / cfg.grad_accum, grad_norm

    # --- the loop -------------------------------------------------------------------------
    def fit(self, resume: bool = False, max_steps: int | None = None) -> list[dict[str, Any]]:
        """Train until ``cfg.steps`` (or ``max_steps``, to stop early as if interrupted).

        Args:
            resume: continue from ``ckpt_dir``'s latest checkpoint if there is one.
            max_steps: stop after this many total steps (checkpointing there).

        A SIGTERM or SIGINT during the loop stops it after the current optimizer step, saves
        that step (with ``ckpt_dir``) and then re-raises the signal (:mod:`.preempt`).

        Returns:
            ``history``: one dict per log step (``step, epoch, loss, lr, grad_norm,
            samples_per_s``) and per eval/sample call (``eval/...`` keys).
        """
        cfg = self.cfg
        if not isinstance(resume, bool):
            raise TypeError(f"fit: resume must be a bool, got {type(resume).__name__}")
        if max_steps is not None:
            from ..validate import check_int

            max_steps = check_int(max_steps, "max_steps", low=1)
        if resume:
            self.resume()
        elif self.step == 0 and self.run_dir is not None and self.dist.is_main:
            if latest_checkpoint(self.run_dir) is not None:
                warnings.warn(
                    f"{self.run_dir} already holds checkpoints; starting from step 0 "
                    "without resume=True will replace them"
                )
            self.metrics.truncate_after(0)  # a fresh trajectory
        stop = cfg.steps if max_steps is None else min(cfg.steps, max_steps)
        if self.step >= stop:
            return self.history
        if self.run_dir is not None and self.dist.is_main:
            check_writable(self.run_dir)  # before the first step, not after hours of training
        batches = iter(
            iter_batches(
                self.dataset,
                self.order,
                self.step,
                stop,
                collate_fn=self.collate_fn,
                num_workers=cfg.num_workers,
                pin_memory=self.device.type == "cuda",
            )
        )
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc="train",
            unit="step",
            # TQDM_DISABLE: tqdm's own switch (`polydiff bench --no-progress` sets it)
            disable=not self.dist.is_main or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true"),
            dynamic_ncols=True,
        )
        self.model.train()
        with StopRequests() as stops:
            # a signal during the last step's save is not lost: it ends the process below
            signum = self._steps(stop, batches, bar, stops) or stops.signum
        bar.close()
        if signum:  # checkpointed: now end as the signal would have ended the run
            if self.dist.is_main:
                where = f"checkpoint of step {self.step} in {self.run_dir}" if self.run_dir else "no ckpt_dir"
                print(f"{signal.Signals(signum).name} received: stopped after step {self.step} "
                      f"({where}; resume=True continues)", file=sys.stderr, flush=True)
            StopRequests.reraise(signum)
        if cfg.plot and self.run_dir is not None and self.dist.is_main:
            plot_loss(self.metrics.read(), self.run_dir)
        return self.history

    def _steps(self, stop: int, batches, bar, stops: StopRequests) -> int:
        """The steps from ``self.step`` to ``stop``; returns the stop signal that ended them
        early, with the step reached checkpointed (0: ran to ``stop``)."""
        cfg = self.cfg
        window, n_window, t0 = torch.zeros((), device=self.device), 0, time.perf_counter()
        start_time = time.perf_counter()
        for step in range(self.step, stop):
            loss, grad_norm = self._train_step(step, batches)
            window += loss
            n_window += 1
            self.step = step + 1
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == stop:
                rec = self._log(
                    window / n_window,
                    grad_norm,
                    n_window,
                    time.perf_counter() - t0,
                    time.perf_counter() - start_time,
                )
                bar.set_postfix(loss=f"{rec['loss']:.4g}", sps=f"{rec['samples_per_s']:.1f}")
                window, n_window, t0 = torch.zeros((), device=self.device), 0, time.perf_counter()
            if cfg.eval_every and self.eval_fn and self.step % cfg.eval_every == 0:
                self._callback(self.eval_fn, "eval")
            if cfg.sample_every and self.sample_fn and self.step % cfg.sample_every == 0:
                self._callback(self.sample_fn, "sample")
            signum = stops.agreed()
            if self.run_dir is not None and (
                signum or (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or self.step == stop
            ):
                self.save()
            if signum:
                return signum
        return 0

    def _log(self, loss: torch.Tensor, grad_norm, n_steps: int, dt: float, elapsed: float) -> dict:
        loss_v = float(all_reduce_mean(loss))
        if not math.isfinite(loss_v):
            raise FloatingPointError(f"training loss is {loss_v} at step {self.step}")
        rec = {
            "step": self.step,
            "epoch": self.order.position(self.step - 1)["epoch"],
            "loss": loss_v,
            "lr": self._last_lr,
            "grad_norm": float(grad_norm) if grad_norm is not None else None,
            "samples_per_s": n_steps * self.cfg.batch_size / max(dt, 1e-9),
            "elapsed_s": elapsed,
        }
        self.history.append(rec)
        self.metrics.write(rec)
        return rec

    def _callback(self, fn: Callable, kind: str) -> None:
        module = self.ema if self.ema is not None else self.net
        was_training = module.training
        module.eval()
        try:
            if kind == "sample":
                out_dir = self.run_dir / "samples" if self.run_dir is not None else None
                if out_dir is not None and self.dist.is_main:
                    out_dir.mkdir(parents=True, exist_ok=True)
                out = fn(module, self.step, out_dir)
            else:
                out = fn(module, self.step)
        finally:
            module.train(was_training)
        if out is not None:
            if not isinstance(out, dict):
                raise TypeError(
                    f"{kind}_fn must return a dict of floats or None, got {type(out).__name__}"
                )
            rec = {"step": self.step, **{f"{kind}/{k}": float(v) for k, v in out.items()}}
            self.history.append(rec)
            self.metrics.write(rec)

    # --- checkpoints ----------------------------------------------------------------------
    def save(self) -> Path | None:
        """Checkpoint the current step (collective: call on every rank). Returns the path on
        rank 0. See :mod:`.state` for what is saved."""
        return save_trainer(self)

    def resume(self, path: str | Path | None = None) -> bool:
        """Restore weights, EMA, optimizer, scheduler, step, data position and RNG streams
        from a checkpoint (default: the run's latest). Returns whether one was found."""
        return resume_trainer(self, path)
