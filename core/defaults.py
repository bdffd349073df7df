"""The time grid :func:`~polydiff.core.sample` uses when the call names none, per process kind
and solver: a grid kind of :mod:`polydiff.core.grids` and how the grid ends.

Chosen by measurement (``bench/core_bench.py``: ``grid_study`` and ``grid_study_summary``
reproduce the tables): error against the exact probability-flow solution
(:meth:`~polydiff.core.testing.GaussianMixture.flow_solution`) on twelve Gaussian-mixture
targets (:func:`~polydiff.core.testing.mixture_target`: 2 to 64 dimensions, 1 to 8 modes,
separations 0 to 4, component scales 0.05 to 3; ``bench/core_bench.py`` lists them), at 5, 10
and 20 NFE. Candidates: uniform in ``t``, DDIM's quadratic spacing in ``t`` (Song et al.
2021, App. D.2), uniform log-SNR, Karras et al. (2022, eq. 5), each ending with ``"zero"`` or
``"spaced"``. The winner on eight tuning targets (geometric mean of the error relative to the
best candidate per target and NFE) is the default; four targets were held out and are reported
beside diffusers' defaults by the benchmark.

Every winner ends ``"spaced"``: the step onto clean data is one of the ``N`` evenly spaced
steps. The former default (uniform in ``t``, evaluating at ``t_min`` and then stepping to
clean data) spent one evaluation next to the data. No single grid wins on every target: data
much wider than the unit scale (the held-out 3-d target with scale 3) prefers uniform ``t``.

Processes and solvers without an entry keep ``process.default_grid`` with ``final="zero"``
(the stochastic solvers and ``rk45``); :class:`~polydiff.core.DiscreteVP` keeps the
grid of the diffusers scheduler each solver reproduces.
"""
from __future__ import annotations

__all__ = ["MEASURED_DEFAULTS", "default_grid", "process_kind"]

_ODE = ("ddim", "euler", "dpmpp_2m", "dpmpp_3m", "unipc")
_QUADRATIC = ("quadratic", "spaced")

# process kind -> solver -> (grid kind, final); chosen on the tuning targets (geometric mean of
# the error relative to the best candidate), checked on the held-out ones
MEASURED_DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    "VP-linear": {**{s: _QUADRATIC for s in _ODE}, "heun": ("uniform_t", "spaced")},
    "VP-cosine": {**{s: _QUADRATIC for s in _ODE}, "dpmpp_3m": ("log_snr", "spaced"), "heun": ("karras", "spaced")},
    "SubVP": {**{s: _QUADRATIC for s in _ODE}, "heun": ("uniform_t", "spaced")},
    "Flow": {**{s: ("uniform_t", "spaced") for s in _ODE}, "unipc": _QUADRATIC, "heun": ("karras", "spaced")},
    "EDM": {**{s: ("log_snr", "spaced") for s in _ODE}, "heun": ("karras", "spaced")},
    # VE: uniform t is uniform log-SNR; "spaced" won on the tuning targets for every solver; on
    # the held-out ones it ties (dpmpp_2m 1.14 vs 1.14), wins (dpmpp_3m 1.27 vs 1.80) or loses
    # (unipc 1.26 vs 1.17): unipc keeps "zero"
    "VE": {**{s: ("uniform_t", "spaced") for s in _ODE if s != "unipc"}, "heun": ("karras", "spaced")},
}


def process_kind(process) -> str:
    """The key of :data:`MEASURED_DEFAULTS` for ``process`` (class name, and the schedule for VP)."""
    name = type(process).__name__
    return f"{name}-{process.schedule}" if name == "VP" else name


def default_grid(process, solver: str) -> tuple[str, str]:
    """``(kind, final)`` of the grid ``sample(process, solver=solver)`` uses by default."""
    table = MEASURED_DEFAULTS.get(process_kind(process), {})
    return table.get(solver, (process.default_grid, "zero"))
