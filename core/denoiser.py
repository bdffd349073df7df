"""The denoiser a solver talks to: model call + prediction conversion + guidance + projection.

A solver asks only for ``x0_hat`` at a grid point (``den(x, i)``) or at an arbitrary time
(``den.at(x, t)``); eps follows from ``x = alpha x0 + sigma eps``. Coefficients for every grid
point are computed once, in float64, before the loop; inside the loop there is no host
synchronisation (non-finite model outputs are recorded on the device and reported, with the
first offending step, when sampling ends).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from ._broadcast import append_dims
from .grids import Grid
from .hooks import CFG, ClassifierGuidance, Projection
from .lincomb import lincomb
from .prediction import PREDICTIONS, prediction_coefficients
from .validate import check_tensor, describe

__all__ = ["Coefs", "Denoiser"]


class Coefs:
    """Per-step coefficients: python floats for a shared grid, ``[B, 1, ...]`` tensors per sample."""

    def __init__(self, values: Tensor, ndim: int, dtype: torch.dtype, device):
        if values.ndim == 1:
            self.items = values.tolist()
        else:
            v = values.to(device=device, dtype=dtype)
            self.items = [append_dims(row, ndim) for row in v]

    def __getitem__(self, i):
        return self.items[i]


class Denoiser:
    """Wraps ``model(x, t, **cond)`` so that ``den(x, i)`` returns ``x0_hat`` at grid point ``i``."""

    def __init__(self, model: Callable, process, grid: Grid, prediction: str, x: Tensor, *,
                 cond: Mapping[str, Any] | None = None, guidance: CFG | ClassifierGuidance | None = None,
                 project_x0: Projection | None = None, model_dtype: torch.dtype | None = None,
                 check_grid: bool = True):
        """``check_grid``: refuse a grid built for another process (:func:`~polydiff.core.
        sample_checks.check_grid_for`); :func:`~polydiff.core.sample` turns it off for the grids
        it builds itself (a diffusers Karras grid interpolates its times)."""
        from .process import GaussianProcess
        from .sample_checks import check_cond, check_grid_for

        if not callable(model):
            raise TypeError(f"model must be callable as model(x, t, **cond), got {describe(model)}")
        if not isinstance(process, GaussianProcess):
            raise TypeError(f"process must be a GaussianProcess, got {describe(process)}")
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a polydiff.core.Grid, got {describe(grid)}")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {list(PREDICTIONS)}, got {prediction!r}")
        check_tensor(x, "x", min_ndim=1, floating=True, finite=False)
        if model_dtype is not None and not (isinstance(model_dtype, torch.dtype) and model_dtype.is_floating_point):
            raise TypeError(f"model_dtype must be a floating-point torch.dtype or None, got {model_dtype!r}")
        if check_grid:
            check_grid_for(grid, process)
        check_cond(cond)
        if isinstance(guidance, CFG):
            check_cond(guidance.uncond, "guidance.uncond")
        elif guidance is not None and not isinstance(guidance, ClassifierGuidance):
            raise TypeError(f"guidance must be a CFG or ClassifierGuidance, got {describe(guidance)}")
        if project_x0 is not None and not callable(project_x0):
            raise TypeError(f"project_x0 must be callable as project_x0(x0, t), got {describe(project_x0)}")
        self.model, self.process, self.grid, self.prediction = model, process, grid, prediction
        self.cond = dict(cond or {})
        self.guidance, self.project_x0, self.model_dtype = guidance, project_x0, model_dtype
        self.sigma_data = getattr(process, "sigma_data", None)
        self.batch, self.ndim, self.dtype, self.device = x.shape[0], x.ndim, x.dtype, x.device
        self.nfe = 0
        self._sums: list[tuple[int, Tensor]] = []  # per-evaluation sums: finite iff the output is
        self._in_sums: list[tuple[int, Tensor]] = []  # ... and the state x that went in
        self._guide_sums: list[tuple[int, Tensor, Tensor]] = []  # classifier: (step, grad, term)
        c = self._coefficients(grid.t, grid.alpha, grid.sigma)
        mk = lambda v: Coefs(v, self.ndim, self.dtype, self.device)
        self.in_scale, self.x0_x, self.x0_out = mk(c.in_scale), mk(c.x0_x), mk(c.x0_out)
        # time is never cast to model_dtype: bfloat16 rounds t = 999 to 1000 and t = 0.999 to 1
        t = grid.t.to(device=self.device, dtype=torch.float32)
        self.t_model = list(t.unsqueeze(1).expand(-1, self.batch).unbind(0)) if t.ndim == 1 else list(t.unbind(0))
        self.sigma_g = grid.sigma.to(self.device)
        # with neither classifier guidance nor project_x0, x0_hat is one linear combination
        self._plain = not isinstance(guidance, ClassifierGuidance) and project_x0 is None
        #: record the sum of every input state too, to blame a non-finite state rather than the
        #: model; :func:`~polydiff.core.sample` turns it off when no hook can alter the state
        self.track_inputs = True
        self._ring: list[Tensor | None] = []  # reused x0_hat buffers (see keep)
        self._calls = 0
        # x0_hat = cx (x + (co / cx) out): diffusers' (x - sigma eps) / alpha for eps models, as
        # one add and one in-place scale; on a shared grid cx as 0-dim CPU tensors of x's dtype
        # (a python float costs a tensor creation per multiply on small inputs)
        self._ratio = self._scale = None
        if bool((c.x0_x != 0).all()):
            self._ratio = mk(c.x0_out / c.x0_x).items
            self._scale = list(c.x0_x.to(self.dtype).unbind(0)) if c.x0_x.ndim == 1 else self.x0_x.items

    def keep(self, n: int) -> None:
        """The solver holds at most the ``n`` latest results of ``den(x, i)`` at once: they are
        then written into ``n`` reused buffers (no allocation per step) when no gradient is
        recorded and no hook sees ``x0_hat``."""
        self._ring = [] if torch.is_grad_enabled() else [None] * int(n)

    def _coefficients(self, t: Tensor, alpha: Tensor, sigma: Tensor):
        da = ds = None
        if self.prediction == "flow":
            da, ds = self.process.d_alpha_sigma(t)
        return prediction_coefficients(self.prediction, alpha, sigma, dalpha=da, dsigma=ds,
                                       sigma_data=self.sigma_data)

    # --- model call -------------------------------------------------------------------------
    def _call(self, x: Tensor, t: Tensor, in_scale) -> Tensor:
        xin = x if in_scale.__class__ is float and in_scale == 1.0 else x * in_scale
        if self.model_dtype is not None:
            xin = xin.to(self.model_dtype)
        g = self.guidance
        if g is None:
            out = self.model(xin, t, **self.cond)
        elif isinstance(g, CFG) and g.scale != 1.0:
            if g.scale == 0.0:
                out = self.model(xin, t, **{**self.cond, **g.uncond})
            else:
                out_c = self.model(xin, t, **self.cond)
                out_u = self.model(xin, t, **{**self.cond, **g.uncond})
                self.nfe += 1
                out = out_u + g.scale * (out_c - out_u)
        else:
            out = self.model(xin, t, **self.cond)
        self.nfe += 1
        if not isinstance(out, Tensor):
            out = getattr(out, "sample", out)
            if not isinstance(out, Tensor):
                raise TypeError(f"model must return a tensor, got {type(out).__name__}")
        if out.shape != x.shape:
            raise ValueError(f"model output shape {tuple(out.shape)} does not match x {tuple(x.shape)}")
        return out if out.dtype == self.dtype else out.to(self.dtype)

    def _finish(self, x0: Tensor, x: Tensor, t: Tensor, alpha, sigma, step: int) -> Tensor:
        if isinstance(self.guidance, ClassifierGuidance) and self.guidance.scale != 0:
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                logp = self.guidance.log_prob(xg, t, **self.cond)
                if logp.shape != (x.shape[0],):
                    raise ValueError(f"classifier log_prob must return shape [{x.shape[0]}], got {tuple(logp.shape)}")
                (grad,) = torch.autograd.grad(logp.sum(), xg)
            # score += s * grad  <=>  x0 += s * sigma^2 / alpha * grad (Tweedie)
            term = self.guidance.scale * (sigma**2 / alpha) * grad
            self._guide_sums.append((step, grad.sum(), term.sum()))
            x0 = x0 + term
        raw = x0
        if self.project_x0 is not None:
            x0 = self.project_x0(x0, t)
        self._sums.append((step, x0.sum()))
        return x0, raw

    def __call__(self, x: Tensor, i: int) -> Tensor:
        """``x0_hat`` at grid point ``i`` (the model sees ``grid.t[i]``)."""
        if not self._plain:
            return self.x0_pair(x, i)[0]
        if not 0 <= i < len(self.t_model):
            raise ValueError(f"step index i must lie in [0, {len(self.t_model) - 1}] (the grid's points), got {i}")
        if self.track_inputs:
            self._in_sums.append((i, x.sum()))
        out = self._call(x, self.t_model[i], self.in_scale.items[i])
        buf = None
        if self._ring:
            k = self._calls % len(self._ring)
            self._calls += 1
            buf = self._ring[k]
            if buf is None:
                buf = self._ring[k] = torch.empty_like(x)
        x0 = self._x0(x, out, i, buf)
        self._sums.append((i, x0.sum()))  # one reduction, no host sync: checked after the loop
        return x0

    def _x0(self, x: Tensor, out: Tensor, i: int, buf: Tensor | None = None) -> Tensor:
        """``x0_hat = x0_x x + x0_out out`` (prediction.py's conversion), into ``buf`` if given."""
        if self._scale is None:
            cx, co = self.x0_x.items[i], self.x0_out.items[i]
            if isinstance(cx, float) and cx == 0.0:
                return lincomb(co, out, out=buf)
            return lincomb(cx, x, co, out, out=buf)
        r = self._ratio[i]
        if isinstance(r, float):
            return torch.add(x, out, alpha=r, out=buf).mul_(self._scale[i])
        return torch.addcmul(x, out, r, out=buf).mul_(self._scale[i])

    def x0_pair(self, x: Tensor, i: int) -> tuple[Tensor, Tensor]:
        """``(x0_hat, x0_hat before project_x0)`` at grid point ``i`` (one model evaluation);
        DDIM's diffusers convention forms its noise from the second."""
        if not 0 <= i < len(self.t_model):
            raise ValueError(f"step index i must lie in [0, {len(self.t_model) - 1}] (the grid's points), got {i}")
        t = self.t_model[i]
        if self.track_inputs:
            self._in_sums.append((i, x.sum()))
        out = self._call(x, t, self.in_scale[i])
        x0 = self._x0(x, out, i)
        if self._plain:
            self._sums.append((i, x0.sum()))
            return x0, x0
        a = self._as_coef(self.grid.alpha[i])
        s = self._as_coef(self.grid.sigma[i])
        return self._finish(x0, x, t, a, s, i)

    def _as_coef(self, v: Tensor):
        return float(v) if v.ndim == 0 else append_dims(v.to(self.device, self.dtype), self.ndim)

    def at(self, x: Tensor, t: Tensor, step: int = -1) -> Tensor:
        """``x0_hat`` at an arbitrary process time ``t`` (scalar or ``[B]``; for adaptive solvers)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        alpha, sigma = self.process.alpha(t).double(), self.process.sigma(t).double()
        c = self._coefficients(t, alpha, sigma)
        conv = lambda v: float(v) if v.ndim == 0 else append_dims(v.to(self.device, self.dtype), self.ndim)
        tm = t.to(self.device, torch.float32)
        tm = tm.expand(self.batch) if tm.ndim == 0 else tm
        self._in_sums.append((step, x.sum()))
        out = self._call(x, tm, conv(c.in_scale))
        x0 = lincomb(conv(c.x0_x), x, conv(c.x0_out), out)
        return self._finish(x0, x, tm, conv(alpha), conv(sigma), step)[0]

    def check_finite(self) -> None:
        """Raise if any model output was not finite (one host sync, after the loop), naming
        the first step whose ``x0_hat`` held NaN or inf."""
        if not self._sums:
            return
        sums = torch.stack([v for _, v in self._sums])
        bad = ~torch.isfinite(sums)
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            step = self._sums[k][0]
            where = f"t = {self.grid.t[step].tolist()}" if 0 <= step < len(self.grid.t) else "off-grid time"
            self._blame_inputs(step, where)
            raise FloatingPointError(f"the model produced NaN or inf (or values beyond the float range) "
                                     f"at step {step} ({where})")

    def _blame_inputs(self, step: int, where: str) -> None:
        """Before blaming the model: was the state that went in, or the classifier guidance
        term, already non-finite at the first bad evaluation (or before)?"""
        for s, v in self._in_sums:
            if not bool(torch.isfinite(v)):
                raise ValueError(f"the state x given to the denoiser at step {s} already held NaN or inf "
                                 "(check x_T, the noise sampler, known values and project_x)")
            if s == step:
                break
        for s, g, term in self._guide_sums:
            if not bool(torch.isfinite(g)):
                raise FloatingPointError(f"guidance: the classifier's log_prob gave a NaN or inf gradient at "
                                         f"step {s} ({where})")
            if not bool(torch.isfinite(term)):
                raise ValueError(f"guidance: ClassifierGuidance scale={self.guidance.scale:g} makes the "
                                 f"guidance term scale * sigma^2/alpha * grad overflow at step {s}; "
                                 "lower the scale")
            if s >= step:
                break
