"""Label-efficient semantic segmentation from denoiser features (Baranchuk et al. 2022).

A denoiser trained without labels is a feature extractor: the image is noised to a few
times ``t`` (sec. 4: ``t in {50, 150, 250}`` of 1000), the decoder activations of the U-Net
are up-sampled to the image size and concatenated into one descriptor per pixel, and an
ensemble of small pixel MLPs (sec. 4: 10 MLPs, hidden 256/128, ReLU + BatchNorm) is trained
on the few labelled images; predictions average the members' probabilities.

Default times ``t in {10, 50, 150}``: the paper's levels suit its 256-px ADM; the small U-Nets
here keep more boundary detail at lower noise (validation mIoU, mean over 2/5/10 labels,
``bench/results/supplementary/vision-segment-timesteps.json``: MNI152 0.769 -> 0.824, nuclei
0.883 -> 0.892 against 50/150/250).

Memory: features are computed one image at a time (``FeatureExtractor.stream``); training
keeps only ``pixels_per_image`` sampled pixels per labelled image and prediction works image
by image in pixel chunks, so the features of all pixels of all images never coexist.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from polydiff.core.validate import check_int, check_number, describe
from torch import Tensor, nn

from ._common import check_image_shape, check_process
from .data import check_images, to_model_range
from .nets import UNet, UNetConfig

__all__ = ["FeatureExtractor", "PixelMLPEnsemble", "Segmenter", "train_segmenter", "train_unet_segmenter"]


def _check_labels(labels: Tensor, images: Tensor, num_classes: int) -> None:
    if not isinstance(labels, Tensor) or torch.is_floating_point(labels):
        raise TypeError(f"labels must be an integer tensor [N, H, W], got {describe(labels)}")
    if labels.shape != (images.shape[0], *images.shape[-2:]):
        raise ValueError(f"labels must be [N, H, W] = {(images.shape[0], *images.shape[-2:])}, got {tuple(labels.shape)}")
    if (labels < 0).any() or (labels >= num_classes).any():
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (num_classes={num_classes}), "
                         f"got values in [{int(labels.min())}, {int(labels.max())}]")


class FeatureExtractor:
    """Per-pixel descriptors from a denoiser's decoder at fixed noise levels.

    Args:
        net: a :class:`~polydiff.vision.nets.UNet` (its ``features`` method is read).
        process: the process ``net`` was trained with (``marginal`` noises the input).
        timesteps: times at which features are read (in the process's time).
        levels: which decoder levels to keep (indices into ``net.features``; default all).
        seed: seeds the fixed noise ``eps`` of each timestep (same for every image).
    """

    def __init__(self, net: UNet, process, timesteps: Sequence[float] = (10, 50, 150),
                 levels: Sequence[int] | None = None, seed: int = 0):
        if not isinstance(net, UNet):
            raise TypeError(f"net must be a polydiff.vision.nets.UNet (a denoiser whose features(x, t) give "
                            f"decoder activations), got {type(net).__name__}")
        check_process(process)
        if isinstance(timesteps, (str, bytes)) or not isinstance(timesteps, Sequence):
            raise TypeError(f"timesteps must be a sequence of times, got {describe(timesteps)}")
        if len(timesteps) == 0:
            raise ValueError("timesteps must not be empty")
        for i, t in enumerate(timesteps):
            process.check_t(torch.tensor(check_number(t, f"timesteps[{i}]")), f"timesteps[{i}]")
        if levels is not None:
            if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence) or not levels:
                raise TypeError(f"levels must be a non-empty sequence of decoder-level indices, got {describe(levels)}")
            levels = tuple(check_int(v, f"levels[{i}]", low=0) for i, v in enumerate(levels))
        seed = check_int(seed, "seed")
        self.net, self.process = net, process
        self.timesteps, self.levels, self.seed = tuple(float(t) for t in timesteps), levels, seed

    @torch.no_grad()
    def __call__(self, images: Tensor) -> Tensor:
        """Features ``[N, D, H, W]`` of a (small) batch of ``[N, C, H, W]`` images in [0, 1]."""
        check_images(images)
        check_image_shape(self.net, images.shape[1:], "images' (C, H, W)")
        dev = next(self.net.parameters()).device
        x0 = to_model_range(images.to(dev))
        out = []
        for k, t in enumerate(self.timesteps):
            g = torch.Generator().manual_seed(self.seed + 7919 * k)
            eps = torch.randn(x0.shape[1:], generator=g).to(dev).expand_as(x0)
            tt = torch.full((len(x0),), t, dtype=torch.float64)
            feats = self.net.features(self.process.marginal(x0, tt, eps), tt.to(dev).float())
            if self.levels is not None:
                if max(self.levels) >= len(feats):
                    raise ValueError(f"levels must index the net's {len(feats)} decoder levels "
                                     f"(0..{len(feats) - 1}), got {self.levels}")
                feats = [feats[i] for i in self.levels]
            out += [F.interpolate(f, size=x0.shape[-2:], mode="bilinear", align_corners=False) for f in feats]
        return torch.cat(out, 1)

    def stream(self, images: Tensor) -> Iterator[Tensor]:
        """Yield the ``[1, D, H, W]`` features of one image at a time."""
        for i in range(len(images)):
            yield self(images[i:i + 1])


class PixelMLPEnsemble(nn.Module):
    """``n_models`` MLPs ``D -> 256 -> 128 -> K`` (ReLU, BatchNorm), features standardised
    with the training pool's mean/std; ``forward`` returns mean class probabilities."""

    def __init__(self, in_dim: int, num_classes: int, n_models: int = 10, hidden: Sequence[int] = (256, 128)):
        super().__init__()
        in_dim, num_classes = check_int(in_dim, "in_dim", low=1), check_int(num_classes, "num_classes", low=2)
        n_models = check_int(n_models, "n_models", low=1)
        hidden = tuple(check_int(h, f"hidden[{i}]", low=1) for i, h in enumerate(hidden))

        def mlp():
            layers, d = [], in_dim
            for h in hidden:
                layers += [nn.Linear(d, h), nn.ReLU(), nn.BatchNorm1d(h)]
                d = h
            return nn.Sequential(*layers, nn.Linear(d, num_classes))
        self.members = nn.ModuleList(mlp() for _ in range(n_models))
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.num_classes = num_classes

    def logits(self, feats: Tensor, member: int) -> Tensor:
        return self.members[member]((feats - self.mean) / self.std)

    def forward(self, feats: Tensor) -> Tensor:
        if feats.ndim != 2 or feats.shape[1] != self.mean.numel():
            raise ValueError(f"features must be [P, {self.mean.numel()}], got {tuple(feats.shape)}")
        return torch.stack([F.softmax(self.logits(feats, m), -1) for m in range(len(self.members))]).mean(0)


class Segmenter:
    """Feature extractor + pixel-MLP ensemble; :meth:`predict` segments images one at a time."""

    def __init__(self, extractor: FeatureExtractor, ensemble: PixelMLPEnsemble):
        self.extractor, self.ensemble = extractor, ensemble

    @torch.no_grad()
    def predict_proba(self, images: Tensor, chunk: int = 8192) -> Tensor:
        """Class probabilities ``[N, K, H, W]``."""
        check_images(images)
        chunk = check_int(chunk, "chunk", low=1)
        self.ensemble.eval()
        out = []
        for f in self.extractor.stream(images):
            flat = f[0].flatten(1).T  # [HW, D]
            p = torch.cat([self.ensemble(flat[i:i + chunk]) for i in range(0, len(flat), chunk)])
            out.append(p.T.reshape(1, -1, *f.shape[-2:]).cpu())
        return torch.cat(out)

    def predict(self, images: Tensor) -> Tensor:
        """Label maps ``[N, H, W]``."""
        return self.predict_proba(images).argmax(1)


def train_segmenter(extractor: FeatureExtractor, images: Tensor, labels: Tensor, num_classes: int, *,
                    n_models: int = 10, pixels_per_image: int = 4096, epochs: int = 8,
                    batch_size: int = 256, lr: float = 1e-3, seed: int = 0) -> Segmenter:
    """Train the pixel-MLP ensemble on a few labelled images (Baranchuk et al. 2022, sec. 4).

    Args:
        images: ``[N, C, H, W]`` in [0, 1] (N is small: 2-20).
        labels: ``[N, H, W]`` integer class maps.
        pixels_per_image: pixels sampled from each image's feature map for the training pool.
        epochs: passes over the pool per ensemble member (each member sees its own order).
    """
    if not isinstance(extractor, FeatureExtractor):
        raise TypeError(f"extractor must be a FeatureExtractor, got {describe(extractor)}")
    check_images(images)
    num_classes = check_int(num_classes, "num_classes", low=2)
    _check_labels(labels, images, num_classes)
    for name, v in (("n_models", n_models), ("pixels_per_image", pixels_per_image), ("epochs", epochs),
                    ("batch_size", batch_size)):
        check_int(v, name, low=1)
    check_number(lr, "lr", low=0.0, low_open=True)
    seed = check_int(seed, "seed")
    g = torch.Generator().manual_seed(seed)
    pool_x, pool_y = [], []
    for i, f in enumerate(extractor.stream(images)):
        flat, y = f[0].flatten(1).T.cpu(), labels[i].flatten()
        idx = torch.randperm(len(flat), generator=g)[:pixels_per_image]
        pool_x.append(flat[idx])
        pool_y.append(y[idx])
    X, Y = torch.cat(pool_x), torch.cat(pool_y)
    with torch.random.fork_rng():  # deterministic member initialisations, global RNG untouched
        torch.manual_seed(seed)
        ens = PixelMLPEnsemble(X.shape[1], num_classes, n_models)
    ens.mean.copy_(X.mean(0))
    ens.std.copy_(X.std(0).clamp_min(1e-6))
    ens.train()
    for m in range(n_models):
        opt = torch.optim.Adam(ens.members[m].parameters(), lr=lr)
        for _ in range(epochs):
            perm = torch.randperm(len(X), generator=g)
            for s in range(0, len(X) - 1, batch_size):
                b = perm[s:s + batch_size]
                if len(b) < 2:
                    continue
                loss = F.cross_entropy(ens.logits(X[b], m), Y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
    ens.eval()
    return Segmenter(extractor, ens)


class _FixedTime(nn.Module):
    def __init__(self, net: UNet):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(to_model_range(x), torch.zeros(len(x), device=x.device))


def train_unet_segmenter(images: Tensor, labels: Tensor, num_classes: int, *, steps: int = 300,
                         base: int = 16, mults: tuple[int, ...] = (1, 2, 2), lr: float = 1e-3,
                         batch_size: int = 4, seed: int = 0, init: UNet | None = None) -> nn.Module:
    """A U-Net trained on the labelled images (cross-entropy, random flips), read at ``t = 0``.
    Returns a module mapping ``[N, C, H, W]`` to logits.

    Without ``init``: the baseline, the same U-Net architecture (``base``, ``mults``) from
    scratch. With ``init`` (a trained denoiser's U-Net, left unchanged): its architecture and
    weights fine-tuned as the segmentation network, the output convolution replaced by a
    zero-initialised one with ``num_classes`` channels (``base`` and ``mults`` are then init's).
    """
    if init is not None and not isinstance(init, UNet):
        raise TypeError(f"init must be a polydiff.vision UNet (a trained denoiser) or None, got {describe(init)}")
    check_images(images)
    num_classes = check_int(num_classes, "num_classes", low=2)
    _check_labels(labels, images, num_classes)
    steps, batch_size = check_int(steps, "steps", low=1), check_int(batch_size, "batch_size", low=1)
    check_number(lr, "lr", low=0.0, low_open=True)
    seed = check_int(seed, "seed")
    if init is not None:
        mults = init.config.mults
        if init.config.in_channels != images.shape[1] or init.config.cond_channels or init.config.num_classes:
            raise ValueError(f"init must be an unconditional U-Net on {images.shape[1]}-channel images, got "
                             f"in_channels={init.config.in_channels}, cond_channels={init.config.cond_channels}, "
                             f"num_classes={init.config.num_classes}")
    f = 2 ** (len(mults) - 1)
    if images.shape[-1] % f or images.shape[-2] % f:
        raise ValueError(f"images: H and W must be divisible by {f} (the U-Net's {len(mults)} levels), "
                         f"got {tuple(images.shape[-2:])}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if init is None:
            net = _FixedTime(UNet(UNetConfig(in_channels=images.shape[1], out_channels=num_classes,
                                             base=base, mults=mults, attention_levels=())))
        else:
            unet = UNet(dataclasses.replace(init.config, out_channels=num_classes))
            kept = {k: v for k, v in init.state_dict().items() if not k.startswith("out.")}
            missing, unexpected = unet.load_state_dict(kept, strict=False)
            if unexpected or not all(k.startswith("out.") for k in missing):  # pragma: no cover - same config
                raise RuntimeError(f"init's weights do not fit its own architecture: {missing}, {unexpected}")
            nn.init.zeros_(unet.out.weight)
            nn.init.zeros_(unet.out.bias)
            net = _FixedTime(unet.to(images.device))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        b = torch.randint(0, len(images), (min(batch_size, len(images)),), generator=g)
        x, y = images[b], labels[b]
        if bool(torch.rand((), generator=g) < 0.5):
            x, y = x.flip(-1), y.flip(-1)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()
