"""Solvers: plain functions ``solver(den, grid, x, *, post, noise, **options) -> x``.

No hidden state: a partial trajectory is a shorter grid. :data:`SOLVERS` maps the names
accepted by :func:`polydiff.core.sample` to the functions.
"""
from .adaptive import rk45
from .dpm import dpmpp_2m, dpmpp_2m_sde, dpmpp_3m
from .first_order import ddim, ddpm, euler, heun
from .sde import euler_maruyama, predictor_corrector
from .unipc import unipc

SOLVERS = {
    "ddpm": ddpm, "ddim": ddim, "euler": euler, "heun": heun,
    "dpmpp_2m": dpmpp_2m, "dpmpp_3m": dpmpp_3m, "dpmpp_2m_sde": dpmpp_2m_sde,
    "unipc": unipc, "euler_maruyama": euler_maruyama, "predictor_corrector": predictor_corrector, "rk45": rk45,
}
STOCHASTIC = frozenset({"ddpm", "dpmpp_2m_sde", "euler_maruyama", "predictor_corrector"})
# old names still accepted by polydiff.core.sample, with a DeprecationWarning
DEPRECATED_NAMES = {"pc": "predictor_corrector"}  # collided with ``import polydiff.core as pc``

__all__ = ["DEPRECATED_NAMES", "SOLVERS", "STOCHASTIC", "ddim", "ddpm", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m",
           "euler", "euler_maruyama", "heun", "predictor_corrector", "rk45", "unipc"]
