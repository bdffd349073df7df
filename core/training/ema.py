"""Exponential moving average of network weights.

``theta_ema <- decay_t * theta_ema + (1 - decay_t) * theta`` after every optimizer step
(Polyak averaging; DDPM samples from the EMA with decay 0.9999, Ho et al. 2020, App. B).
The warm-up keeps the average from being dominated by the random initialisation:

* ``"tf"``: ``decay_t = min(decay, (1 + t) / (10 + t))`` — TensorFlow's
  ``ExponentialMovingAverage(num_updates=t)`` as used by the score-SDE code base (Song et al.
  2021, ``models/ema.py``) and LDM's ``LitEma`` (Rombach et al. 2022, ``ldm/modules/ema.py``).
* ``"power"``: ``decay_t = min(decay, 1 - t ** -power)`` — the power warm-up with
  ``inv_gamma = 1`` of diffusers' ``EMAModel`` (after K. Crowson); power 2/3 suits ~1M-step
  runs, 3/4 shorter ones. The first update copies the weights (``decay_1 = 0``).
* ``"none"``: ``decay_t = decay``.

Here ``t >= 1`` numbers the update being applied (those code bases increment their counter
before computing the decay), so the first update uses ``2/11`` under ``"tf"``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA", "ema_decay_at"]


def ema_decay_at(t: int, decay: float, warmup: str = "tf", power: float = 2.0 / 3.0) -> float:
    """Decay applied by update number ``t`` (1-based) under the given warm-up rule."""
    if t < 1:
        raise ValueError(f"ema_decay_at: update number must be >= 1, got {t}")
    if warmup == "tf":
        return min(decay, (1.0 + t) / (10.0 + t))
    if warmup == "power":
        return min(decay, 1.0 - float(t) ** (-power))
    if warmup == "none":
        return decay
    raise ValueError(f"ema_decay_at: unknown warm-up {warmup!r} (expected 'tf', 'power' or 'none')")


class EMA:
    """An EMA copy of a network (``self.module``, eval mode, no gradients).

    Floating-point parameters and buffers are averaged; integer buffers (counters) are
    copied. The update is one fused ``_foreach_lerp_`` over all tensors.
    """

    def __init__(self, net: nn.Module, decay: float, warmup: str = "tf", power: float = 2.0 / 3.0):
        if not isinstance(net, nn.Module):
            raise TypeError(f"EMA needs an nn.Module, got {type(net).__name__}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        ema_decay_at(1, decay, warmup, power)  # validates the warm-up name
        self.decay, self.warmup, self.power = float(decay), warmup, float(power)
        self.num_updates = 0
        self.module = copy.deepcopy(net).eval()
        self.module.requires_grad_(False)
        self._pairs_cache: tuple | None = None
        self._source_id: int | None = None

    def _pairs(self, net: nn.Module):
        if self._pairs_cache is None or self._source_id != id(net):
            src = dict(net.state_dict(keep_vars=True))
            dst = dict(self.module.state_dict(keep_vars=True))
            if src.keys() != dst.keys():
                raise ValueError("EMA.update: the network's state keys differ from the EMA copy's")
            avg_d, avg_s, cp_d, cp_s = [], [], [], []
            for k, d in dst.items():
                s = src[k]
                if d.dtype.is_floating_point:
                    avg_d.append(d.data), avg_s.append(s.data)
                else:
                    cp_d.append(d.data), cp_s.append(s.data)
            self._pairs_cache = (avg_d, avg_s, cp_d, cp_s)
            self._source_id = id(net)
        return self._pairs_cache

    @torch.no_grad()
    def update(self, net: nn.Module) -> float:
        """Fold ``net``'s current weights into the average; returns the decay used."""
        decay = ema_decay_at(self.num_updates + 1, self.decay, self.warmup, self.power)
        avg_d, avg_s, cp_d, cp_s = self._pairs(net)
        if avg_d:
            torch._foreach_lerp_(avg_d, avg_s, 1.0 - decay)
        for d, s in zip(cp_d, cp_s):
            d.copy_(s)
        self.num_updates += 1
        return decay

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], num_updates: int) -> None:
        self.module.load_state_dict(state)
        self.num_updates = int(num_updates)
        self._pairs_cache = None
