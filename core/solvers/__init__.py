"""Solvers: plain functions ``solver(den, grid, x, *, post, noise, **options) -> x``.

No hidden state: a partial trajectory is a shorter grid. :data:`SOLVERS` maps the names
accepted by :func:`polydiff.core.sample` to the functions.
"""
from .adaptive import rk45
from .dpm import dpmpp_2m, dpmpp_2m_sde, dpmpp_3m
from .first_order import ddim, ddpm, euler, heun
from .sde import euler_maruyama, pc
from .unipc import unipc

SOLVERS = {
    "ddpm": ddpm, "ddim": ddim, "euler": euler, "heun": heun,
    "dpmpp_2m": dpmpp_2m, "dpmpp_3m": dpmpp_3m, "dpmpp_2m_sde": dpmpp_2m_sde,
    "unipc": unipc, "euler_maruyama": euler_maruyama, "pc": pc, "rk45": rk45,
}
STOCHASTIC = frozenset({"ddpm", "dpmpp_2m_sde", "euler_maruyama", "pc"})

__all__ = ["SOLVERS", "STOCHASTIC", "ddim", "ddpm", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m", "euler",
           "euler_maruyama", "heun", "pc", "rk45", "unipc"]
