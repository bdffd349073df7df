"""The exact denoiser of the state-space set: CSDI's sampling path with a perfect network.

For a series whose missing entries have the Gaussian posterior ``N(m, C)`` (in the imputer's
normalised units), the forward process ``x_t = alpha_t x_0 + sigma_t eps`` on those entries
gives the MMSE noise prediction (Gaussian conditioning of ``eps`` on ``x_t``)::

    E[eps | x_t, y_obs] = sigma_t (alpha_t^2 C + sigma_t^2 I)^-1 (x_t - alpha_t m)

:class:`PosteriorDenoiser` plugs that into :func:`.diffusion.sample_imputations` in place of
the CSDI network, so the gap between sampled and exact posteriors is the solver's alone (the
oracle-denoiser check that separates the sampler from the network). The network contract has
no series index, so the denoiser reads it from ``timestamps`` (``timestamps[n, :] = n``;
:func:`series_index_timestamps`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .statespace import GaussianPosterior

__all__ = ["PosteriorDenoiser", "series_index_timestamps"]


def series_index_timestamps(n_series: int, length: int) -> Tensor:
    """``[N, L]`` float64 timestamps holding the series index ``n`` on every step."""
    return torch.arange(n_series, dtype=torch.float64)[:, None].expand(n_series, length).clone()


class PosteriorDenoiser(nn.Module):
    """Exact ``eps`` prediction for the missing entries of ``posterior`` (see module docstring).

    Args:
        process: the CSDI :class:`~polydiff.core.discrete.DiscreteVP` (``alpha(t)``, ``sigma(t)``).
        posterior: the exact posterior of the windows being imputed (original units).
        mean, std: ``[K]`` the imputer's normalisation (``Normalizer.mean`` / ``.std``).
    """

    def __init__(self, process, posterior: GaussianPosterior, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.process = process
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        K = posterior.mean.shape[-1]
        if mean.shape != (K,) or std.shape != (K,) or (std <= 0).any():
            raise ValueError(f"mean and std must be [{K}] with std > 0, got {mean.shape}, {std.shape}")
        self.idx, self.m, self.w, self.V = [], [], [], []
        for n in range(len(posterior.mean)):
            idx = np.flatnonzero(posterior.missing[n])
            sd = np.tile(std, posterior.mean.shape[1])[idx]
            mu = np.tile(mean, posterior.mean.shape[1])[idx]
            self.idx.append(torch.as_tensor(idx))
            self.m.append(torch.as_tensor((posterior.mean[n].reshape(-1)[idx] - mu) / sd))
            C = posterior.cov[n] / np.outer(sd, sd)
            w, V = np.linalg.eigh((C + C.T) / 2)  # (a^2 C + s^2 I)^-1 = V diag(1/(a^2 w + s^2)) V^T
            self.w.append(torch.as_tensor(np.clip(w, 0.0, None)))
            self.V.append(torch.as_tensor(V))

    def forward(self, x: Tensor, t: Tensor, *, cond_values: Tensor, cond_mask: Tensor,
                timestamps: Tensor | None = None) -> Tensor:
        if timestamps is None:
            raise ValueError("PosteriorDenoiser reads the series index from timestamps; pass "
                             "series_index_timestamps(N, L)")
        B = x.shape[0]
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(B)
        a, s = self.process.alpha(t)[:, None], self.process.sigma(t)[:, None]
        out = torch.zeros(B, x[0].numel(), dtype=torch.float64)
        flat = x.reshape(B, -1).to(torch.float64)
        series = timestamps[:, 0].round().long()
        for n in series.unique().tolist():
            rows = torch.nonzero(series == n).flatten()
            idx, V, w = self.idx[n], self.V[n], self.w[n]
            if not len(idx):
                continue
            r = flat[rows][:, idx] - a[rows] * self.m[n]            # [R, M]
            coef = (r @ V) / (a[rows] ** 2 * w + s[rows] ** 2)      # in C's eigenbasis
            out[rows[:, None], idx] = s[rows] * (coef @ V.T)
        return out.reshape(x.shape).to(x.dtype)
