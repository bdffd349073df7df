"""polydiff.core — the diffusion engine: processes, predictions, solvers, hooks.

Needs only torch and numpy. See docs/design.md for the four ideas and the public contract::

    import polydiff.core as pc
    proc = pc.VP()
    x_T = proc.prior_sample((B, *shape), generator=g)
    x_0 = pc.sample(model, proc, x_T, steps=10, solver="dpmpp_2m", prediction="eps")
"""
from . import likelihood, losses, testing
from ._broadcast import append_dims, per_sample_mean, per_sample_sum
from .denoiser import Denoiser
from .discrete import DiscreteVP, process_from_config
from .discrete_state import (
                    TOKEN_SCHEDULES,
                    MaskedDiffusion,
                    UniformDiffusion,
                    masked_sample,
                    mdlm_loss,
)
from .fit_grid import grid_from_json, grid_to_json, optimize_grid
from .graph import GraphSampler
from .grids import GRID_KINDS, Grid, make_grid
from .hooks import (
                    CFG,
                    ClassifierGuidance,
                    GaussianNoise,
                    Known,
                    clip,
                    dynamic_threshold,
                    nearest_embedding,
                    randn,
                    zero_center,
)
from .likelihood import bits_per_dim, discrete_vlb, ode_nll
from .loss_aware import LossSecondMomentResampler
from .losses import TIME_SAMPLINGS, WEIGHTINGS, dsm_loss, loss_weight
from .prediction import PREDICTIONS, prediction_coefficients
from .process import EDM, VE, VP, Flow, GaussianProcess, SubVP
from .restart import restart
from .sample import build_grid, sample
from .schedules import beta_schedule, rescale_zero_terminal_snr
from .solvers import SOLVERS as _SOLVER_FNS

SOLVERS: tuple[str, ...] = tuple(_SOLVER_FNS)

__all__ = [
                    "CFG",
                    "EDM",
                    "GRID_KINDS",
                    "PREDICTIONS",
                    "SOLVERS",
                    "TIME_SAMPLINGS",
                    "TOKEN_SCHEDULES",
                    "VE",
                    "VP",
                    "WEIGHTINGS",
                    "ClassifierGuidance",
                    "Denoiser",
                    "DiscreteVP",
                    "Flow",
                    "GaussianNoise",
                    "GaussianProcess",
                    "GraphSampler",
                    "Grid",
                    "Known",
                    "LossSecondMomentResampler",
                    "MaskedDiffusion",
                    "SubVP",
                    "UniformDiffusion",
                    "append_dims",
                    "beta_schedule",
                    "bits_per_dim",
                    "build_grid",
                    "clip",
                    "discrete_vlb",
                    "dsm_loss",
                    "dynamic_threshold",
                    "grid_from_json",
                    "grid_to_json",
                    "likelihood",
                    "loss_weight",
                    "losses",
                    "make_grid",
                    "masked_sample",
                    "mdlm_loss",
                    "nearest_embedding",
                    "ode_nll",
                    "optimize_grid",
                    "per_sample_mean",
                    "per_sample_sum",
                    "prediction_coefficients",
                    "process_from_config",
                    "randn",
                    "rescale_zero_terminal_snr",
                    "restart",
                    "sample",
                    "testing",
                    "zero_center",
]
