"""A synthetic language with a known entropy: the order-2 Markov chain.

``p(x_i = c | x_{i-2} = a, x_{i-1} = b) = P[a, b, c]`` over ``K`` states, started from the
stationary distribution ``pi`` of the pair chain ``(a, b) -> (b, c)``. Its entropy rate is
``h = sum_{a,b} pi(a, b) H(P[a, b, :])`` (Cover & Thomas 2006, Thm. 4.2.4, applied to the
pair chain) and a stationary sequence of length ``L >= 2`` has the exact entropy
``H(x_1..x_L) = H(pi) + (L - 2) h``: the truth a language model's NLL is tested against.
"""
from __future__ import annotations

import numpy as np
import torch
from polydiff.core.validate import check_int, check_number, check_tensor, describe
from torch import Tensor

from .checks import check_ids, check_one_generator

__all__ = ["MarkovChain2"]


class MarkovChain2:
    """Order-2 Markov chain with transition tensor ``P`` ``[K, K, K]`` (rows sum to one)."""

    def __init__(self, transition: Tensor):
        if not isinstance(transition, (Tensor, np.ndarray, list, tuple)):
            raise TypeError(f"transition must be a [K, K, K] tensor or array, got {describe(transition)}")
        P = check_tensor(torch.as_tensor(transition, dtype=torch.float64), "transition")
        if P.ndim != 3 or not (P.shape[0] == P.shape[1] == P.shape[2]) or P.shape[0] < 2:
            raise ValueError(f"transition must be [K, K, K] with K >= 2, got {tuple(P.shape)}")
        if (P < 0).any() or not torch.allclose(P.sum(-1), torch.ones_like(P[..., 0]), atol=1e-9):
            raise ValueError("transition rows P[a, b, :] must be probabilities summing to one")
        self.P, self.K = P, P.shape[0]
        self.pi = self._stationary()

    @classmethod
    def random(cls, K: int, concentration: float = 0.3, *, seed: int = 0) -> MarkovChain2:
        """Rows drawn from ``Dirichlet(concentration)`` (small: peaked, low-entropy rows)."""
        K = check_int(K, "K", low=2)
        concentration = check_number(concentration, "concentration", low=0.0, low_open=True)
        seed = check_int(seed, "seed", low=0)
        rows = np.random.default_rng(seed).dirichlet(np.full(K, float(concentration)), size=(K, K))
        P = torch.from_numpy(np.maximum(rows, 1e-12))
        return cls(P / P.sum(-1, keepdim=True))

    def _stationary(self) -> Tensor:
        """``pi`` ``[K, K]``: the left eigenvector of the pair chain for eigenvalue 1
        (``pi M = pi``, ``sum pi = 1``), solved as a least-squares linear system."""
        K = self.K
        M = torch.zeros(K * K, K * K, dtype=torch.float64)
        for a in range(K):
            for b in range(K):
                M[a * K + b, b * K: (b + 1) * K] = self.P[a, b]
        A = torch.cat([M.t() - torch.eye(K * K, dtype=torch.float64), torch.ones(1, K * K, dtype=torch.float64)])
        rhs = torch.zeros(K * K + 1, 1, dtype=torch.float64)
        rhs[-1] = 1.0
        pi = torch.linalg.lstsq(A, rhs).solution[:, 0].clamp_min(0.0)
        # one step of the chain (pi M = pi for the stationary pi) makes the pairs no transition
        # reaches exactly 0: the solver's round-off (~1e-17, sign depending on the BLAS) must not
        # turn evidence of probability zero into a possible one
        pi = (pi / pi.sum()) @ M
        return (pi / pi.sum()).reshape(K, K)

    def entropy_rate(self) -> float:
        """``h`` in nats per token."""
        H_rows = -(self.P * torch.log(self.P.clamp_min(1e-300))).sum(-1)
        return float((self.pi * H_rows).sum())

    def sequence_entropy(self, length: int) -> float:
        """``H(x_1..x_L) = H(pi) + (L - 2) h`` in nats, for a stationary start."""
        length = check_int(length, "length", low=2)
        H_pi = -float((self.pi * torch.log(self.pi.clamp_min(1e-300))).sum())
        return H_pi + (length - 2) * self.entropy_rate()

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` ``[B]`` of state sequences ``x`` ``[B, L]``."""
        check_ids(x, "x", vocab_size=self.K)
        if x.shape[1] < 2:
            raise ValueError(f"x must be [B, L >= 2], got shape {tuple(x.shape)}")
        lp = torch.log(self.pi[x[:, 0], x[:, 1]])
        return lp + torch.log(self.P[x[:, :-2], x[:, 1:-1], x[:, 2:]]).sum(1)

    def posterior_marginals(self, z: Tensor, mask_id: int) -> Tensor:
        """Exact ``p(x_i = c | visible tokens of z)`` ``[B, L, K]`` (float64), where the slots of
        ``z`` ``[B, L]`` equal to ``mask_id`` are hidden: forward-backward over the pair chain
        (Rabiner 1989, eq. 18-27). The ideal masked-diffusion denoiser; with it the ELBO of
        masked diffusion equals the exact NLL in expectation."""
        check_ids(z, "z", ranged=False)
        if z.shape[1] < 2:
            raise ValueError(f"z must be [B, L >= 2], got shape {tuple(z.shape)}")
        mask_id = check_int(mask_id, "mask_id")
        if 0 <= mask_id < self.K:
            raise ValueError(f"mask_id must not be a state id in [0, {self.K}), got {mask_id}")
        hidden = z == mask_id
        if ((z < 0) | ((z >= self.K) & ~hidden)).any():
            raise ValueError(f"z holds ids that are neither states [0, {self.K}) nor mask_id={mask_id}")
        B, L, K = z.shape[0], z.shape[1], self.K
        e = torch.nn.functional.one_hot(z.clamp(0, K - 1), K).to(torch.float64)
        e = torch.where(hidden[..., None], torch.ones_like(e), e)  # e[b, i, c]: is c allowed at i
        fwd = [self.pi[None] * e[:, 0, :, None] * e[:, 1, None, :]]  # over pairs (x_{i-1}, x_i)
        fwd[0] = fwd[0] / fwd[0].sum((1, 2), keepdim=True)
        for i in range(2, L):
            a = torch.einsum("nab,abc->nbc", fwd[-1], self.P) * e[:, i, None, :]
            fwd.append(a / a.sum((1, 2), keepdim=True))
        bwd = [torch.ones(B, K, K, dtype=torch.float64)]
        for i in range(L - 1, 1, -1):
            b = torch.einsum("abc,nc,nbc->nab", self.P, e[:, i], bwd[0])
            bwd.insert(0, b / b.sum((1, 2), keepdim=True))
        out = torch.empty(B, L, K, dtype=torch.float64)
        for i in range(1, L):
            pair = fwd[i - 1] * bwd[i - 1]
            pair = pair / pair.sum((1, 2), keepdim=True)
            out[:, i] = pair.sum(1)
            if i == 1:
                out[:, 0] = pair.sum(2)
        bad = ~torch.isfinite(out).all(-1).all(-1)
        if bool(bad.any()):
            rows = bad.nonzero()[:, 0].tolist()
            raise ValueError(f"z rows {rows[:10]} have visible tokens of probability zero under this chain "
                             f"(no posterior exists)")
        return out

    def sample(self, n: int, length: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` stationary sequences ``[n, length]`` of states ``0..K-1`` (long)."""
        n = check_int(n, "n", low=1)
        length = check_int(length, "length", low=2)
        generator = check_one_generator(generator)
        K = self.K
        pair = torch.multinomial(self.pi.reshape(-1), n, replacement=True, generator=generator)
        x = [pair // K, pair % K]
        for _ in range(length - 2):
            x.append(torch.multinomial(self.P[x[-2], x[-1]], 1, generator=generator)[:, 0])
        return torch.stack(x, 1)

    def __repr__(self) -> str:
        return f"MarkovChain2(K={self.K}, entropy_rate={self.entropy_rate():.4f} nats)"

