"""The training configuration: one frozen dataclass, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from ..validate import check_number, describe

__all__ = ["RESUME_FREE_FIELDS", "TrainConfig"]

_SCHEDULES = ("constant", "cosine", "multistep")
_PRECISIONS = ("fp32", "bf16")
_EMA_WARMUPS = ("none", "tf", "power")

# Fields that may change between a run and its resumption: bookkeeping, ``steps`` (to extend
# a finished run; a cosine schedule then stretches to the new end) and ``grad_accum`` (how the
# global batch is cut, e.g. after moving to fewer devices: same optimisation up to rounding).
RESUME_FREE_FIELDS = frozenset(
    {
        "steps",
        "grad_accum",
        "ckpt_dir",
        "ckpt_every",
        "keep_last",
        "log_every",
        "eval_every",
        "sample_every",
        "num_workers",
        "plot",
        "device",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run.

    ``batch_size`` is the *global* batch of one optimizer step: it is split over the
    ``world_size`` data-parallel ranks and then over ``grad_accum`` micro-batches, so the
    per-call batch seen by ``loss_fn`` is ``batch_size // (world_size * grad_accum)``.
    Changing the number of ranks or accumulation steps therefore leaves the optimisation
    unchanged up to float rounding.

    Attributes:
        steps: number of optimizer steps of the whole run.
        batch_size: global samples per optimizer step.
        lr: peak learning rate of AdamW (Loshchilov & Hutter 2019).
        weight_decay: decoupled weight decay of AdamW.
        betas: Adam moment decay rates.
        warmup_steps: linear warm-up ``lr * min(1, (s + 1) / warmup_steps)``.
        lr_schedule: ``"constant"``, ``"cosine"`` (SGDR half cosine to 0 after warm-up,
            Loshchilov & Hutter 2017) or ``"multistep"`` (x0.1 at 75% and 90% of ``steps``, CSDI).
        grad_clip: clip the global gradient L2 norm to this value; ``None`` disables.
        grad_accum: micro-batches accumulated per optimizer step.
        ema_decay: EMA decay of the weights (0.9999 in DDPM, Ho et al. 2020, App. B);
            ``None`` disables the EMA copy.
        ema_warmup: ``"tf"``: ``decay_t = min(decay, (1 + t) / (10 + t))`` for update
            ``t = 1, 2, ...`` (TensorFlow ``ExponentialMovingAverage(num_updates=t)`` as in
            score-SDE's ``models/ema.py`` and LDM's ``LitEma``); ``"power"``:
            ``decay_t = min(decay, 1 - t^(-ema_power))`` (the ``inv_gamma=1`` warm-up of
            diffusers' ``EMAModel``); ``"none"``: constant ``decay``. See :mod:`.ema`.
        ema_power: exponent of the ``"power"`` warm-up (2/3 for runs of ~1M steps).
        precision: ``"fp32"`` or ``"bf16"`` (autocast of the loss computation where the device
            supports it; weights, optimizer and EMA stay in float32).
        seed: seeds the data order and the per-micro-batch loss generators.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``; under torchrun ``"cuda"`` means
            ``cuda:LOCAL_RANK``.
        ckpt_dir: run directory (checkpoints ``step_XXXXXXXX/``, ``latest``, metrics);
            ``None`` writes nothing.
        ckpt_every: checkpoint period in steps (0: only at the end of ``fit``).
        keep_last: number of checkpoints kept.
        log_every: logging period in steps (loss, lr, grad norm, samples/s).
        eval_every: period of ``eval_fn`` calls (0: never).
        sample_every: period of ``sample_fn`` calls (0: never).
        num_workers: DataLoader worker processes (0: load in the training process).
        plot: write ``loss.csv`` and ``loss.png`` into ``ckpt_dir`` at the end of ``fit``.
    """

    steps: int
    batch_size: int
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    lr_schedule: str = "constant"
    grad_clip: float | None = 1.0
    grad_accum: int = 1
    ema_decay: float | None = 0.9999
    ema_warmup: str = "tf"
    ema_power: float = 2.0 / 3.0
    precision: str = "fp32"
    seed: int = 0
    device: str = "cpu"
    ckpt_dir: str | None = None
    ckpt_every: int = 0
    keep_last: int = 3
    log_every: int = 10
    eval_every: int = 0
    sample_every: int = 0
    num_workers: int = 0
    plot: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.betas, (str, bytes)) or not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise TypeError(f"TrainConfig.betas must be two numbers (beta1, beta2), got {describe(self.betas)}")
        betas = tuple(check_number(b, f"TrainConfig.betas[{i}]", low=0.0, high=1.0, high_open=True)
                      for i, b in enumerate(self.betas))
        object.__setattr__(self, "betas", betas)
        if self.ckpt_dir is not None:
            if not isinstance(self.ckpt_dir, (str, os.PathLike)):
                raise TypeError(f"TrainConfig.ckpt_dir must be a path (str or os.PathLike) or None, "
                                f"got {describe(self.ckpt_dir)}")
            object.__setattr__(self, "ckpt_dir", str(self.ckpt_dir))
        self._validate()

    def _validate(self) -> None:
        def pos_int(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"TrainConfig.{name} must be an int, got {type(v).__name__}")
            if v < 0 or (v == 0 and not allow_zero):
                raise ValueError(
                    f"TrainConfig.{name} must be {'>= 0' if allow_zero else '> 0'}, got {v}"
                )

        for name in ("steps", "batch_size", "grad_accum", "keep_last", "log_every"):
            pos_int(name)
        for name in ("warmup_steps", "ckpt_every", "eval_every", "sample_every", "num_workers"):
            pos_int(name, allow_zero=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative int, got {self.seed!r}")
        # AdamW moves each parameter by about lr per step: beyond 1 every step outgrows the
        # weights' own scale
        check_number(self.lr, "TrainConfig.lr", low=0.0, high=1.0, low_open=True)
        check_number(self.weight_decay, "TrainConfig.weight_decay", low=0.0)
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(
                f"TrainConfig.lr_schedule must be one of {_SCHEDULES}, got {self.lr_schedule!r}"
            )
        if self.grad_clip is not None:
            check_number(self.grad_clip, "TrainConfig.grad_clip", low=0.0, low_open=True)
        if self.ema_decay is not None:
            check_number(self.ema_decay, "TrainConfig.ema_decay", low=0.0, high=1.0, high_open=True)
        if self.ema_warmup not in _EMA_WARMUPS:
            raise ValueError(
                f"TrainConfig.ema_warmup must be one of {_EMA_WARMUPS}, got {self.ema_warmup!r}"
            )
        check_number(self.ema_power, "TrainConfig.ema_power", low=0.0, low_open=True)
        if self.precision not in _PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision must be one of {_PRECISIONS}, got {self.precision!r}"
            )
        if not isinstance(self.device, str) or self.device.split(":")[0] not in (
            "cpu",
            "cuda",
            "auto",
        ):
            raise ValueError(
                f"TrainConfig.device must be 'cpu', 'cuda[:i]' or 'auto', got {self.device!r}"
            )
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"TrainConfig.batch_size={self.batch_size} is not divisible by "
                f"grad_accum={self.grad_accum}"
            )
        if not isinstance(self.plot, bool):
            raise TypeError(f"TrainConfig.plot must be a bool, got {type(self.plot).__name__}")

    # --- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        if not isinstance(d, dict):
            raise TypeError(f"TrainConfig.from_dict needs a dict, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def math_diff(self, other: TrainConfig) -> list[str]:
        """Names of the fields that differ and change the optimisation (not bookkeeping)."""
        a, b = self.to_dict(), other.to_dict()
        return sorted(k for k in a if k not in RESUME_FREE_FIELDS and a[k] != b.get(k))
