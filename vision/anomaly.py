"""Anomaly detection by partial diffusion: AnoDDPM (Wyatt et al. 2022).

A denoiser trained on normal images only is used to *reconstruct* a test image: the image
is diffused to an intermediate time ``t*`` and denoised back (sec. 3.1); anomalies, which
the model has never seen, are not reproduced. The anomaly map is the squared
reconstruction error, the image score a statistic of the map. AnoDDPM's key change is
multi-octave **simplex noise** instead of Gaussian noise (sec. 3.2), both in training
(the network predicts the simplex noise) and in the forward/reverse process; it removes
larger, low-frequency structures. Here the noise kind is a parameter, so the Gaussian
variant is the same code.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from polydiff.core.validate import check_finite, check_int, check_number, check_tensor, describe
from torch import Tensor, nn

from ._common import (
    check_flag,
    check_generator,
    check_image_shape,
    check_process,
    check_t_star,
    sample_kwargs,
)
from .data import check_images, from_model_range, to_model_range
from .simplex import SimplexNoise

__all__ = [
    "ConvAutoencoder",
    "anoddpm_loss",
    "anomaly_maps",
    "autoencoder_maps",
    "image_scores",
    "noise_sampler",
    "reconstruct",
    "train_autoencoder",
]

NoiseFn = Callable[[Tensor, int], Tensor]


def noise_sampler(kind: str = "simplex", generator: torch.Generator | None = None, **simplex_options) -> NoiseFn:
    """``"simplex"`` (:class:`~polydiff.vision.simplex.SimplexNoise`, AnoDDPM defaults
    octaves=6, decay=0.8 unless given) or ``"gaussian"``."""
    if kind == "gaussian":
        check_generator(generator)
        if isinstance(generator, list):
            raise TypeError("generator must be one torch.Generator for gaussian noise, got a list")
    if kind == "simplex":
        return SimplexNoise(generator=generator, **simplex_options)
    if kind == "gaussian":
        if simplex_options:
            raise ValueError(f"gaussian noise takes no options, got {sorted(simplex_options)}")

        def gauss(x, step=None):
            dev = generator.device if generator is not None else x.device
            return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)
        return gauss
    raise ValueError(f"noise kind must be 'simplex' or 'gaussian', got {kind!r}")


def anoddpm_loss(net, process, images: Tensor, noise: NoiseFn, *,
                 generator: torch.Generator | None = None) -> Tensor:
    """Training loss with structured noise: ``|| net(alpha x0 + sigma n, t) - n ||^2`` where
    ``n`` comes from ``noise`` (AnoDDPM sec. 3.2; eq. 14 of DDPM with ``eps`` replaced by ``n``).

    This is core's ``dsm_loss`` with its ``eps`` drawn from ``noise``.
    """
    from polydiff.core.losses import dsm_loss
    check_images(images)
    _check_noise(noise)
    x0 = to_model_range(images)
    return dsm_loss(net, process, x0, prediction="eps", eps=_checked(noise)(x0, 0), generator=generator).mean()


@torch.no_grad()
def reconstruct(net, process, images: Tensor, t_star: float, *, noise: NoiseFn, steps: int = 25,
                solver: str = "ddpm", clip: bool = True, **solver_options) -> Tensor:
    """Diffuse ``[N, C, H, W]`` images in [0, 1] to ``t_star`` with ``noise`` and solve back
    (``pc.sample(..., t_start=t_star, noise=noise)``, the same noise in every reverse step;
    ``clip`` clamps every ``x0_hat`` to ``[-1, 1]``). ``t_star`` is on ``process``'s time
    scale: a ``DiscreteVP`` step such as 200 of 1000 (a ``t_star`` <= 1 is refused there)."""
    import polydiff.core as pc
    check_images(images)
    check_image_shape(net, images.shape[1:], "images' (C, H, W)")
    check_process(process)
    t_star = check_t_star(process, t_star)
    _check_noise(noise)
    kw = sample_kwargs(steps, solver, None, solver_options)
    check_flag(clip, "clip")
    kw.pop("generator")
    dev = next(net.parameters()).device
    x0 = to_model_range(images.to(dev))
    t = torch.full((len(x0),), float(t_star), dtype=torch.float64)
    noise = _checked(noise)
    x_t = process.marginal(x0, t, noise(x0, 0))
    out = pc.sample(net, process, x_t, prediction="eps", t_start=float(t_star), noise=noise,
                    project_x0=pc.clip() if clip else None, **kw)
    return from_model_range(out)


def _check_noise(noise) -> None:
    if not callable(noise):
        raise TypeError(f"noise must be a callable noise(x, step) such as noise_sampler(...), got {describe(noise)}")


def _checked(noise: NoiseFn) -> NoiseFn:
    """``noise`` whose every draw is checked: a finite float tensor shaped like its ``x``."""
    def draw(x: Tensor, step: int) -> Tensor:
        n = noise(x, step)
        if not isinstance(n, Tensor) or n.shape != x.shape:
            got = tuple(n.shape) if isinstance(n, Tensor) else describe(n)
            raise ValueError(f"noise(x, {step}) must return a tensor shaped like x {tuple(x.shape)}, got {got}")
        check_finite(n, f"noise(x, {step})")
        return n
    return draw


def anomaly_maps(net, process, images: Tensor, t_star: float, *, noise: NoiseFn,
                 steps: int = 25, solver: str = "ddpm", batch: int = 64, **solver_options) -> Tensor:
    """Per-pixel anomaly maps ``[N, H, W]``: squared reconstruction error, channel-averaged."""
    check_images(images)
    batch = check_int(batch, "batch", low=1)
    maps = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        rec = reconstruct(net, process, x, t_star, noise=noise, steps=steps, solver=solver, **solver_options)
        maps.append(((rec.cpu() - x.cpu()) ** 2).mean(1))
    return torch.cat(maps)


def image_scores(maps: Tensor, statistic: str = "mean", q: float = 0.99) -> Tensor:
    """Image-level scores ``[N]`` from maps ``[N, H, W]``: ``mean``, ``max`` or ``quantile`` (q).

    ``q`` is checked (a number in (0, 1)) whatever the statistic."""
    check_tensor(maps, "maps", ndim=3, floating=True)
    q = check_number(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    if 0 in maps.shape:
        raise ValueError(f"maps must be non-empty [N, H, W], got shape {tuple(maps.shape)}")
    flat = maps.flatten(1)
    if statistic == "mean":
        return flat.mean(1)
    if statistic == "max":
        return flat.amax(1)
    if statistic == "quantile":
        return torch.quantile(flat.float(), q, dim=1)
    raise ValueError(f"statistic must be 'mean', 'max' or 'quantile', got {statistic!r}")


class ConvAutoencoder(nn.Module):
    """Baseline: a convolutional autoencoder with a ``latent``-channel bottleneck at 1/4
    resolution (the reconstruction-error detector AnoDDPM compares against)."""

    def __init__(self, channels: int = 1, width: int = 32, latent: int = 8):
        super().__init__()
        for name, v in (("channels", channels), ("width", width), ("latent", latent)):
            check_int(v, name, low=1)
        self.enc = nn.Sequential(nn.Conv2d(channels, width, 3, 2, 1), nn.SiLU(),
                                 nn.Conv2d(width, 2 * width, 3, 2, 1), nn.SiLU(),
                                 nn.Conv2d(2 * width, latent, 1))
        self.dec = nn.Sequential(nn.Conv2d(latent, 2 * width, 1), nn.SiLU(),
                                 nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.SiLU(),
                                 nn.ConvTranspose2d(width, channels, 4, 2, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"x must be [N, C, H, W] with H, W divisible by 4, got {tuple(x.shape)}")
        return self.dec(self.enc(x))


def train_autoencoder(images: Tensor, *, steps: int = 500, batch_size: int = 64, lr: float = 1e-3,
                      seed: int = 0, **kwargs) -> ConvAutoencoder:
    """Fit :class:`ConvAutoencoder` to normal ``[N, C, H, W]`` images in [0, 1] (MSE, Adam)."""
    check_images(images)
    steps, batch_size = check_int(steps, "steps", low=1), check_int(batch_size, "batch_size", low=1)
    lr, seed = check_number(lr, "lr", low=0.0, low_open=True), check_int(seed, "seed")
    if images.shape[-1] % 4 or images.shape[-2] % 4:
        raise ValueError(f"images: H and W must be divisible by 4 (the autoencoder halves twice), "
                         f"got {tuple(images.shape[-2:])}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ae = ConvAutoencoder(images.shape[1], **kwargs)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(ae.parameters(), lr=lr)
    for _ in range(steps):
        x = images[torch.randint(0, len(images), (min(batch_size, len(images)),), generator=g)]
        loss = ((ae(x) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ae.eval()


@torch.no_grad()
def autoencoder_maps(ae: ConvAutoencoder, images: Tensor) -> Tensor:
    """Squared reconstruction error maps ``[N, H, W]`` of the autoencoder baseline."""
    if not isinstance(ae, ConvAutoencoder):
        raise TypeError(f"ae must be a ConvAutoencoder (train_autoencoder), got {type(ae).__name__}")
    check_images(images)
    channels = ae.enc[0].in_channels
    if images.shape[1] != channels:
        raise ValueError(f"images must have {channels} channel(s) (the autoencoder's), got shape "
                         f"{tuple(images.shape)}")
    return ((ae(images).clamp(0, 1) - images) ** 2).mean(1)


def synthetic_lesions(images: Tensor, region: Tensor, *, radius: tuple[float, float] = (0.05, 0.12),
                      intensity: float = 0.6, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Insert one elliptical lesion per image inside ``region`` (e.g. the brain mask).

    Each lesion is an ellipse with semi-axes drawn from ``radius`` (fractions of the image
    side), centred on a random pixel of ``region``; inside it the image is blended towards
    ``intensity`` (``x <- 0.3 x + 0.7 intensity``), a bright or dark blob depending on the
    tissue. Returns ``(images_with_lesions, lesion_masks [N, H, W] long)``.
    """
    check_images(images)
    n, _, h, w = images.shape
    check_tensor(region, "region")
    if not ((region == 0) | (region == 1)).all():
        raise ValueError("region must be a 0/1 (or bool) mask [N, H, W] of where lesions may go")
    if region.shape != (n, h, w):
        raise ValueError(f"region must be [N, H, W] = {(n, h, w)}, got {tuple(region.shape)}")
    if isinstance(radius, (str, bytes)) or not hasattr(radius, "__len__") or len(radius) != 2:
        raise TypeError(f"radius must be a pair (low, high) of fractions of the image side, got {describe(radius)}")
    lo = check_number(radius[0], "radius[0]", low=0.0, high=1.0, low_open=True)
    check_number(radius[1], "radius[1]", low=lo, high=1.0)
    check_number(intensity, "intensity", low=0.0, high=1.0)
    check_generator(generator)
    if isinstance(generator, list):
        raise TypeError("generator must be one torch.Generator for synthetic_lesions, got a list")
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out, masks = images.clone(), torch.zeros(n, h, w, dtype=torch.long)
    for i in range(n):
        cand = region[i].nonzero()
        if len(cand) == 0:
            raise ValueError(f"image {i} has an empty region")
        cy, cx = cand[torch.randint(0, len(cand), (1,), generator=generator)][0].float()
        r = radius[0] + (radius[1] - radius[0]) * torch.rand(2, generator=generator)
        ry, rx = (r * torch.tensor([h, w])).clamp_min(1.0)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        masks[i] = inside.long()
        out[i][:, inside] = 0.3 * out[i][:, inside] + 0.7 * intensity
    return out, masks
