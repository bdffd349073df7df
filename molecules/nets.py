"""Equivariant noise-prediction networks for conformer diffusion.

Both networks share one interface, ``net(pos [N, 3], t [B], batch) -> eps [N, 3]``, where
``batch`` is a torch_geometric ``Batch`` from :func:`polydiff.molecules.featurize.mols_to_batch`
(one graph per conformer being denoised), ``pos`` the noisy coordinates of all its atoms and
``t`` the diffusion time of every graph in the process's own units (``DiscreteVP``: step index).
Both are exactly equivariant to rotations/reflections and invariant to translations of
``pos``, and equivariant to permutations of the atoms.

- :class:`GeoDiffNet` — GeoDiff's dual encoder (Xu et al. 2022, Sec. 4.2, eq. 5-7): invariant
  edge features from distances and edge types; a SchNet-style global encoder on all edges
  (extended graph + radius graph) and a GIN-style local encoder on the extended chemical
  graph; per-edge scalar scores turned into atom vectors by the chain rule through the
  distances, ``eps_i = sum_j s_ij (x_i - x_j) / d_ij`` (the paper's ``eq_transform``); the
  global score is switched on only below a noise level (``global_cutoff_t``, the paper's
  ``global_start_sigma`` gating), in training and sampling alike.
- :class:`E3Net` — tensor-product message passing with spherical harmonics (e3nn; Thomas et
  al. 2018, Geiger & Smidt 2022) whose last layer outputs one ``1o`` vector per atom.

With ``NetConfig.stereo`` both networks also read the stereo the input specifies
(:func:`polydiff.molecules.featurize.stereo_features`): an embedding of the atom's R/S label
added to its node features and of the edge's E/Z or cis/trans label added to its type
embedding. These are invariant scalars, so the networks stay E(3)-equivariant: the labels
tell them which diastereomer and which E/Z isomer to build, and the enantiomer is chosen
by reflection afterwards (:mod:`polydiff.molecules.stereo`).

Unlike GeoDiff's released model both networks see the diffusion time through a sinusoidal
embedding (Vaswani et al. 2017; Ho et al. 2020) and predict the Gaussian ``eps`` of the VP
marginal directly, so that every core solver can use them with ``prediction="eps"``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from .featurize import ATOM_STEREO, EDGE_STEREO, NUM_ATOM_FEATURES, NUM_EDGE_TYPES
from .graph import full_edge_set, radius_graph

__all__ = ["E3Net", "GeoDiffNet", "NetConfig", "build_net", "molecule_edges", "timestep_embedding"]


@dataclass(frozen=True)
class NetConfig:
    """Configuration of both denoisers (saved as JSON beside the safetensors weights).

    Attributes:
        kind: ``"geodiff"`` or ``"e3nn"``.
        hidden: width of node/edge features.
        num_convs_global / num_convs_local: SchNet / GIN layers (GeoDiff: 6 / 4).
        num_layers_e3: message-passing layers of :class:`E3Net`.
        cutoff: radius-graph cutoff in the units of ``pos`` (GeoDiff: 10 Å).
        max_num_neighbors: radius-graph neighbour cap per atom.
        num_rbf: Gaussian radial basis functions for distances.
        global_cutoff_t: radius-only edges contribute only where ``t < global_cutoff_t``
            (``None``: always). Set it to the ``t`` at which the process's
            ``sigma/alpha`` equals GeoDiff's ``global_start_sigma``.
        lmax: spherical-harmonics degree of :class:`E3Net`.
        stereo: read the R/S atom and E/Z / cis-trans edge labels (``stereo_atom``,
            ``ext_edge_stereo`` of the batch); checkpoints saved without this key load
            with ``False``, the networks they were trained as.
        true_scale: the network is fed ``x_t / alpha(t)`` (GeoDiff's true-scale coordinates)
            by the loss and the samplers (:func:`polydiff.molecules.process.true_scale_input`);
            checkpoints saved without this key load with ``False``.
    """

    kind: str = "geodiff"
    hidden: int = 128
    num_convs_global: int = 4
    num_convs_local: int = 4
    num_layers_e3: int = 3
    cutoff: float = 10.0
    max_num_neighbors: int = 32
    num_rbf: int = 32
    global_cutoff_t: float | None = None
    lmax: int = 2
    stereo: bool = True
    true_scale: bool = True

    def __post_init__(self) -> None:
        from polydiff.core.validate import check_int, check_number

        if self.kind not in ("geodiff", "e3nn"):
            raise ValueError(f"unknown net kind {self.kind!r}; expected 'geodiff' or 'e3nn' (NetConfig.kind)")
        for name, low in (("hidden", 1), ("num_convs_global", 0), ("num_convs_local", 0), ("num_layers_e3", 0),
                          ("max_num_neighbors", 1), ("num_rbf", 1), ("lmax", 0)):
            check_int(getattr(self, name), f"NetConfig.{name}", low=low)  # 8.5 is not a width
        check_number(self.cutoff, "NetConfig.cutoff", low=0.0, low_open=True)  # finite, > 0
        if self.global_cutoff_t is not None:
            check_number(self.global_cutoff_t, "NetConfig.global_cutoff_t")  # < 0: radius edges always off
        for name in ("stereo", "true_scale"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"NetConfig.{name} must be a bool, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding ``[B, dim]`` of float times ``t [B]`` (Ho et al. 2020, App. B)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return torch.nn.functional.pad(emb, (0, dim - 2 * half))


class GaussianRBF(nn.Module):
    """``exp(-gamma (d - mu_k)^2)`` on ``num`` centres in ``[0, cutoff]`` (SchNet, Schütt et al. 2017)."""

    def __init__(self, num: int, cutoff: float):
        super().__init__()
        self.register_buffer("mu", torch.linspace(0.0, cutoff, num))
        self.gamma = 0.5 / (cutoff / max(num - 1, 1)) ** 2

    def forward(self, d: Tensor) -> Tensor:
        return torch.exp(-self.gamma * (d[:, None] - self.mu.to(d.dtype)) ** 2)


def _mlp(*sizes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*layers[:-1])


def _check_inputs(pos: Tensor, t: Tensor, batch) -> Tensor:
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must be [N, 3], got {tuple(pos.shape)}")
    if pos.shape[0] != batch.num_nodes:
        raise ValueError(f"pos has {pos.shape[0]} atoms but the batch has {batch.num_nodes}")
    n_graphs = int(batch.num_graphs) if hasattr(batch, "num_graphs") else 1
    t = torch.as_tensor(t, device=pos.device)
    if t.ndim == 0:
        t = t.expand(n_graphs)
    if t.shape != (n_graphs,):
        raise ValueError(f"t must be [{n_graphs}] (one time per graph), got {tuple(t.shape)}")
    if not torch.isfinite(pos).all():
        raise ValueError("pos contains NaN or inf")
    return t


def _node_batch(batch) -> Tensor:
    b = getattr(batch, "batch", None)
    return b if b is not None else torch.zeros(batch.num_nodes, dtype=torch.long)


def molecule_edges(pos: Tensor, batch, cutoff: float, max_num_neighbors: int) -> tuple[Tensor, Tensor, Tensor]:
    """Extended graph (bonds, 2-, 3-hop) united with the radius graph of the current ``pos``.

    Returns ``(edge_index [2, E], edge_type [E], edge_stereo [E])``; ``edge_stereo`` indexes
    :data:`~polydiff.molecules.featurize.EDGE_STEREO` (0 on radius-only edges, and everywhere
    for a batch without ``ext_edge_stereo``).
    """
    with torch.no_grad():
        rad = radius_graph(pos.detach(), cutoff, _node_batch(batch), max_num_neighbors=max_num_neighbors)
    ext_index = batch.ext_edge_index.to(pos.device)
    edge_index, edge_type = full_edge_set(ext_index, batch.ext_edge_type.to(pos.device), rad, pos.shape[0])
    edge_stereo = torch.zeros_like(edge_type)
    ext_stereo = getattr(batch, "ext_edge_stereo", None)
    if ext_stereo is not None:  # full_edge_set puts the extended edges first
        edge_stereo[: ext_index.shape[1]] = ext_stereo.to(pos.device)
    return edge_index, edge_type, edge_stereo


def _stereo_embedding(num: int, dim: int) -> nn.Embedding:
    """Zero-initialised: a stereo-aware network starts as the network without stereo."""
    emb = nn.Embedding(num, dim)
    nn.init.zeros_(emb.weight)
    return emb


def _atom_stereo(batch, device) -> Tensor:
    st = getattr(batch, "stereo_atom", None)
    if st is None:
        raise ValueError("a stereo network (NetConfig.stereo=True) needs batch.stereo_atom and "
                         "batch.ext_edge_stereo (featurize with polydiff.molecules.featurize.mol_to_data)")
    return st.to(device)


def _chain_rule(score: Tensor, pos: Tensor, edge_index: Tensor, d: Tensor) -> Tensor:
    """``eps_i = sum_{j->i} s_ij (x_i - x_j) / d_ij`` (GeoDiff's ``eq_transform``, eq. 7)."""
    j, i = edge_index
    vec = (pos[i] - pos[j]) / d.clamp_min(1e-6)[:, None]
    out = torch.zeros_like(pos)
    return out.index_add_(0, i, score[:, None] * vec)


class _SchNetLayer(nn.Module):
    """Continuous-filter convolution with a cosine cutoff (Schütt et al. 2017)."""

    def __init__(self, hidden: int, cutoff: float):
        super().__init__()
        self.cutoff = cutoff
        self.filt = _mlp(hidden, hidden, hidden)
        self.lin_in = nn.Linear(hidden, hidden, bias=False)
        self.lin_out = _mlp(hidden, hidden, hidden)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor, d: Tensor) -> Tensor:
        j, i = edge_index
        c = 0.5 * (torch.cos(d * math.pi / self.cutoff) + 1.0) * (d <= self.cutoff)
        msg = self.lin_in(h)[j] * self.filt(edge_attr) * c[:, None]
        agg = torch.zeros_like(h).index_add_(0, i, msg)
        return h + self.lin_out(agg)


class _GINLayer(nn.Module):
    """GIN with edge features (Xu et al. 2019; Hu et al. 2020 GINE)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(()))
        self.mlp = _mlp(hidden, hidden, hidden)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        j, i = edge_index
        agg = torch.zeros_like(h).index_add_(0, i, torch.relu(h[j] + edge_attr))
        return h + self.mlp((1.0 + self.eps) * h + agg)


class GeoDiffNet(nn.Module):
    """GeoDiff's dual-encoder noise network (Xu et al. 2022, Sec. 4.2; App. C).

    Call ``net(pos, t, batch) -> eps``; see the module docstring for the contract.
    """

    def __init__(self, config: NetConfig = NetConfig()):
        super().__init__()
        if config.kind != "geodiff":
            raise ValueError(f"GeoDiffNet needs kind='geodiff', got {config.kind!r}")
        self.config = config
        h = config.hidden
        self.rbf = GaussianRBF(config.num_rbf, config.cutoff)
        self.node_in = nn.ModuleDict({k: nn.Linear(NUM_ATOM_FEATURES, h) for k in ("global", "local")})
        self.time = nn.ModuleDict({k: _mlp(h, h, h) for k in ("global", "local")})
        self.edge_len = nn.ModuleDict({k: _mlp(config.num_rbf, h, h) for k in ("global", "local")})
        self.edge_type = nn.ModuleDict({k: nn.Embedding(NUM_EDGE_TYPES, h) for k in ("global", "local")})
        if config.stereo:
            self.atom_stereo = nn.ModuleDict({k: _stereo_embedding(len(ATOM_STEREO), h) for k in ("global", "local")})
            self.edge_stereo = nn.ModuleDict({k: _stereo_embedding(len(EDGE_STEREO), h) for k in ("global", "local")})
        self.global_convs = nn.ModuleList(_SchNetLayer(h, config.cutoff) for _ in range(config.num_convs_global))
        self.local_convs = nn.ModuleList(_GINLayer(h) for _ in range(config.num_convs_local))
        self.head = nn.ModuleDict({k: _mlp(2 * h, h, h // 2, 1) for k in ("global", "local")})

    def _edge_attr(self, key: str, d: Tensor, edge_type: Tensor, edge_stereo: Tensor) -> Tensor:
        # GeoDiff's MLP edge encoder: length embedding times type embedding.
        typ = self.edge_type[key](edge_type)
        if self.config.stereo:
            typ = typ + self.edge_stereo[key](edge_stereo)
        return self.edge_len[key](self.rbf(d)) * typ

    def _node_in(self, key: str, x: Tensor, atom_stereo: Tensor | None) -> Tensor:
        h = self.node_in[key](x)
        return h + self.atom_stereo[key](atom_stereo) if atom_stereo is not None else h

    def _pair_score(self, key: str, h: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        j, i = edge_index
        return self.head[key](torch.cat([h[i] * h[j], edge_attr], dim=-1)).squeeze(-1)

    def forward(self, pos: Tensor, t: Tensor, batch) -> Tensor:
        t = _check_inputs(pos, t, batch)
        cfg = self.config
        nb = _node_batch(batch).to(pos.device)
        dtype = pos.dtype
        edge_index, edge_type, edge_stereo = molecule_edges(pos, batch, cfg.cutoff, cfg.max_num_neighbors)
        j, i = edge_index
        d = (pos[i] - pos[j]).norm(dim=-1)
        temb = timestep_embedding(t, cfg.hidden).to(dtype)
        x = batch.x.to(device=pos.device, dtype=dtype)
        atom_st = _atom_stereo(batch, pos.device) if cfg.stereo else None

        # Global encoder: all edges (SchNet), score on radius-only edges.
        ea_g = self._edge_attr("global", d, edge_type, edge_stereo)
        h = self._node_in("global", x, atom_st) + self.time["global"](temb)[nb]
        for conv in self.global_convs:
            h = conv(h, edge_index, ea_g, d)
        glob = edge_type == 0
        s_g = self._pair_score("global", h, edge_index[:, glob], ea_g[glob])
        if cfg.global_cutoff_t is not None:  # GeoDiff's global_start_sigma gating
            s_g = s_g * (t[nb[i[glob]]] < cfg.global_cutoff_t).to(dtype)
        eps = _chain_rule(s_g, pos, edge_index[:, glob], d[glob])

        # Local encoder: extended chemical graph (GIN), score on its edges.
        loc = ~glob
        ei_l, d_l = edge_index[:, loc], d[loc]
        ea_l = self._edge_attr("local", d_l, edge_type[loc], edge_stereo[loc])
        h = self._node_in("local", x, atom_st) + self.time["local"](temb)[nb]
        for conv in self.local_convs:
            h = conv(h, ei_l, ea_l)
        s_l = self._pair_score("local", h, ei_l, ea_l)
        return eps + _chain_rule(s_l, pos, ei_l, d_l)


class E3Net(nn.Module):
    """Tensor-product message passing (e3nn) predicting one ``1o`` vector per atom.

    Each layer: ``m_ij = TP_w(d_ij, type_ij)(h_j, Y(r_ij / d_ij))`` with spherical harmonics
    ``Y`` up to ``lmax`` and weights from an MLP of radial features (NequIP-style, Batzner et
    al. 2022), summed over neighbours, followed by a gated nonlinearity (Weiler et al. 2018).
    """

    def __init__(self, config: NetConfig = NetConfig(kind="e3nn", hidden=32)):
        super().__init__()
        from e3nn import o3
        from e3nn.nn import Gate

        if config.kind != "e3nn":
            raise ValueError(f"E3Net needs kind='e3nn', got {config.kind!r}")
        self.config = config
        h = config.hidden
        self.irreps_sh = o3.Irreps.spherical_harmonics(config.lmax)
        self.sh = o3.SphericalHarmonics(self.irreps_sh, normalize=True, normalization="component")
        self.rbf = GaussianRBF(config.num_rbf, config.cutoff)
        self.edge_type = nn.Embedding(NUM_EDGE_TYPES, config.num_rbf)
        self.node_in = nn.Linear(NUM_ATOM_FEATURES, h)
        if config.stereo:
            self.atom_stereo = _stereo_embedding(len(ATOM_STEREO), h)
            self.edge_stereo = _stereo_embedding(len(EDGE_STEREO), config.num_rbf)
        self.time = _mlp(h, h, h)
        vec = [(max(h // 2, 1), (l, (-1) ** l)) for l in range(1, config.lmax + 1)]
        gated = o3.Irreps(vec)
        self.layers, self.radials, self.gates = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        irreps_in = o3.Irreps(f"{h}x0e")
        for _ in range(config.num_layers_e3):
            gate = Gate(f"{h}x0e", [nn.functional.silu], f"{gated.num_irreps}x0e", [torch.sigmoid], gated)
            tp = o3.FullyConnectedTensorProduct(irreps_in, self.irreps_sh, gate.irreps_in, shared_weights=False)
            self.layers.append(tp)
            self.radials.append(_mlp(2 * config.num_rbf, h, tp.weight_numel))
            self.gates.append(gate)
            irreps_in = gate.irreps_out
        self.out_tp = o3.FullyConnectedTensorProduct(irreps_in, self.irreps_sh, "1x1o", shared_weights=False)
        self.out_radial = _mlp(2 * config.num_rbf, h, self.out_tp.weight_numel)
        self.irreps_hidden = irreps_in

    def forward(self, pos: Tensor, t: Tensor, batch) -> Tensor:
        t = _check_inputs(pos, t, batch)
        cfg = self.config
        nb = _node_batch(batch).to(pos.device)
        dtype = pos.dtype
        edge_index, edge_type, edge_stereo = molecule_edges(pos, batch, cfg.cutoff, cfg.max_num_neighbors)
        j, i = edge_index
        r = pos[i] - pos[j]
        d = r.norm(dim=-1)
        y = self.sh(r / d.clamp_min(1e-6)[:, None])
        typ = self.edge_type(edge_type)
        if cfg.stereo:
            typ = typ + self.edge_stereo(edge_stereo)
        radial = torch.cat([self.rbf(d), typ.to(dtype)], dim=-1)
        c = 0.5 * (torch.cos(d * math.pi / cfg.cutoff) + 1.0) * (d <= cfg.cutoff)
        w_edge = c
        if cfg.global_cutoff_t is not None:  # radius-only edges gated as in GeoDiff
            on = (t[nb[i]] < cfg.global_cutoff_t) | (edge_type != 0)
            w_edge = w_edge * on.to(dtype)
        norm = 1.0 / math.sqrt(max(cfg.max_num_neighbors, 1))
        h = self.node_in(batch.x.to(device=pos.device, dtype=dtype)) + self.time(timestep_embedding(t, cfg.hidden).to(dtype))[nb]
        if cfg.stereo:
            h = h + self.atom_stereo(_atom_stereo(batch, pos.device)).to(dtype)
        for tp, rad, gate in zip(self.layers, self.radials, self.gates):
            msg = tp(h[j], y, rad(radial)) * w_edge[:, None]
            agg = torch.zeros(h.shape[0], msg.shape[1], dtype=dtype, device=pos.device).index_add_(0, i, msg)
            out = gate(agg * norm)
            h = out + h if out.shape == h.shape else out
        msg = self.out_tp(h[j], y, self.out_radial(radial)) * w_edge[:, None]
        return torch.zeros_like(pos).index_add_(0, i, msg) * norm


def build_net(config: NetConfig) -> nn.Module:
    """The network named by ``config.kind`` (``"geodiff"`` or ``"e3nn"``)."""
    if config.kind == "geodiff":
        return GeoDiffNet(config)
    if config.kind == "e3nn":
        return E3Net(config)
    raise ValueError(f"unknown net kind {config.kind!r}; expected 'geodiff' or 'e3nn'")
