"""Whole-loop CUDA graph capture for fixed shapes (issue: per-step overhead of small models).

:class:`GraphSampler` records the complete sampling loop — every model call and solver
update — as one CUDA graph on the first call and replays it for each new ``x_T`` (copied into
a static input buffer). Capture needs a CUDA device, fixed shapes and a loop without host
synchronisation (polydiff's solvers keep all coefficients on the host as floats or on the
device as tensors, and check for NaN once after the loop). Where capture is not possible the
sampler says why (``reason``) and runs the eager path, which gives the same numbers.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .sample import sample
from .solvers import STOCHASTIC

__all__ = ["GraphSampler"]


class GraphSampler:
    """``GraphSampler(model, process, shape, steps, solver, prediction, **kw)(x_T) -> x0``.

    Deterministic solvers only (stochastic ones would freeze their noise into the graph).
    """

    def __init__(self, model: Callable[..., Tensor], process, shape: Sequence[int], steps: int = 10,
                 solver: str = "dpmpp_2m", prediction: str = "eps", *, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, warmup: int = 2, **kwargs: Any):
        from .validate import check_device, check_int, check_shape

        shape = check_shape(shape, "shape")
        warmup = check_int(warmup, "warmup", low=0)
        device = check_device(device)
        self.model, self.process, self.shape = model, process, shape
        self.steps, self.solver, self.prediction, self.kwargs = steps, solver, prediction, kwargs
        self.device, self.dtype = torch.device(device), dtype
        self.graph: torch.cuda.CUDAGraph | None = None
        self.reason = self._why_not()
        if self.reason is None:
            self._capture(warmup)

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def _why_not(self) -> str | None:
        if self.device.type != "cuda":
            return f"CUDA graphs need a CUDA device; got {self.device.type} (running eagerly)"
        if not torch.cuda.is_available():
            return "CUDA is not available (running eagerly)"
        if self.solver in STOCHASTIC or self.kwargs.get("eta", 0) or self.kwargs.get("known") is not None:
            return f"solver {self.solver!r} draws noise inside the loop; capture would freeze it (running eagerly)"
        if self.solver == "rk45":
            return "rk45 chooses its steps on the host (running eagerly)"
        return None

    def _run(self, x: Tensor) -> Tensor:
        return sample(self.model, self.process, x, steps=self.steps, solver=self.solver,
                      prediction=self.prediction, check_finite=self.graph is None and self.reason is not None,
                      **self.kwargs)

    def _capture(self, warmup: int) -> None:
        self._x = torch.zeros(self.shape, device=self.device, dtype=self.dtype)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up outside the graph (allocations, kernels)
            for _ in range(warmup):
                self._run(self._x)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._out = self._run(self._x)

    def __call__(self, x_T: Tensor) -> Tensor:
        if tuple(x_T.shape) != self.shape:
            raise ValueError(f"GraphSampler was built for shape {self.shape}, got {tuple(x_T.shape)}")
        if self.graph is None:
            return self._run(x_T)
        self._x.copy_(x_T)
        self.graph.replay()
        out = self._out.clone()
        if not torch.isfinite(out).all():
            raise FloatingPointError("the captured sampling loop produced NaN or inf")
        return out
