"""Multi-octave 2D simplex noise in torch, as a noise sampler for AnoDDPM.

Simplex noise (Perlin 2001; Gustavson 2005, "Simplex noise demystified") evaluated on the
pixel grid, summed over octaves with doubling frequency and geometric amplitude decay
(fractal Brownian motion), as used by AnoDDPM (Wyatt et al. 2022, sec. 3.2) in place of
Gaussian noise in both the forward and reverse process. Everything is vectorised over the
batch, the channels and the pixels; randomness comes only from the ``generator`` passed in
(a random lattice offset per sample and channel and octave, and a random gradient-hash
permutation per call).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from polydiff.core.validate import check_choice, check_generator, check_shape, describe
from torch import Tensor

__all__ = ["SimplexNoise", "simplex2d", "simplex_noise"]

_F2 = 0.5 * (math.sqrt(3.0) - 1.0)
_G2 = (3.0 - math.sqrt(3.0)) / 6.0
# Gustavson's 12 gradient directions restricted to 2D (edges of a cube, z dropped).
_GRAD = torch.tensor([[1, 1], [-1, 1], [1, -1], [-1, -1], [1, 0], [-1, 0], [1, 0], [-1, 0],
                      [0, 1], [0, -1], [0, 1], [0, -1]], dtype=torch.float64)


def simplex2d(x: Tensor, y: Tensor, perm: Tensor) -> Tensor:
    """Single-octave 2D simplex noise at points ``(x, y)`` (any equal shapes), roughly in [-1, 1].

    ``perm`` is a permutation of ``0..255`` (the gradient hash, Gustavson 2005, sec. "2D").
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if perm.shape != (256,):
        raise ValueError(f"perm must be a permutation of 0..255, got shape {tuple(perm.shape)}")
    x, y = x.double(), y.double()
    p = torch.cat([perm, perm]).long().to(x.device)
    grad = _GRAD.to(x.device)
    s = (x + y) * _F2  # skew to the simplex lattice
    i, j = torch.floor(x + s), torch.floor(y + s)
    t = (i + j) * _G2
    x0, y0 = x - (i - t), y - (j - t)
    upper = (x0 > y0).double()  # which of the two triangles of the skewed cell
    corners = [(x0, y0, 0.0, 0.0),
               (x0 - upper + _G2, y0 - (1 - upper) + _G2, upper, 1 - upper),
               (x0 - 1 + 2 * _G2, y0 - 1 + 2 * _G2, 1.0, 1.0)]
    ii, jj = i.long() & 255, j.long() & 255
    total = torch.zeros_like(x)
    for dx, dy, oi, oj in corners:
        oi = torch.as_tensor(oi, dtype=torch.long, device=x.device) if isinstance(oi, float) else oi.long()
        oj = torch.as_tensor(oj, dtype=torch.long, device=x.device) if isinstance(oj, float) else oj.long()
        gi = p[(ii + oi) + p[(jj + oj)]] % 12
        g = grad[gi]
        tt = (0.5 - dx * dx - dy * dy).clamp_min(0.0)
        total = total + tt**4 * (g[..., 0] * dx + g[..., 1] * dy)
    return 70.0 * total


def simplex_noise(shape: Sequence[int], *, octaves: int = 6, frequency: float = 4.0,
                  decay: float = 0.8, normalise: bool = True,
                  generator: torch.Generator | None = None,
                  device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """Fractal simplex noise of shape ``[B, C, H, W]``.

    ``noise = sum_k decay^k * simplex(2^k * frequency * (u, v) + offset_k)`` with pixel
    coordinates ``(u, v)`` in units of the image side, so octave ``k`` has
    ``frequency * 2^k`` lattice cells across the image.

    Args:
        octaves: number of octaves (>= 1).
        frequency: lattice cells across the image side at the first octave (> 0).
        decay: amplitude ratio between consecutive octaves (AnoDDPM's "persistence").
        normalise: standardise each sample-channel to zero mean and unit variance over its
            pixels (so it can stand in for ``N(0, I)`` noise).
        generator: source of the random offsets and the gradient-hash permutation.
    """
    shape = check_shape(shape, "shape")
    if len(shape) != 4:
        raise ValueError(f"simplex noise needs a positive [B, C, H, W] shape, got {shape}")
    if isinstance(octaves, bool) or not isinstance(octaves, int) or octaves < 1:
        raise ValueError(f"octaves must be a positive int, got {octaves!r}")
    for name, v in (("frequency", frequency), ("decay", decay)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {describe(v)}")
    if not (math.isfinite(frequency) and math.isfinite(decay) and frequency > 0 and decay > 0):
        raise ValueError(f"frequency and decay must be finite and > 0, got {frequency}, {decay}")
    check_choice(normalise, "normalise", (True, False))
    check_generator(generator, "generator")
    if isinstance(generator, list):
        raise TypeError("generator must be one torch.Generator for simplex noise, got a list")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if normalise and shape[2] * shape[3] < 2:
        raise ValueError(f"normalise=True standardises over H x W pixels and needs at least 2, got {shape}")
    # the largest octave amplitude decay^k (and frequency 2^k) must stay representable
    amp_room = math.log(torch.finfo(torch.float64 if normalise else dtype).max / (70.0 * octaves))
    freq_room = math.log(torch.finfo(torch.float64).max) - 10.0
    if ((octaves - 1) * max(math.log(decay), 0.0) > amp_room
            or math.log(frequency) + (octaves - 1) * math.log(2.0) > freq_room):
        raise ValueError(f"octaves={octaves}, frequency={frequency}, decay={decay} overflow "
                         f"{torch.float64 if normalise else dtype}")
    b, c, h, w = shape
    if generator is not None and device is None:
        device = generator.device
    gdev = generator.device if generator is not None else device
    perm = torch.randperm(256, generator=generator, device=gdev).to(device)
    side = float(max(h, w))
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=device) / side,
                          torch.arange(w, dtype=torch.float64, device=device) / side, indexing="ij")
    out = torch.zeros((b, c, h, w), dtype=torch.float64, device=device)
    for k in range(octaves):
        f = frequency * 2.0**k
        off = 1000.0 * torch.rand((b, c, 2, 1, 1), generator=generator, device=gdev,
                                  dtype=torch.float64).to(device)
        out += decay**k * simplex2d(u * f + off[:, :, 0], v * f + off[:, :, 1], perm)
    if normalise:
        flat = out.flatten(2)
        std = flat.std(-1, keepdim=True).clamp_min(1e-12)
        out = ((flat - flat.mean(-1, keepdim=True)) / std).reshape(out.shape)
    return out.to(dtype)


class SimplexNoise:
    """Noise sampler for ``pc.sample(..., noise=SimplexNoise(...))`` and for training.

    Called as ``sampler(x_or_shape, step=None)`` it returns simplex noise with ``x``'s shape,
    device and dtype (AnoDDPM replaces every Gaussian draw by this).
    """

    def __init__(self, octaves: int = 6, frequency: float = 4.0, decay: float = 0.8,
                 normalise: bool = True, generator: torch.Generator | None = None):
        simplex_noise((1, 1, 2, 2), octaves=octaves, frequency=frequency, decay=decay)  # validate
        self.octaves, self.frequency, self.decay = octaves, frequency, decay
        self.normalise, self.generator = normalise, generator

    def __call__(self, x: Tensor | Sequence[int], step: int | None = None) -> Tensor:
        shape, device, dtype = ((x.shape, x.device, x.dtype) if isinstance(x, Tensor)
                                else (tuple(x), None, torch.float32))
        if len(shape) != 4:
            raise ValueError(f"simplex noise is for [B, C, H, W] images, got shape {tuple(shape)}")
        return simplex_noise(shape, octaves=self.octaves, frequency=self.frequency,
                             decay=self.decay, normalise=self.normalise,
                             generator=self.generator, device=device, dtype=dtype)

    def __repr__(self) -> str:
        return (f"SimplexNoise(octaves={self.octaves}, frequency={self.frequency}, "
                f"decay={self.decay}, normalise={self.normalise})")
