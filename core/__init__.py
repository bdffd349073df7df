"""polydiff.core — the diffusion engine: processes, predictions, solvers, hooks.

Needs only torch and numpy. See DESIGN.md for the four ideas and the public contract::

    import polydiff.core as pc
    proc = pc.VP()
    x_T = proc.prior_sample((B, *shape), generator=g)
    x_0 = pc.sample(model, proc, x_T, steps=10, solver="dpmpp_2m", prediction="eps")
"""
from ._broadcast import append_dims, per_sample_mean, per_sample_sum
from .process import EDM, VE, VP, Flow, GaussianProcess, SubVP

__all__ = [
    "append_dims", "per_sample_mean", "per_sample_sum",
    "GaussianProcess", "VP", "SubVP", "VE", "EDM", "Flow",
]
