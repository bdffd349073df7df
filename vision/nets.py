"""Image networks: the U-Net denoiser, a small evaluation classifier, diffusers loading.

* :class:`UNet` — the DDPM U-Net (Ho et al. 2020, App. B; Dhariwal & Nichol 2021): sinusoidal
  timestep embedding, residual blocks with GroupNorm, self-attention at low resolution,
  optional class embedding with a *null class* for classifier-free guidance (Ho & Salimans
  2022) and an optional conditioning image concatenated on the channels (SR3, Saharia et al.
  2022). ``features`` returns the decoder activations used for segmentation (Baranchuk et
  al. 2022).
* :class:`Classifier` — a small CNN used only for evaluation (accuracy of generated samples
  and a Fréchet distance in *its* feature space; this is not Inception FID).
* :func:`from_diffusers` — a locally saved diffusers ``UNet2DModel`` + scheduler config as a
  polydiff denoiser and process.

Checkpoints: :func:`save_net` / :func:`load_net` write safetensors weights plus a JSON config.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import pathlib
from typing import NamedTuple

import torch
import torch.nn.functional as F
from polydiff.core.validate import describe
from torch import Tensor, nn

__all__ = [
    "UNET_PREDICTIONS",
    "Classifier",
    "ClassifierConfig",
    "DiffusersDenoiser",
    "LoadedDenoiser",
    "UNet",
    "UNetConfig",
    "from_diffusers",
    "load_net",
    "save_net",
    "timestep_embedding",
]


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of (float) times ``t`` ``[B]`` -> ``[B, dim]`` (Vaswani et al. 2017,
    sec. 3.5, as used by DDPM): ``[cos(t w_k), sin(t w_k)]`` with ``w_k = max_period^(-k/half)``."""
    if dim < 2 or dim % 2:
        raise ValueError(f"embedding dim must be an even number >= 2, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


#: Output parameterizations a :class:`UNet` can be trained with (:mod:`polydiff.core.prediction`).
UNET_PREDICTIONS = ("eps", "x0", "v")


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """U-Net hyper-parameters (saved as JSON beside the weights).

    Attributes:
        in_channels: channels of the noisy image ``x``.
        out_channels: output channels (default ``in_channels``).
        cond_channels: channels of a conditioning image concatenated to ``x`` (0 = none).
        base: channels at the first level; level ``i`` has ``base * mults[i]``.
        mults: channel multipliers, one per resolution level.
        num_res_blocks: residual blocks per level.
        attention_levels: levels (0 = full resolution) that get self-attention.
        num_classes: classes for conditional models (0 = unconditional); class id
            ``num_classes`` is the null class used for classifier-free guidance.
        groups: GroupNorm groups.
        dropout: dropout inside residual blocks.
        time_scale: the time ``t`` is embedded as ``t * time_scale`` (1 for DiscreteVP's
            0..T-1 indices, ~1000 for continuous ``t`` in ``[0, 1]``).
        prediction: what the output means (``eps``, ``x0`` or ``v``; the targets of
            :mod:`polydiff.core.prediction`). Training and sampling read it from here, so it
            is saved with the weights and a checkpoint is always sampled as it was trained.
        residual: for super-resolution (``cond_channels > 0``): the network models the
            residual ``hr - bicubic(lr)`` instead of ``hr`` (SRDiff, Li et al. 2022, sec. 3.2).
        residual_scale: the residual is multiplied by this before diffusion, so that its
            spread is comparable to the unit noise (EDM's ``sigma_data`` argument, Karras et
            al. 2022, sec. 5; Chen 2023, sec. 3: scaling the data shifts the effective noise
            schedule). Photo residuals have a standard deviation of ~0.05 in model range.
    """

    in_channels: int = 1
    out_channels: int | None = None
    cond_channels: int = 0
    base: int = 32
    mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = (2,)
    num_classes: int = 0
    groups: int = 8
    dropout: float = 0.0
    time_scale: float = 1.0
    prediction: str = "eps"
    residual: bool = False
    residual_scale: float = 1.0

    def __post_init__(self):
        from polydiff.core.validate import check_int, check_number
        for name, low in (("in_channels", 1), ("cond_channels", 0), ("base", 1), ("num_res_blocks", 1),
                          ("num_classes", 0), ("groups", 1)):
            check_int(getattr(self, name), name, low=low)
        if self.out_channels is not None:
            check_int(self.out_channels, "out_channels", low=1)
        check_int(self.groups, "groups", low=1)
        check_int(self.base, "base", low=1)
        for name in ("mults", "attention_levels"):
            if isinstance(getattr(self, name), (str, bytes)) or not hasattr(getattr(self, name), "__iter__"):
                raise TypeError(f"{name} must be a tuple of ints, got {getattr(self, name)!r}")
            for i, v in enumerate(getattr(self, name)):
                check_int(v, f"{name}[{i}]")
        check_number(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_number(self.time_scale, "time_scale", low=0.0, low_open=True)
        if self.prediction not in UNET_PREDICTIONS:
            raise ValueError(f"prediction must be one of {UNET_PREDICTIONS}, got {self.prediction!r}")
        if not isinstance(self.residual, bool):
            raise TypeError(f"residual must be a bool, got {type(self.residual).__name__}")
        if not isinstance(self.residual_scale, (int, float)) or not 0 < self.residual_scale < float("inf"):
            raise ValueError(f"residual_scale must be a positive finite number, got {self.residual_scale!r}")
        if self.residual_scale != 1.0 and not self.residual:
            raise ValueError("residual_scale needs residual=True")
        if self.residual and self.cond_channels != self.in_channels:
            raise ValueError("residual=True is for super-resolution: it needs cond_channels == in_channels, "
                             f"got {self.cond_channels}, {self.in_channels}")
        if not self.mults or any(m < 1 for m in self.mults) or self.num_res_blocks < 1:
            raise ValueError(f"bad mults {self.mults} or num_res_blocks {self.num_res_blocks}")
        for m in self.mults:
            if (self.base * m) % self.groups:
                raise ValueError(f"channels {self.base * m} not divisible by groups {self.groups}")
        if any(not 0 <= a < len(self.mults) for a in self.attention_levels):
            raise ValueError(f"attention_levels {self.attention_levels} outside 0..{len(self.mults) - 1}")
        object.__setattr__(self, "mults", tuple(int(m) for m in self.mults))
        object.__setattr__(self, "attention_levels", tuple(int(a) for a in self.attention_levels))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time(/class) embedding added in between."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head spatial self-attention with a residual connection (DDPM, App. B)."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm, self.qkv, self.proj = nn.GroupNorm(groups, ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # [B, HW, C]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Unit(nn.Module):
    """A residual block optionally followed by self-attention."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int, dropout: float, attn: bool):
        super().__init__()
        self.res = ResBlock(cin, cout, emb_dim, groups, dropout)
        self.attn = Attention(cout, groups) if attn else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        return self.attn(self.res(x, emb))


class UNet(nn.Module):
    """DDPM-style U-Net denoiser ``net(x, t, y=None, x_cond=None) -> [B, out, H, W]``.

    ``x`` is ``[B, in_channels, H, W]`` with ``H, W`` divisible by ``2**(len(mults)-1)``;
    ``t`` a float ``[B]`` (or scalar) time; ``y`` long class ids ``[B]`` (``num_classes`` =
    null class); ``x_cond`` ``[B, cond_channels, H, W]``.
    """

    def __init__(self, config: UNetConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = UNetConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either a UNetConfig or keyword arguments, not both")
        self.config = c = config
        emb_dim = 4 * c.base
        self.time_mlp = nn.Sequential(nn.Linear(c.base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(c.num_classes + 1, emb_dim) if c.num_classes else None
        self.stem = nn.Conv2d(c.in_channels + c.cond_channels, c.base, 3, padding=1)
        chans = [c.base * m for m in c.mults]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, ch = [c.base], c.base
        for lvl, cout in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(c.num_res_blocks):
                blocks.append(Unit(ch, cout, emb_dim, c.groups, c.dropout, lvl in c.attention_levels))
                ch = cout
                skips.append(ch)
            self.down.append(blocks)
            last = lvl == len(chans) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            if not last:
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, emb_dim, c.groups, c.dropout)
        self.mid_attn = Attention(ch, c.groups)
        self.mid2 = ResBlock(ch, ch, emb_dim, c.groups, c.dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for lvl in reversed(range(len(chans))):
            blocks = nn.ModuleList()
            for _ in range(c.num_res_blocks + 1):
                blocks.append(Unit(ch + skips.pop(), chans[lvl], emb_dim, c.groups, c.dropout,
                                   lvl in c.attention_levels))
                ch = chans[lvl]
            self.up.append(blocks)
            self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1) if lvl else nn.Identity())
        self.out_norm = nn.GroupNorm(c.groups, ch)
        self.out = nn.Conv2d(ch, c.out_channels or c.in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def null_class(self) -> int:
        """The class id meaning "no label" (classifier-free guidance's unconditional input)."""
        if not self.config.num_classes:
            raise ValueError("this U-Net is unconditional (num_classes=0)")
        return self.config.num_classes

    def _check(self, x: Tensor, t: Tensor, y: Tensor | None, x_cond: Tensor | None) -> Tensor:
        c = self.config
        if x.ndim != 4 or x.shape[1] != c.in_channels:
            raise ValueError(f"x must be [B, {c.in_channels}, H, W], got {tuple(x.shape)}")
        f = 2 ** (len(c.mults) - 1)
        if x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"H and W must be divisible by {f}, got {tuple(x.shape[-2:])}")
        if isinstance(t, bool) or not isinstance(t, (Tensor, numbers.Real)):
            raise TypeError(f"t must be a tensor of times [B] or a number, got {describe(t)}")
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must be a scalar or [B]={x.shape[0]}, got {tuple(t.shape)}")
        if c.num_classes and y is not None:
            if y.shape != (x.shape[0],) or y.dtype not in (torch.int32, torch.int64):
                raise ValueError(f"y must be integer class ids of shape [{x.shape[0]}]")
            if (y < 0).any() or (y > c.num_classes).any():
                raise ValueError(f"y must hold class ids in 0..{c.num_classes} ({c.num_classes} = null), "
                                 f"got values in [{int(y.min())}, {int(y.max())}]")
        elif y is not None:
            raise ValueError("y given to an unconditional U-Net (num_classes=0)")
        if c.cond_channels:
            if x_cond is None or x_cond.shape != (x.shape[0], c.cond_channels, *x.shape[-2:]):
                raise ValueError(f"x_cond must be [B, {c.cond_channels}, H, W] matching x, got "
                                 f"{None if x_cond is None else tuple(x_cond.shape)}")
        elif x_cond is not None:
            raise ValueError("x_cond given to a U-Net built with cond_channels=0")
        return t

    def _run(self, x, t, y, x_cond, collect: bool):
        t = self._check(x, t, y, x_cond)
        c = self.config
        emb = self.time_mlp(timestep_embedding(t * c.time_scale, c.base).to(x.dtype))
        if self.class_emb is not None:
            if y is None:
                y = torch.full((x.shape[0],), c.num_classes, device=x.device, dtype=torch.long)
            emb = emb + self.class_emb(y)
        h = self.stem(torch.cat([x, x_cond], 1) if x_cond is not None else x)
        hs = [h]
        for blocks, down in zip(self.down, self.downsample):
            for unit in blocks:
                h = unit(h, emb)
                hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        feats = []
        for blocks, up in zip(self.up, self.upsample):
            for unit in blocks:
                h = unit(torch.cat([h, hs.pop()], 1), emb)
            if collect:
                feats.append(h)
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.out_norm(h))), feats

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None, x_cond: Tensor | None = None) -> Tensor:
        return self._run(x, t, y, x_cond, collect=False)[0]

    @torch.no_grad()
    def features(self, x: Tensor, t: Tensor, y: Tensor | None = None,
                 x_cond: Tensor | None = None) -> list[Tensor]:
        """Decoder activations, one ``[B, C_l, H_l, W_l]`` per level from low to full resolution
        (the representations Baranchuk et al. 2022 read out for segmentation)."""
        return self._run(x, t, y, x_cond, collect=True)[1]


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """Evaluation classifier: ``in_channels``, ``num_classes``, ``width`` (first conv width)."""

    in_channels: int = 1
    num_classes: int = 10
    width: int = 32

    def __post_init__(self):
        from polydiff.core.validate import check_int
        check_int(self.in_channels, "in_channels", low=1)
        check_int(self.num_classes, "num_classes", low=2)
        if check_int(self.width, "width", low=8) % 8:
            raise ValueError(f"width must be a multiple of 8 (GroupNorm groups), got {self.width}")


class Classifier(nn.Module):
    """Small CNN classifier for ``[0, 1]`` images; ``features`` gives the penultimate
    ``4 * width`` activations used for the feature-space Fréchet distance."""

    def __init__(self, config: ClassifierConfig | None = None, **kwargs):
        super().__init__()
        self.config = c = config if config is not None else ClassifierConfig(**kwargs)
        w = c.width
        self.body = nn.Sequential(
            nn.Conv2d(c.in_channels, w, 3, padding=1), nn.GroupNorm(8, w), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.GroupNorm(8, 2 * w), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.GroupNorm(8, 4 * w), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * w, c.num_classes)

    def features(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"x must be [B, {self.config.in_channels}, H, W], got {tuple(x.shape)}")
        return self.body(x * 2 - 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


_NETS = {"UNet": (UNet, UNetConfig), "Classifier": (Classifier, ClassifierConfig)}


def save_net(net: nn.Module, folder: str | pathlib.Path) -> pathlib.Path:
    """Save a :class:`UNet` or :class:`Classifier` as ``model.safetensors`` + ``config.json``."""
    from safetensors.torch import save_file
    kind = type(net).__name__
    if kind not in _NETS:
        raise TypeError(f"save_net handles {list(_NETS)}, got {kind}")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"class": kind, **dataclasses.asdict(net.config)}, indent=1))
    # weights last, renamed into place: a complete model.safetensors means a complete folder
    # (caches test for it), also when the writer is killed half-way
    tmp = folder / "model.safetensors.tmp"
    save_file({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}, str(tmp))
    os.replace(tmp, folder / "model.safetensors")
    return folder


def load_net(folder: str | pathlib.Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a network written by :func:`save_net` (no unpickling; a truncated or corrupt weights
    file raises an error that names it)."""
    from polydiff.core.training.checkpoint import load_weights
    from polydiff.core.training.serialize import read_safetensors
    from polydiff.core.validate import describe
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {describe(folder)}")
    folder = pathlib.Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} lacks config.json or model.safetensors")
    cls, config = _read_config(folder / "config.json")
    net = cls(config)
    load_weights(net, read_safetensors(folder / "model.safetensors"), folder / "model.safetensors")
    return net.to(device)


def _read_config(file: pathlib.Path):
    """The network class and config recorded in ``file``; every problem names the file."""
    try:
        cfg = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{file}: not a JSON network config ({err})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{file}: must hold a JSON object, got {type(cfg).__name__}")  # noqa: TRY004 (bad file content)
    kind = cfg.pop("class", None)
    if kind not in _NETS:
        raise ValueError(f"unknown network class {kind!r} in {file}")
    cls, cfg_cls = _NETS[kind]
    unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(cfg_cls)})
    if unknown:
        raise ValueError(f"{file}: unknown {cfg_cls.__name__} keys {unknown}")
    try:
        return cls, cfg_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{file}: invalid {cfg_cls.__name__} ({err})") from None


class DiffusersDenoiser(nn.Module):
    """A diffusers ``UNet2DModel`` behind polydiff's ``model(x, t, **cond)`` contract.

    ``t`` is DiscreteVP's timestep index as a float ``[B]``; ``y`` maps to ``class_labels``.
    """

    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        t = torch.as_tensor(t, device=x.device)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        return self.unet(x, t.to(torch.float32), class_labels=y).sample


class LoadedDenoiser(NamedTuple):
    """What :func:`from_diffusers` returns: denoiser, process and the prediction kind."""

    denoiser: DiffusersDenoiser
    process: object
    prediction: str


_PREDICTION = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def from_diffusers(folder: str | pathlib.Path, device: str | torch.device = "cpu") -> LoadedDenoiser:
    """Load a locally saved diffusers ``UNet2DModel`` and its scheduler config.

    ``folder`` is either a pipeline folder (``unet/`` and ``scheduler/`` sub-folders, as
    ``DDPMPipeline.save_pretrained`` writes) or a folder holding both the U-Net files and a
    ``scheduler_config.json``. The process is ``polydiff.core.DiscreteVP.from_diffusers(cfg)``,
    which keeps the scheduler's time-grid conventions.

    Returns:
        ``(denoiser, process, prediction)`` ready for ``pc.sample(denoiser, process, x_T,
        prediction=prediction, ...)``.
    """
    try:
        import diffusers
    except ImportError:
        raise ImportError("from_diffusers needs diffusers: pip install diffusers") from None
    import polydiff.core as pc
    folder = pathlib.Path(folder)
    unet_dir = folder / "unet" if (folder / "unet").is_dir() else folder
    sched = next((p for p in (folder / "scheduler" / "scheduler_config.json",
                              folder / "scheduler_config.json") if p.is_file()), None)
    if not (unet_dir / "config.json").is_file():
        raise FileNotFoundError(f"no diffusers UNet config.json in {unet_dir}")
    if sched is None:
        raise FileNotFoundError(f"no scheduler_config.json in {folder} or {folder / 'scheduler'}")
    cfg = json.loads(sched.read_text())
    kind = cfg.get("prediction_type", "epsilon")
    if kind not in _PREDICTION:
        raise ValueError(f"unsupported diffusers prediction_type {kind!r}")
    unet = diffusers.UNet2DModel.from_pretrained(str(unet_dir)).to(device).eval()
    return LoadedDenoiser(DiffusersDenoiser(unet), pc.DiscreteVP.from_diffusers(cfg), _PREDICTION[kind])
