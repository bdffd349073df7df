"""Discrete-state diffusion over tokens: masked (absorbing) and uniform corruption.

Continuous time ``t in [0, 1]`` (data at 0) and a keep probability ``alpha(t)`` with
``alpha(0) = 1``, ``alpha(1) = 0``:

- ``linear``: ``alpha(t) = 1 - t`` (MDLM's log-linear noise, Sahoo et al. 2024, Sec. 3);
- ``cosine``: ``alpha(t) = 1 - cos(pi/2 (1 - t))`` (Shi et al. 2024, MD4, Table 1; MaskGIT's
  mask ratio).

:class:`MaskedDiffusion` (Austin et al. 2021, D3PM-absorbing; Sahoo et al. 2024, MDLM):
``q(z_t | x) = alpha(t) [z_t = x] + (1 - alpha(t)) [z_t = mask]`` per token. Its loss
:func:`mdlm_loss` is MDLM's continuous-time NELBO (eq. 10)
``E_t[-alpha'(t) / (1 - alpha(t)) sum_{l: z_t^l = mask} -log p(x^l | z_t)]`` with the SUBS
parameterisation (mask logit removed, unmasked tokens carried over), and
:func:`masked_sample` is MDLM's ancestral sampler (eq. 7): a masked token is revealed between
``s > u`` with probability ``(alpha(u) - alpha(s)) / (1 - alpha(s))``, revealed tokens never change.

:class:`UniformDiffusion` (Austin et al. 2021, D3PM-uniform, in continuous time):
``q(z_t | x) = alpha(t) onehot(x) + (1 - alpha(t)) / V``, with its exact posterior.

The token model is ``model(z_t [B, L] long, t [B] float, **cond) -> logits [B, L, V]``;
``vocab_size`` counts every id the model scores, the mask id included.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from .sample_checks import check_cond
from .validate import check_device, check_generator, check_int, check_number, check_shape, describe

__all__ = ["TOKEN_SCHEDULES", "MaskedDiffusion", "UniformDiffusion", "masked_sample"]

TOKEN_SCHEDULES = ("linear", "cosine")


class _TokenSchedule:
    """Keep probability ``alpha(t)`` and its derivative (shared by both processes)."""

    t_min: float = 0.0
    t_max: float = 1.0

    def __init__(self, vocab_size: int, schedule: str = "linear"):
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
        if schedule not in TOKEN_SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; expected one of {TOKEN_SCHEDULES}")
        self.vocab_size, self.schedule = vocab_size, schedule

    def alpha(self, t: Tensor) -> Tensor:
        """Probability that a token is still uncorrupted at time ``t`` (float64); ``t`` in
        ``[0, 1]`` is checked on the CPU only (no device sync in the sampling loop)."""
        t = self._unit_t(t)
        if self.schedule == "linear":
            return 1.0 - t
        return 1.0 - torch.cos(0.5 * math.pi * (1.0 - t))

    def dalpha(self, t: Tensor) -> Tensor:
        """``d alpha / dt`` (float64; ``t`` checked like in :meth:`alpha`)."""
        t = self._unit_t(t)
        if self.schedule == "linear":
            return -torch.ones_like(t)
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * (1.0 - t))

    @staticmethod
    def _unit_t(t, name: str = "t") -> Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        if t.device.type == "cpu" and not bool(((t >= 0) & (t <= 1)).all()):
            raise ValueError(f"{name} must lie in [0, 1], got values in [{float(t.min()):g}, {float(t.max()):g}]")
        return t

    def _check_tokens(self, x: Tensor, name: str = "x") -> None:
        if not isinstance(x, Tensor) or x.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"{name} must be an integer (long) tensor of token ids")
        if x.ndim != 2 or x.numel() == 0:
            raise ValueError(f"{name} must have shape [B, L] with B, L >= 1, got {tuple(x.shape)}")
        if (x < 0).any() or (x >= self.vocab_size).any():
            raise ValueError(f"{name} has token ids outside [0, {self.vocab_size})")

    def _time(self, t, batch: int, device, name: str = "t") -> Tensor:
        if isinstance(t, (bool, str)):
            raise TypeError(f"{name} must be a number or a tensor, got {describe(t)}")
        t = torch.as_tensor(t, dtype=torch.float64, device=device)
        if t.ndim == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"{name} must be a scalar or of shape [{batch}], got {tuple(t.shape)}")
        if not torch.isfinite(t).all() or (t < 0).any() or (t > 1).any():
            raise ValueError(f"{name} must lie in [0, 1], got {t.tolist() if t.numel() <= 8 else 'values outside'}")
        return t


def _uniform(shape, generator, device) -> Tensor:
    """``U[0, 1)`` draws; ``generator`` may be a list with one generator per row of ``shape[0]``."""
    if isinstance(generator, (list, tuple)):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if len(generator) != shape[0]:
            raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]}")
        return torch.stack([_uniform(shape[1:], g, device) for g in generator])
    dev = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=dev, dtype=torch.float64).to(device)


class MaskedDiffusion(_TokenSchedule):
    """Absorbing-state (masked) diffusion (D3PM-absorbing / MDLM).

    Args:
        vocab_size: number of token ids the model scores (the mask id included).
        mask_id: the id of the mask token, in ``[0, vocab_size)``.
        schedule: ``linear`` or ``cosine`` (see the module docstring).
        t_eps: smallest training time (the NELBO weight ``-alpha'/(1-alpha)`` diverges at 0).
    """

    def __init__(self, vocab_size: int, mask_id: int, schedule: str = "linear", *, t_eps: float = 1e-3):
        super().__init__(vocab_size, schedule)
        if not isinstance(mask_id, int) or not 0 <= mask_id < vocab_size:
            raise ValueError(f"mask_id must be an int in [0, {vocab_size}), got {mask_id!r}")
        if not 0 < t_eps < 1:
            raise ValueError(f"t_eps must lie in (0, 1), got {t_eps}")
        self.mask_id, self.t_eps = mask_id, float(t_eps)

    def marginal_probs(self, x: Tensor, t) -> Tensor:
        """``q(z_t | x)`` as probabilities ``[B, L, V]`` (float64)."""
        self._check_tokens(x)
        a = self.alpha(self._time(t, x.shape[0], x.device))[:, None, None]
        onehot = torch.nn.functional.one_hot(x.long(), self.vocab_size).to(torch.float64)
        mask = torch.zeros(self.vocab_size, dtype=torch.float64, device=x.device)
        mask[self.mask_id] = 1.0
        return a * onehot + (1 - a) * mask

    def sample_zt(self, x: Tensor, t, generator: torch.Generator | None = None,
                  fixed: Tensor | None = None) -> Tensor:
        """Draw ``z_t ~ q(z_t | x)``: each token is masked with probability ``1 - alpha(t)``.

        ``fixed`` (bool ``[B, L]``) marks positions that are never masked (conditioning).
        """
        generator = _checked_generator(generator, x)
        self._check_tokens(x)
        a = self.alpha(self._time(t, x.shape[0], x.device))[:, None]
        drop = _uniform(x.shape, generator, x.device) >= a
        if fixed is not None:
            drop = drop & ~_as_positions(fixed, x)
        return torch.where(drop, torch.full_like(x, self.mask_id), x)

    def loss(self, model: Callable[..., Tensor], x: Tensor, **kw) -> Tensor:
        """MDLM's NELBO per token ``[B]``: :func:`mdlm_loss` on this process."""
        return mdlm_loss(model, self, x, **kw)


class UniformDiffusion(_TokenSchedule):
    """Uniform-noise discrete diffusion (D3PM-uniform, Austin et al. 2021, Sec. 3.1 and App. A.2)."""

    def marginal_probs(self, x: Tensor, t) -> Tensor:
        """``q(z_t | x) = alpha(t) onehot(x) + (1 - alpha(t)) / V`` ``[B, L, V]`` (float64)."""
        self._check_tokens(x)
        a = self.alpha(self._time(t, x.shape[0], x.device))[:, None, None]
        onehot = torch.nn.functional.one_hot(x.long(), self.vocab_size).to(torch.float64)
        return a * onehot + (1 - a) / self.vocab_size

    def sample_zt(self, x: Tensor, t, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``z_t``: keep the token with probability ``alpha(t)``, else a uniform token."""
        generator = _checked_generator(generator, x)
        self._check_tokens(x)
        a = self.alpha(self._time(t, x.shape[0], x.device))[:, None]
        resample = _uniform(x.shape, generator, x.device) >= a
        rand = (_uniform(x.shape, generator, x.device) * self.vocab_size).long().clamp(max=self.vocab_size - 1)
        return torch.where(resample, rand, x.long())

    def posterior_probs(self, z_t: Tensor, x: Tensor, s, t) -> Tensor:
        """``q(z_s | z_t, x)`` for ``s < t`` ``[B, L, V]`` (Austin et al. 2021, eq. 3), float64.

        Bayes: ``q(z_t | z_s) q(z_s | x) / q(z_t | x)`` with the transition
        ``q(z_t | z_s) = a_ts [z_t = z_s] + (1 - a_ts) / V``, ``a_ts = alpha(t) / alpha(s)``.
        """
        self._check_tokens(z_t, "z_t")
        self._check_tokens(x, "x")
        if z_t.shape != x.shape:
            raise ValueError(f"z_t and x must share one shape [B, L], got {tuple(z_t.shape)} and {tuple(x.shape)}")
        b = z_t.shape[0]
        s, t = self._time(s, b, z_t.device, "s"), self._time(t, b, z_t.device, "t")
        if (s >= t).any():
            raise ValueError("posterior_probs needs s < t")
        a_ts = (self.alpha(t) / self.alpha(s))[:, None, None]
        v = self.vocab_size
        like = a_ts * torch.nn.functional.one_hot(z_t.long(), v).to(torch.float64) + (1 - a_ts) / v
        prior = self.marginal_probs(x, s)
        joint = like * prior
        return joint / joint.sum(-1, keepdim=True)


def mdlm_loss(model: Callable[..., Tensor], process: MaskedDiffusion, x: Tensor, *,
              generator: torch.Generator | None = None, t: Tensor | None = None,
              loss_mask: Tensor | None = None, fixed: Tensor | None = None,
              time_sampling: str = "antithetic", cond: Mapping | None = None) -> Tensor:
    """MDLM's NELBO per token ``[B]`` in nats (Sahoo et al. 2024, eq. 10-11).

    ``model(z_t [B, L] long, t [B] float, **cond) -> logits [B, L, V]``.

    ``sum_l w(t) [z_t^l = mask] (-log p(x^l | z_t))`` divided by the number of counted
    positions, ``w(t) = -alpha'(t) / (1 - alpha(t))``, ``t ~ U[t_eps, 1]`` (``uniform``, or
    ``antithetic`` pairs ``t``, ``1 + t_eps - t``); the ``(1 - t_eps)`` length of the time
    interval is included, so the expectation is the NELBO restricted to ``t >= t_eps``.
    ``loss_mask`` (bool ``[B, L]``) selects the positions that count (e.g. not padding);
    ``fixed`` positions are never masked and never counted (conditioning tokens).
    """
    if not isinstance(process, MaskedDiffusion):
        raise TypeError(f"mdlm_loss needs a MaskedDiffusion process, got {type(process).__name__}")
    process._check_tokens(x)
    if (x == process.mask_id).any():
        raise ValueError("x contains the mask id; training data must be clean tokens")
    if time_sampling not in ("uniform", "antithetic"):
        raise ValueError(f"unknown time_sampling {time_sampling!r}; expected 'uniform' or 'antithetic'")
    check_cond(cond)
    generator = _checked_generator(generator, x)
    b = x.shape[0]
    if t is None:
        u = _uniform(b, generator, x.device)
        if time_sampling == "antithetic":
            h = (b + 1) // 2
            u = torch.cat([u[:h], 1.0 - u[: b - h]])
        t = process.t_eps + (1.0 - process.t_eps) * u
    t = process._time(t, b, x.device)
    if bool((t < process.t_eps).any()):  # the weight -alpha'/(1 - alpha) diverges at t = 0
        raise ValueError(f"t must lie in [t_eps, 1] = [{process.t_eps:g}, 1], got min {float(t.min()):g}")
    counted = torch.ones_like(x, dtype=torch.bool) if loss_mask is None else _as_positions(loss_mask, x, "loss_mask")
    if fixed is not None:
        counted = counted & ~_as_positions(fixed, x, "fixed")
    if not counted.any():
        raise ValueError("loss_mask/fixed leave no position to score")
    z = process.sample_zt(x, t, generator, fixed)
    logits = _call(model, z, t, cond, process.vocab_size)
    logp = _subs_log_probs(logits, process.mask_id)
    nll = -logp.gather(-1, x.long()[..., None]).squeeze(-1)
    masked = (z == process.mask_id) & counted
    w = (-process.dalpha(t) / (1.0 - process.alpha(t))) * (1.0 - process.t_eps)
    per = torch.where(masked, nll, torch.zeros_like(nll)).sum(1)
    return (w.to(per.dtype) * per) / counted.sum(1).clamp_min(1).to(per.dtype)


def _checked_generator(generator, x: Tensor):
    batch = x.shape[0] if isinstance(generator, (list, tuple)) and isinstance(x, Tensor) and x.ndim else None
    return check_generator(generator, "generator", batch=batch)


def _as_positions(m: Tensor, x: Tensor, name: str = "fixed") -> Tensor:
    """A bool position mask ``[B, L]`` (or ``[L]``); a numeric one must hold only 0 and 1."""
    if not isinstance(m, Tensor):
        raise TypeError(f"{name} must be a bool tensor of positions, got {describe(m)}")
    if m.shape == x.shape[1:]:
        m = m.expand_as(x)
    if m.shape != x.shape:
        raise ValueError(f"{name} must have shape {tuple(x.shape)} or [L], got {tuple(m.shape)}")
    if m.dtype != torch.bool and not bool(((m == 0) | (m == 1)).all()):
        raise ValueError(f"{name} must be a bool mask (or hold only 0 and 1), got other values (NaN or fractions)")
    return m.to(device=x.device, dtype=torch.bool)


def _call(model, z: Tensor, t: Tensor, cond, vocab: int) -> Tensor:
    logits = model(z, t.to(torch.float32), **dict(cond or {}))
    if not isinstance(logits, Tensor) or logits.shape != (*z.shape, vocab):
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits of shape {(*z.shape, vocab)}, got {shape}")
    if bool((torch.isnan(logits) | (logits == math.inf)).any()):  # -inf is a valid zero probability
        raise ValueError("model returned NaN or +inf logits (its inputs z_t, t and cond were valid)")
    return logits


def _subs_log_probs(logits: Tensor, mask_id: int) -> Tensor:
    """MDLM's SUBS parameterisation: the mask token gets zero probability."""
    logits = logits.float().clone() if logits.dtype in (torch.float16, torch.bfloat16) else logits.clone()
    logits[..., mask_id] = -math.inf
    return torch.log_softmax(logits, dim=-1)


def masked_sample(model: Callable[..., Tensor], process: MaskedDiffusion, shape: Sequence[int] | None = None,
                  *, steps: int, x: Tensor | None = None, fixed: Tensor | None = None,
                  generator: torch.Generator | Sequence[torch.Generator] | None = None,
                  temperature: float = 1.0,
                  cond: Mapping | None = None, device: torch.device | str | None = None) -> Tensor:
    """Ancestral sampling of masked diffusion (Sahoo et al. 2024, eq. 7; Austin et al. 2021).

    Starts from all-mask ``[B, L]`` (``shape``) or from ``x`` where the ``fixed`` positions
    (default: every position of ``x`` that is not the mask id) hold given tokens (prefix,
    infilling, conditioning); those never change. On the uniform grid ``t_k = 1 - k/steps``
    each still-masked token is revealed with probability ``(alpha(t_{k+1}) - alpha(t_k)) /
    (1 - alpha(t_k))`` as a draw from ``softmax(logits / temperature)`` without the mask
    (``temperature=0``: argmax); revealed tokens are carried over. The last step reveals all.

    Returns the token ids ``[B, L]`` (long).
    """
    if not isinstance(process, MaskedDiffusion):
        raise TypeError(f"masked_sample needs a MaskedDiffusion process, got {type(process).__name__}")
    steps = check_int(steps, "steps", low=1)
    temperature = check_number(temperature, "temperature", low=0.0)
    check_cond(cond)
    device = check_device(device)
    mask_id = process.mask_id
    if shape is not None:
        shape = check_shape(shape, "shape")
        if len(shape) != 2:
            raise ValueError(f"shape must be (B, L): token ids per sample, got {shape}")
        if x is not None and tuple(x.shape) != shape:
            raise ValueError(f"shape {shape} and x {tuple(x.shape)} disagree: give one of them")
    if x is None:
        if shape is None:
            raise ValueError("give shape=(B, L) or x")
        if fixed is not None:
            raise ValueError("fixed positions need their tokens: pass x")
        z = torch.full(tuple(int(s) for s in shape), mask_id, dtype=torch.long, device=device)
        keep = torch.zeros_like(z, dtype=torch.bool)
    else:
        process._check_tokens(x)
        z = x.long().clone().to(device) if device is not None else x.long().clone()
        keep = (z != mask_id) if fixed is None else _as_positions(fixed, z, "fixed")
        if (z[keep] == mask_id).any():
            raise ValueError("fixed positions hold the mask id; give their tokens in x")
        z = torch.where(keep, z, torch.full_like(z, mask_id))
    b = z.shape[0]
    generator = check_generator(generator, "generator", batch=b if isinstance(generator, (list, tuple)) else None)
    grid = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    for k in range(steps):
        s, u = grid[k], grid[k + 1]
        masked = z == mask_id
        if not masked.any():
            break
        ts = torch.full((b,), float(s), dtype=torch.float64, device=z.device)
        logits = _call(model, z, ts, cond, process.vocab_size)
        logp = _subs_log_probs(logits, mask_id).to(torch.float64)
        if temperature == 0:
            tok = logp.argmax(-1)
        else:  # Gumbel-max in float64 (float32 Gumbel noise biases low-probability tokens)
            g = -torch.log(-torch.log(_uniform(logp.shape, generator, z.device).clamp_min(1e-300)))
            tok = (logp / temperature + g).argmax(-1)
        a_s, a_u = process.alpha(s), process.alpha(u)
        p_reveal = float((a_u - a_s) / (1 - a_s)) if k < steps - 1 else 1.0
        reveal = masked & (_uniform(z.shape, generator, z.device) < p_reveal)
        z = torch.where(reveal, tok, z)
    return z
