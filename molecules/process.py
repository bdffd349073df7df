"""The conformer diffusion process: GeoDiff's schedule, CoM-free noise, the training loss.

Coordinates live in the zero-centre-of-mass subspace (translation invariance; Xu et al. 2022,
Sec. 4.1 and App. A; Hoogeboom et al. 2022, EDM eq. 4): the noise is a standard Gaussian
projected per molecule onto ``sum_i x_i = 0``, and every sampler step is projected back.

Two layouts of a set of conformers appear:

- *packed*: ``pos [N, 3]`` with ``batch [N]`` (graph of every atom), what the networks take;
- *padded*: ``x [B, A, 3]`` with ``mask [B, A]``, what :func:`polydiff.core.sample` steps
  (it needs per-sample tensors ``[B, ...]``); padded entries stay exactly zero.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "ComFreeNoise",
    "PaddedDenoiser",
    "center",
    "com_free_noise",
    "conformer_loss",
    "from_padded",
    "geodiff_process",
    "global_cutoff_t",
    "masked_zero_center",
    "to_padded",
    "true_scale_input",
]


def geodiff_process(T: int = 5000, beta_start: float = 1e-7, beta_end: float = 2e-3):
    """GeoDiff's ``DiscreteVP``: sigmoid betas over ``T`` steps (Xu et al. 2022, App. C: T=5000,
    ``beta_1 = 1e-7``, ``beta_T = 2e-3``)."""
    import polydiff.core as pc

    if T < 2:
        raise ValueError(f"T must be >= 2, got {T}")
    proc = pc.DiscreteVP.from_schedule("sigmoid", T, beta_start=beta_start, beta_end=beta_end)
    a_T = float(proc.alpha(torch.tensor(proc.t_max, dtype=torch.float64)))
    if a_T > 0.1:
        warnings.warn(f"sigmoid schedule with T={T}, beta_end={beta_end} ends at alpha={a_T:.3f}: "
                      "samples started from N(0, I) will not match the training marginal "
                      "(GeoDiff uses T=5000)", stacklevel=2)
    return proc


def global_cutoff_t(process, global_start_sigma: float = 0.5) -> float:
    """Time below which GeoDiff's global (radius-edge) score is used.

    GeoDiff perturbs ``x0 + s eps`` with ``s = sigma/alpha`` and switches the global score on
    where ``s < global_start_sigma`` (0.5 in its configs); in VP coordinates that is
    ``log_snr(t) > -2 log(global_start_sigma)``.
    """
    if global_start_sigma <= 0:
        raise ValueError(f"global_start_sigma must be positive, got {global_start_sigma}")
    lam = torch.tensor(-2.0 * torch.log(torch.tensor(float(global_start_sigma))).item(), dtype=torch.float64)
    t = float(process.t_from_log_snr(lam))
    return min(max(t, float(process.t_min)), float(process.t_max))


def center(v: Tensor, batch: Tensor, num_graphs: int | None = None) -> Tensor:
    """Subtract the per-molecule mean of ``v [N, 3]`` (``batch [N]`` graph ids)."""
    from torch_geometric.utils import scatter

    if v.ndim != 2 or batch.shape != (v.shape[0],):
        raise ValueError(f"need v [N, D] and batch [N], got {tuple(v.shape)}, {tuple(batch.shape)}")
    mean = scatter(v, batch, dim=0, dim_size=num_graphs, reduce="mean")
    return v - mean[batch]


def com_free_noise(batch: Tensor, *, dim: int = 3, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard Gaussian ``[N, dim]`` projected onto zero mean per molecule.

    Within a molecule of ``n`` atoms this is ``N(0, I)`` on the ``(n-1) dim``-dimensional
    subspace (per-coordinate variance ``(n-1)/n``).
    """
    eps = torch.randn(batch.shape[0], dim, generator=generator, dtype=dtype,
                      device=generator.device if generator is not None else batch.device)
    return center(eps, batch.to(eps.device))


def masked_zero_center(x: Tensor, mask: Tensor) -> Tensor:
    """Padded layout: remove the centre of mass of ``x [B, A, 3]`` over ``mask [B, A]``; zero padding."""
    m = mask.to(x.dtype)[..., None]
    com = (x * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1)
    return (x - com) * m


class ComFreeNoise:
    """Noise sampler for :func:`polydiff.core.sample` (``noise=``) in the padded layout.

    ``noise(x, step)`` draws a Gaussian shaped like ``x [B, A, 3]``, removes each conformer's
    centre of mass over its real atoms and zeroes the padding. ``generator`` may be one
    ``torch.Generator`` or a list with one per conformer (batch-size independent draws).
    """

    def __init__(self, mask: Tensor, generator: torch.Generator | Sequence[torch.Generator] | None = None):
        if mask.ndim != 2:
            raise ValueError(f"mask must be [B, A], got {tuple(mask.shape)}")
        self.mask, self.generator = mask.bool(), generator

    def __call__(self, x: Tensor, step: int = 0) -> Tensor:
        if x.shape[:2] != self.mask.shape:
            raise ValueError(f"x {tuple(x.shape)} does not match the mask {tuple(self.mask.shape)}")
        mask = self.mask.to(x.device)
        if isinstance(self.generator, (list, tuple)):
            if len(self.generator) != x.shape[0]:
                raise ValueError(f"got {len(self.generator)} generators for {x.shape[0]} conformers")
            # draw only each conformer's real atoms: its noise does not depend on the padding
            eps = torch.zeros_like(x)
            for row, g in enumerate(self.generator):
                n = int(mask[row].sum())
                eps[row, mask[row]] = torch.randn(n, *x.shape[2:], generator=g, device=g.device,
                                                  dtype=x.dtype).to(x.device)
        else:
            eps = torch.randn(x.shape, generator=self.generator, dtype=x.dtype,
                              device=self.generator.device if self.generator is not None else x.device).to(x.device)
        return masked_zero_center(eps, mask)


def to_padded(pos: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
    """Packed ``pos [N, 3]`` → ``(x [B, A, 3], mask [B, A])`` (A = largest molecule)."""
    from torch_geometric.utils import to_dense_batch

    return to_dense_batch(pos, batch)


def from_padded(x: Tensor, mask: Tensor) -> Tensor:
    """Padded ``x [B, A, 3]`` → packed ``[N, 3]`` (inverse of :func:`to_padded`)."""
    return x[mask]


class _TrueScale:
    """``net(x_t / alpha(t), t, batch)``; see :func:`true_scale_input`."""

    def __init__(self, net, process):
        self.net, self.process = net, process
        self.config = net.config

    def parameters(self):
        return self.net.parameters()

    def __call__(self, pos: Tensor, t: Tensor, batch) -> Tensor:
        n_graphs = int(batch.num_graphs) if hasattr(batch, "num_graphs") else 1
        t = torch.as_tensor(t, device=pos.device)
        t_graph = t.expand(n_graphs) if t.ndim == 0 else t
        alpha = self.process.alpha(t_graph.to(torch.float64)).to(device=pos.device, dtype=pos.dtype)
        nb = getattr(batch, "batch", None)
        nb = nb.to(pos.device) if nb is not None else torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        return self.net(pos / alpha[nb][:, None], t, batch)


def true_scale_input(net, process):
    """What the samplers and the loss call: ``net`` itself, or, when ``net.config.true_scale``,
    ``net`` fed ``x_t / alpha(t) = x0 + (sigma/alpha) eps`` (GeoDiff's perturbed coordinates,
    Xu et al. 2022, eq. 3): distances at the data's scale at every noise level instead of bonds
    shrunk by ``alpha`` (x0.89 at ``s = 0.5``). The prediction is still ``eps``."""
    config = getattr(net, "config", None)
    if not getattr(config, "true_scale", False):
        return net
    if process is None:
        raise ValueError("a true-scale network (NetConfig.true_scale=True) needs its process to divide by alpha(t)")
    return _TrueScale(net, process)


class PaddedDenoiser:
    """The model closure for :func:`polydiff.core.sample`: padded ``x [B, A, 3]`` → ``eps``.

    Unpacks the real atoms, calls ``net(pos, t, graph_batch)``, projects the prediction onto
    the zero-CoM subspace and optionally clips each atom's ``eps`` vector to norm ``clip``
    (GeoDiff's ``clip`` of the predicted score; sampling only), then re-pads with zeros.
    """

    def __init__(self, net, graph_batch, mask: Tensor, *, clip: float | None = None):
        if clip is not None and not (0 < clip < float("inf")):
            raise ValueError(f"clip must be a finite positive number or None, got {clip}")
        if int(mask.sum()) != graph_batch.num_nodes:
            raise ValueError(f"mask selects {int(mask.sum())} atoms, the graph batch has {graph_batch.num_nodes}")
        self.net, self.graph, self.mask, self.clip = net, graph_batch, mask.bool(), clip
        self.nfe = 0

    @torch.no_grad()
    def __call__(self, x: Tensor, t: Tensor, **cond) -> Tensor:
        self.nfe += 1
        pos = x[self.mask]
        p = next(self.net.parameters(), None)
        dtype = p.dtype if p is not None else x.dtype
        eps = self.net(pos.to(dtype), t, self.graph).to(x.dtype)
        eps = center(eps, self.graph.batch, x.shape[0])
        if self.clip is not None:
            n = eps.norm(dim=-1, keepdim=True)
            eps = eps * (self.clip / n.clamp_min(self.clip))
        out = torch.zeros_like(x)
        out[self.mask] = eps
        return out


def conformer_loss(net, process, graph_batch, generator: torch.Generator | None = None, *,
                   t: Tensor | None = None, eps: Tensor | None = None) -> Tensor:
    """Denoising loss ``E ||eps - eps_hat(alpha x0 + sigma eps, t)||^2`` with CoM-free ``eps``.

    ``t`` is drawn uniformly over the integer steps of a ``DiscreteVP`` (GeoDiff draws
    antithetic pairs ``t, T-1-t``; we do the same) or uniformly in ``[t_min, t_max]`` for a
    continuous process. The loss is the mean over atoms of the squared error in the zero-CoM
    subspace, averaged over molecules (the ``simple`` weighting of Ho et al. 2020, eq. 14),
    computed by :func:`polydiff.core.losses.dsm_loss` on the padded layout with an atom mask.
    ``t [B]`` and ``eps [N, 3]`` may be given (evaluation, tests) instead of drawn.
    """
    if getattr(graph_batch, "pos", None) is None:
        raise ValueError("conformer_loss needs batches with reference coordinates (batch.pos)")
    nb = graph_batch.batch
    B = int(graph_batch.num_graphs)
    x0 = center(graph_batch.pos, nb, B)
    dev = x0.device
    gdev = generator.device if generator is not None else dev
    T = getattr(process, "num_train_timesteps", None)
    if t is not None:
        t = torch.as_tensor(t, dtype=torch.float64, device=dev)
        if t.shape != (B,):
            raise ValueError(f"t must be [{B}], got {tuple(t.shape)}")
    elif T is not None:
        half = torch.randint(0, int(T), ((B + 1) // 2,), generator=generator, device=gdev)
        t = torch.cat([half, int(T) - 1 - half])[:B].to(dev).double()
    else:
        u = torch.rand(B, generator=generator, device=gdev, dtype=torch.float64).to(dev)
        t = process.t_min + (process.t_max - process.t_min) * u
    if eps is None:
        eps = com_free_noise(nb, generator=generator, dtype=x0.dtype).to(dev)
    elif eps.shape != x0.shape:
        raise ValueError(f"eps must be {tuple(x0.shape)}, got {tuple(eps.shape)}")
    else:
        eps = center(eps.to(x0.dtype), nb, B)
    # Core's DSM loss on the padded layout: the mask restricts the mean to real atoms.
    from polydiff.core.losses import dsm_loss

    x0_pad, mask = to_padded(x0, nb)
    eps_pad, _ = to_padded(eps, nb)

    def padded_net(x_in: Tensor, t_in: Tensor) -> Tensor:
        out = torch.zeros_like(x_in)
        out[mask] = center(net(x_in[mask], t_in, graph_batch), nb, B)
        return out

    m3 = mask[..., None].expand_as(x0_pad).to(x0.dtype)
    per_graph = dsm_loss(padded_net, process, x0_pad, prediction="eps", mask=m3, t=t, eps=eps_pad)
    return 3.0 * per_graph.mean()  # mean over atoms of the squared error norm per atom
