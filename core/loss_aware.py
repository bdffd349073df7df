"""Loss-aware timestep sampling for discrete-time training (Nichol & Dhariwal 2021, eq. 17).

``p_t ∝ sqrt(E[L_t^2])`` over the last ``history`` losses seen at each index ``t``, mixed with
``uniform_prob`` of the uniform law; the loss of a draw is multiplied by ``1 / (T p_t)``, so
``E_{t~p}[L_t / (T p_t)] = mean_t L_t``: the objective is unchanged and only its variance
falls. Until every index holds ``history`` losses the draw is uniform (weights 1). DiffuSeq
trains with it (``schedule_sampler: lossaware``, Gong et al. 2023).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .validate import check_generator, check_int, check_number, check_tensor

__all__ = ["LossSecondMomentResampler"]


class LossSecondMomentResampler:
    """Draw indices ``t`` in ``[0, num_timesteps)`` with ``p_t ∝ sqrt(E[L_t^2])`` (eq. 17).

    Args:
        num_timesteps: ``T``, the number of training indices.
        history: losses kept per index (10 in the paper's code).
        uniform_prob: mass of the uniform law mixed into ``p`` (0.001), so no index starves.
    """

    def __init__(self, num_timesteps: int, history: int = 10, uniform_prob: float = 0.001):
        check_int(num_timesteps, "num_timesteps", low=1)
        check_int(history, "history", low=1)
        check_number(uniform_prob, "uniform_prob", low=0.0, high=1.0)
        self.num_timesteps, self.history, self.uniform_prob = num_timesteps, history, float(uniform_prob)
        self._losses = torch.zeros(num_timesteps, history, dtype=torch.float64)
        self._counts = torch.zeros(num_timesteps, dtype=torch.long)

    @property
    def warmed_up(self) -> bool:
        """Whether every index holds ``history`` losses (before that the draw is uniform)."""
        return bool((self._counts == self.history).all())

    def probabilities(self) -> Tensor:
        """``p`` ``[T]`` (float64): uniform until warmed up, then eq. 17 with the uniform mix."""
        T = self.num_timesteps
        if not self.warmed_up:
            return torch.full((T,), 1.0 / T, dtype=torch.float64)
        w = self._losses.pow(2).mean(1).sqrt()
        if not bool(w.sum() > 0):  # every recorded loss is zero: nothing to prefer
            return torch.full((T,), 1.0 / T, dtype=torch.float64)
        return (1 - self.uniform_prob) * w / w.sum() + self.uniform_prob / T

    def sample(self, batch: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        """``(t [batch] int64, weights [batch] float32)`` with ``weights = 1 / (T p_t)``."""
        check_int(batch, "batch", low=1)
        check_generator(generator, "generator")
        p = self.probabilities()
        gen_device = generator.device if generator is not None else torch.device("cpu")
        t = torch.multinomial(p.to(gen_device), batch, replacement=True, generator=generator)
        w = 1.0 / (self.num_timesteps * p[t.cpu()])
        return t.to(device), w.to(device=device, dtype=torch.float32)

    def update(self, t: Tensor, losses: Tensor) -> None:
        """Record the per-sample ``losses`` ``[B]`` seen at indices ``t`` ``[B]`` (oldest dropped)."""
        check_tensor(t, "t", ndim=1)
        check_tensor(losses, "losses", ndim=1)
        if t.shape != losses.shape:
            raise ValueError(f"losses must have the shape of t {tuple(t.shape)}, got {tuple(losses.shape)}")
        idx = t.detach().cpu().long()
        if bool(((idx < 0) | (idx >= self.num_timesteps)).any()) or not bool((idx == t.detach().cpu()).all()):
            raise ValueError(f"t must hold integer indices in [0, {self.num_timesteps}), got {t.tolist()[:8]}")
        for i, loss in zip(idx.tolist(), losses.detach().cpu().double().tolist()):
            if self._counts[i] == self.history:
                self._losses[i, :-1] = self._losses[i, 1:].clone()
                self._losses[i, -1] = loss
            else:
                self._losses[i, self._counts[i]] = loss
                self._counts[i] += 1
