"""GeoDiff's extended molecular graph and a pure-PyTorch radius graph.

GeoDiff (Xu et al. 2022, Sec. 4.2 and App. C) lets the denoiser see (a) the chemical bonds
extended by 2- and 3-hop neighbours ("higher-order edges", typed by their order) — these
fix bond lengths, angles and torsions — and (b) radius edges between atoms closer than a
cutoff in the *current noisy geometry*, which carry long-range interactions. Edge types:
0 radius-only, 1..4 bond types, 5 two-hop, 6 three-hop.

torch_geometric's ``radius_graph`` needs ``torch-cluster``/``pyg-lib`` (not installable here),
so :func:`radius_graph` is written in PyTorch with an explicit neighbour cap.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["extend_graph", "full_edge_set", "radius_graph", "radius_graph_reference"]

_NUM_BOND_TYPES = 4


def extend_graph(edge_index: Tensor, edge_type: Tensor, num_nodes: int, order: int = 3) -> tuple[Tensor, Tensor]:
    """Bonds plus all pairs at graph distance 2..``order``, typed by that distance.

    A pair at shortest-path distance ``k`` gets the bond type for ``k == 1`` and
    ``4 + k - 1`` for ``k >= 2`` (5: 2-hop, 6: 3-hop), as GeoDiff's ``_extend_graph_order``.

    Args:
        edge_index: ``[2, E]`` bonds in both directions.
        edge_type: ``[E]`` bond types 1..4.
        num_nodes: number of atoms ``N``.
        order: largest hop distance kept (>= 1).

    Returns:
        ``(edge_index [2, E'], edge_type [E'])``, sorted by (source, target).
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge_type.shape != (edge_index.shape[1],):
        raise ValueError(f"edge_index must be [2, E] with edge_type [E], got {tuple(edge_index.shape)}, "
                         f"{tuple(edge_type.shape)}")
    n = int(num_nodes)
    adj = torch.zeros(n, n, dtype=torch.long)
    adj[edge_index[0], edge_index[1]] = edge_type.long()
    hop = torch.full((n, n), 0, dtype=torch.long)  # 0 = not reached (or self)
    reach = torch.eye(n, dtype=torch.bool)
    frontier = torch.eye(n, dtype=torch.bool)
    step = (adj > 0).to(torch.float32)
    for k in range(1, order + 1):
        frontier = ((frontier.to(torch.float32) @ step) > 0) & ~reach
        hop[frontier] = k
        reach |= frontier
    typ = torch.where(hop == 1, adj, torch.where(hop > 1, _NUM_BOND_TYPES + hop - 1, torch.zeros_like(hop)))
    src, dst = torch.nonzero(hop > 0, as_tuple=True)
    return torch.stack([src, dst]), typ[src, dst]


def radius_graph(pos: Tensor, r: float, batch: Tensor | None = None, *,
                 max_num_neighbors: int = 32, loop: bool = False) -> Tensor:
    """Edges ``j -> i`` between atoms of the same molecule with ``|x_i - x_j| <= r``.

    Each target atom ``i`` keeps at most ``max_num_neighbors`` sources: the *nearest* ones
    (ties broken by the smaller index), so the result does not depend on atom order beyond
    ties. This differs from torch-cluster, which keeps the first ones found.

    Args:
        pos: ``[N, 3]`` coordinates.
        r: cutoff radius (same unit as ``pos``).
        batch: ``[N]`` molecule index of every atom, sorted ascending (``None``: one molecule).
        max_num_neighbors: neighbour cap per target atom (>= 1).
        loop: include self-loops.

    Returns:
        ``edge_index [2, E]`` (row 0 source ``j``, row 1 target ``i``), grouped by target in
        ascending order, sources by increasing distance.
    """
    from torch_geometric.utils import to_dense_batch

    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must be [N, 3], got {tuple(pos.shape)}")
    if not torch.isfinite(pos).all():
        raise ValueError("pos contains NaN or inf")
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not r > 0:  # NaN is not > 0
        raise ValueError(f"r: radius must be positive (a number > 0), got {r!r}")
    if max_num_neighbors < 1:
        raise ValueError(f"max_num_neighbors must be >= 1, got {max_num_neighbors}")
    n = pos.shape[0]
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=pos.device)
    if batch.shape != (n,):
        raise ValueError(f"batch must be [{n}], got {tuple(batch.shape)}")
    if n > 1 and (batch[1:] < batch[:-1]).any():
        raise ValueError("batch must be sorted ascending")
    dense, mask = to_dense_batch(pos, batch)  # [B, A, 3], [B, A]
    counts = mask.sum(1)
    ptr = torch.cumsum(counts, 0) - counts
    d = (dense[:, :, None, :] - dense[:, None, :, :]).pow(2).sum(-1).sqrt()  # [B, A(i), A(j)]
    ok = mask[:, :, None] & mask[:, None, :] & (d <= r)
    if not loop:
        ok &= ~torch.eye(dense.shape[1], dtype=torch.bool, device=pos.device)
    key = torch.where(ok, d, torch.full_like(d, float("inf")))
    k = min(int(max_num_neighbors), dense.shape[1])
    order = torch.sort(key, dim=-1, stable=True).indices[..., :k]  # [B, A, k]
    keep = torch.gather(ok, -1, order)
    b, i, slot = torch.nonzero(keep, as_tuple=True)
    j = order[b, i, slot]
    return torch.stack([j + ptr[b], i + ptr[b]])


def radius_graph_reference(pos: Tensor, r: float, batch: Tensor | None = None, *,
                           max_num_neighbors: int = 32, loop: bool = False) -> set[tuple[int, int]]:
    """Brute-force double loop with :func:`radius_graph`'s semantics (for tests)."""
    n = pos.shape[0]
    batch = torch.zeros(n, dtype=torch.long) if batch is None else batch
    edges = set()
    for i in range(n):
        cand = []
        for j in range(n):
            if batch[i] != batch[j] or (i == j and not loop):
                continue
            d = float(torch.linalg.vector_norm(pos[i] - pos[j]))
            if d <= r:
                cand.append((d, j))
        cand.sort()
        edges.update((j, i) for _, j in cand[:max_num_neighbors])
    return edges


def full_edge_set(ext_edge_index: Tensor, ext_edge_type: Tensor, radius_edge_index: Tensor,
                  num_nodes: int) -> tuple[Tensor, Tensor]:
    """Union of the extended graph and radius edges; radius-only edges get type 0.

    Returns ``(edge_index [2, E], edge_type [E])``: the extended edges first (their types
    kept), then the radius edges not already among them (GeoDiff's ``_extend_to_radius_graph``).
    """
    n = int(num_nodes)
    ext_key = ext_edge_index[0] * n + ext_edge_index[1]
    rad_key = radius_edge_index[0] * n + radius_edge_index[1]
    new = ~torch.isin(rad_key, ext_key)
    rad = radius_edge_index[:, new]
    edge_index = torch.cat([ext_edge_index, rad], dim=1)
    edge_type = torch.cat([ext_edge_type, torch.zeros(rad.shape[1], dtype=ext_edge_type.dtype,
                                                      device=ext_edge_type.device)])
    return edge_index, edge_type
