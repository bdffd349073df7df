"""polydiff.core — the diffusion engine: processes, predictions, solvers, hooks.

Needs only torch and numpy. See DESIGN.md for the four ideas and the public contract::

    import polydiff.core as pc
    proc = pc.VP()
    x_T = proc.prior_sample((B, *shape), generator=g)
    x_0 = pc.sample(model, proc, x_T, steps=10, solver="dpmpp_2m", prediction="eps")
"""
from ._broadcast import append_dims, per_sample_mean, per_sample_sum
from .denoiser import Denoiser
from .discrete import DiscreteVP, process_from_config
from .grids import GRID_KINDS, Grid, make_grid
from .hooks import (CFG, ClassifierGuidance, GaussianNoise, Known, clip, dynamic_threshold,
                    nearest_embedding, randn, zero_center)
from .prediction import PREDICTIONS, prediction_coefficients
from .process import EDM, VE, VP, Flow, GaussianProcess, SubVP
from .sample import build_grid, sample
from .graph import GraphSampler
from .schedules import beta_schedule, rescale_zero_terminal_snr
from .solvers import SOLVERS as _SOLVER_FNS
from . import losses, likelihood, testing  # noqa: E402  (submodules as pc.losses, ...)
from .discrete_state import TOKEN_SCHEDULES, MaskedDiffusion, UniformDiffusion, masked_sample, mdlm_loss
from .likelihood import bits_per_dim, discrete_vlb, ode_nll
from .losses import TIME_SAMPLINGS, WEIGHTINGS, dsm_loss, loss_weight

SOLVERS: tuple[str, ...] = tuple(_SOLVER_FNS)

__all__ = [
    "append_dims", "per_sample_mean", "per_sample_sum",
    "GaussianProcess", "VP", "SubVP", "VE", "EDM", "Flow", "DiscreteVP", "process_from_config",
    "beta_schedule", "rescale_zero_terminal_snr",
    "PREDICTIONS", "prediction_coefficients",
    "Grid", "GRID_KINDS", "make_grid", "build_grid",
    "sample", "SOLVERS", "Denoiser", "GraphSampler",
    "CFG", "ClassifierGuidance", "Known", "GaussianNoise", "randn",
    "clip", "dynamic_threshold", "zero_center", "nearest_embedding",
    "losses", "likelihood", "testing",
    "dsm_loss", "loss_weight", "WEIGHTINGS", "TIME_SAMPLINGS",
    "ode_nll", "bits_per_dim", "discrete_vlb",
    "MaskedDiffusion", "UniformDiffusion", "masked_sample", "mdlm_loss", "TOKEN_SCHEDULES",
]
