"""Gradient modes for attacking a purifier, and expectation over transformation (EOT).

A purifier's reverse solve is a chain ``x_{k+1} = step(x_k, k)`` of ``n`` solver steps
whose randomness is fixed by ``k`` (each step draws its noise from a generator seeded by the
step index and the draw's seed), so every step can be recomputed exactly. On that chain:

``"full"``
    Plain backpropagation through every step (memory grows with ``n`` network graphs).
``"checkpoint"``
    Backpropagation with :func:`torch.utils.checkpoint.checkpoint` around each step: one
    step's graph alive at a time, each step's forward run twice (Chen et al. 2016).
``"adjoint"``
    The *discrete adjoint* (:class:`DiscreteAdjoint`): the forward runs without a graph
    and keeps only ``~sqrt(n)`` states; the backward walks the steps in reverse, recomputes
    each segment's states from its stored state with the same stored noise (same Brownian
    increments), and pulls the adjoint ``a_k = (d step_k / d x_k)^T a_{k+1}`` back one step
    at a time. The gradient is the exact gradient of the discretised solve (unlike the
    continuous adjoint of Chen et al. 2018 / the stochastic adjoint of Li et al. 2020, whose
    backward integrates an approximation of the same trajectory): it equals ``"full"`` to
    round-off, at O(sqrt(n)) stored states and one step graph instead of n graphs.
``"bpda"``
    Backward pass differentiable approximation (Athalye et al. 2018, sec. 4.1): the forward
    is the purifier, the backward is the identity (:class:`BPDAIdentity`).

:class:`EOT` averages a random module's output over ``n`` independent draws, so the gradient
an attack sees is the Monte-Carlo estimate of the expected gradient (Athalye et al. 2018,
sec. 4.3).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from polydiff.core.validate import check_int, describe
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

__all__ = ["EOT", "GRADIENT_MODES", "BPDAIdentity", "DiscreteAdjoint", "bpda", "run_chain"]

GRADIENT_MODES = ("full", "checkpoint", "adjoint", "bpda", "none")

Step = Callable[[Tensor, int], Tensor]


def run_chain(step: Step, x: Tensor, n_steps: int, mode: str = "full",
              params: Sequence[Tensor] = (), segment: int | None = None) -> Tensor:
    """Apply ``x <- step(x, k)`` for ``k = 0..n_steps-1`` with the chosen gradient mode.

    Args:
        step: deterministic given ``(x, k)`` (its noise must be a function of ``k``).
        x: the start state.
        n_steps: number of steps (>= 0).
        mode: one of :data:`GRADIENT_MODES`.
        params: tensors inside ``step`` (network weights) that should receive gradients in
            ``"adjoint"`` mode; other modes find them through autograd.
        segment: adjoint checkpoint spacing (default ``ceil(sqrt(n_steps))``).
    """
    if mode not in GRADIENT_MODES:
        raise ValueError(f"unknown gradient mode {mode!r}; expected one of {GRADIENT_MODES}")
    n_steps = check_int(n_steps, "n_steps", low=0)
    if not callable(step):
        raise TypeError(f"step must be a callable step(x, k), got {describe(step)}")
    if not callable(step):
        raise TypeError(f"step must be a callable step(x, k), got {describe(step)}")
    if segment is not None:
        segment = check_int(segment, "segment", low=1)
    if mode == "none":
        with torch.no_grad():
            for k in range(n_steps):
                x = step(x, k)
        return x
    if mode == "bpda":
        return bpda(lambda z: run_chain(step, z, n_steps, "none"), x)
    if mode == "full":
        for k in range(n_steps):
            x = step(x, k)
        return x
    if mode == "checkpoint":
        for k in range(n_steps):
            x = checkpoint(step, x, k, use_reentrant=False) if torch.is_grad_enabled() else step(x, k)
        return x
    params = tuple(p for p in params if p.requires_grad)
    return DiscreteAdjoint.apply(x, step, n_steps, segment, *params)


class DiscreteAdjoint(torch.autograd.Function):
    """Exact gradient of a step chain by reverse recomputation (see module docstring).

    ``apply(x, step, n_steps, segment, *params) -> x_n``. Memory: ``ceil(n/segment)`` stored
    states plus ``segment`` recomputed states and one step graph during the backward.
    """

    @staticmethod
    def forward(ctx, x: Tensor, step: Step, n_steps: int, segment: int | None, *params: Tensor) -> Tensor:
        seg = segment or max(1, math.ceil(math.sqrt(max(n_steps, 1))))
        if seg < 1:
            raise ValueError(f"segment must be >= 1, got {seg}")
        saved = []  # states at the start of every segment
        with torch.no_grad():
            for k in range(n_steps):
                if k % seg == 0:
                    saved.append(x)
                x = step(x, k)
        ctx.step, ctx.n_steps, ctx.seg, ctx.n_params = step, n_steps, seg, len(params)
        ctx.save_for_backward(*saved, *params)
        return x

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        step, n, seg = ctx.step, ctx.n_steps, ctx.seg
        tensors = ctx.saved_tensors
        params = tensors[len(tensors) - ctx.n_params:] if ctx.n_params else ()
        saved = tensors[: len(tensors) - ctx.n_params]
        want_params = [ctx.needs_input_grad[4 + i] for i in range(ctx.n_params)]
        p_in = [p for p, w in zip(params, want_params) if w]
        p_grads = [torch.zeros_like(p) for p in p_in]
        adj = grad_out
        for s in reversed(range(len(saved))):
            k0, k1 = s * seg, min((s + 1) * seg, n)
            states = [saved[s]]
            with torch.no_grad():  # recompute this segment's states with the stored noise
                for k in range(k0, k1 - 1):
                    states.append(step(states[-1], k))
            for k in reversed(range(k0, k1)):
                with torch.enable_grad():
                    xk = states[k - k0].detach().requires_grad_(True)
                    y = step(xk, k)
                    grads = torch.autograd.grad(y, (xk, *p_in), adj, allow_unused=True)
                adj = grads[0]
                for i, g in enumerate(grads[1:]):
                    if g is not None:
                        p_grads[i] += g
            del states
        out_params, it = [], iter(p_grads)
        for w in want_params:
            out_params.append(next(it) if w else None)
        return (adj, None, None, None, *out_params)


class BPDAIdentity(torch.autograd.Function):
    """``forward = fn(x)`` (no graph), ``backward = identity`` (Athalye et al. 2018, BPDA)."""

    @staticmethod
    def forward(ctx, x: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        with torch.no_grad():
            y = fn(x)
        if y.shape != x.shape:
            raise ValueError(f"BPDA needs fn to keep the shape: {tuple(x.shape)} -> {tuple(y.shape)}")
        return y

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        return grad_out, None


def bpda(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Apply ``fn`` with an identity backward pass (see :class:`BPDAIdentity`)."""
    if not callable(fn):
        raise TypeError(f"fn must be a callable fn(x) -> tensor, got {describe(fn)}")
    return BPDAIdentity.apply(x, fn)


class EOT(nn.Module):
    """Expectation over transformation: ``forward(x) = mean_i module(x)`` over ``n`` draws.

    The module must be random (a purifier draws fresh noise on each call). Averaging the
    outputs averages their gradients, so any gradient attack on ``EOT(m, n)`` follows the
    ``n``-sample estimate of ``grad E[m(x)]`` (Athalye et al. 2018, eq. 3).

    Args:
        module: the random module (e.g. a :class:`~polydiff.robustness.purify.PurifiedClassifier`).
        n: number of draws per forward (>= 1).
        reduce: "logits" averages outputs as they are; "probs" averages softmax
            probabilities and returns their log (a valid logit vector).
        batched: run the ``n`` draws as one call on ``n`` stacked copies of the batch
            (draw-major) instead of ``n`` calls. Same estimate, far fewer kernel launches and
            Python steps; needs a module that treats batch rows independently (a purifier
            draws fresh noise per row; classifiers in eval mode) and ``n`` times the memory
            of one call.
    """

    def __init__(self, module: nn.Module, n: int = 8, reduce: str = "logits", batched: bool = False):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be an nn.Module (a random defence), got {describe(module)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"EOT needs n >= 1 draws, got {n!r}")
        if reduce not in ("logits", "probs"):
            raise ValueError(f"reduce must be 'logits' or 'probs', got {reduce!r}")
        if not isinstance(batched, bool):
            raise TypeError(f"batched must be a bool, got {batched!r}")
        self.module, self.n, self.reduce, self.batched = module, n, reduce, batched

    def _draws(self, x: Tensor):
        if not self.batched:
            return (self._checked(self.module(x), x) for _ in range(self.n))
        out = self.module(x.repeat(self.n, *([1] * (x.ndim - 1))))
        if out.shape[0] != self.n * x.shape[0]:
            raise ValueError(f"batched EOT: module returned {out.shape[0]} rows for {self.n} x {x.shape[0]} inputs")
        return out.unflatten(0, (self.n, x.shape[0])).unbind(0)

    @staticmethod
    def _checked(out, x: Tensor) -> Tensor:
        if not isinstance(out, Tensor) or out.ndim < 1 or out.shape[0] != x.shape[0]:
            got = f"{out.shape[0]} rows" if isinstance(out, Tensor) and out.ndim else describe(out)
            raise ValueError(f"EOT: module must return one row per input ({x.shape[0]}), got {got}")
        return out

    def forward(self, x: Tensor) -> Tensor:
        total = None
        for out in self._draws(x):
            out = out.softmax(-1) if self.reduce == "probs" else out
            total = out if total is None else total + out
        mean = total / self.n
        return mean.clamp_min(1e-12).log() if self.reduce == "probs" else mean
