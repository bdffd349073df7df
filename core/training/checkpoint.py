"""Crash-safe checkpoints: safetensors + JSON, atomic directory rename, a ``latest`` pointer.

Layout of a run directory::

    run/
      latest                  "step_00000200" (replaced atomically after the step dir is complete)
      step_00000200/
        model.safetensors     network weights
        ema.safetensors       EMA weights (if the run keeps an EMA)
        optim.safetensors     optimizer tensors (Adam moments, step counters)
        rng.safetensors       RNG states of every rank (torch CPU/CUDA, numpy, python)
        state.json            step, optimizer/scheduler JSON parts, data position, EMA count
        config.json           TrainConfig
        net_config.json       the network's constructor arguments
        extra.json            caller's JSON (e.g. the process configuration)
        manifest.json         size and sha256 of every file above, written last

A checkpoint is written into a temporary directory beside its final place, every file and
the directory are fsynced, the directory is renamed to ``step_XXXXXXXX`` and only then is
``latest`` replaced (temp file + fsync + ``os.replace``). A writer killed at any moment
leaves the previous checkpoint and pointer intact. Loading never unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .serialize import (
    CheckpointError,
    fsync_dir,
    read_json,
    read_safetensors,
    tensor_keys,
    tensors_to_bytes,
    write_file,
)

__all__ = [
    "Checkpoint",
    "check_net_config",
    "check_writable",
    "latest_checkpoint",
    "load_checkpoint",
    "load_for_sampling",
    "load_weights",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT = 1
_STEP_RE = re.compile(r"^step_(\d{8,})$")
_TENSOR_FILES = ("model", "ema", "optim", "rng")
_JSON_FILES = ("state", "config", "net_config", "extra")


@dataclass
class Checkpoint:
    """A loaded, validated checkpoint (tensors on CPU)."""

    path: Path
    step: int
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    config: dict[str, Any]
    net_config: dict[str, Any]
    extra: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, torch.Tensor] = field(default_factory=dict)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)


def _json_bytes(obj: Any, name: str) -> bytes:
    try:
        return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True).encode("utf-8")
    except TypeError as e:
        raise TypeError(f"save_checkpoint: {name} is not JSON-serialisable ({e})") from None


def _write_pointer(run_dir: Path, name: str) -> None:
    tmp = run_dir / f".latest.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    write_file(tmp, (name + "\n").encode())
    os.replace(tmp, run_dir / "latest")
    fsync_dir(run_dir)


def check_writable(run_dir: str | os.PathLike) -> None:
    """Create ``run_dir`` if needed and prove a file can be written there, or raise an
    ``OSError`` that names it (before training, not at the first checkpoint)."""
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=run_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise type(e)(e.errno, f"checkpoint directory {str(run_dir)!r} is not writable: {e.strerror}") from None


def save_checkpoint(
    run_dir: str | os.PathLike,
    step: int,
    *,
    model: dict[str, torch.Tensor],
    config: dict[str, Any],
    net_config: dict[str, Any],
    ema: dict[str, torch.Tensor] | None = None,
    optim: dict[str, torch.Tensor] | None = None,
    rng: dict[str, torch.Tensor] | None = None,
    state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    keep_last: int = 3,
) -> Path:
    """Write ``run_dir/step_XXXXXXXX`` atomically, point ``latest`` at it, keep the last K.

    Args:
        run_dir: the run directory (created if absent).
        step: optimizer steps taken; names the directory.
        model, ema, optim, rng: flat ``{name: Tensor}`` dicts stored as safetensors.
        config, net_config, state, extra: JSON-serialisable dicts.
        keep_last: number of ``step_*`` directories kept (the one ``latest`` names is never
            removed).

    Returns:
        The path of the new checkpoint directory.
    """
    from ..validate import check_int

    if not isinstance(step, int) or step < 0:
        raise ValueError(f"save_checkpoint: step must be an int >= 0, got {step!r}")
    keep_last = check_int(keep_last, "keep_last", low=1)
    for name, d in (("model", model), ("config", config), ("net_config", net_config)):
        if not isinstance(d, dict):
            raise TypeError(f"save_checkpoint: {name} must be a dict, got {type(d).__name__}")
    for group, tensors in (("model", model), ("ema", ema), ("optim", optim), ("rng", rng)):
        if tensors is None:
            continue
        if not isinstance(tensors, dict):
            raise TypeError(f"save_checkpoint: {group} must be a dict {{name: tensor}}, got {type(tensors).__name__}")
        keys = [k for k in tensors if not isinstance(k, str)]
        if keys:
            raise TypeError(f"save_checkpoint: {group} keys must be str, got {keys[:5]!r}")
        vals = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
        if vals:
            raise TypeError(f"save_checkpoint: {group} values must be torch tensors; {vals[:5]} are "
                            f"{sorted({type(tensors[k]).__name__ for k in vals})}")
    for group, tensors in (("model", model), ("ema", ema or {})):
        bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:  # never written, so never marked latest: the last good checkpoint stays
            raise FloatingPointError(
                f"save_checkpoint: refusing to write step {step}: non-finite {group} weights in "
                f"{bad[:5]}{' ...' if len(bad) > 5 else ''}"
            )
    run_dir = Path(run_dir)
    check_writable(run_dir)
    blobs: dict[str, bytes] = {"model.safetensors": tensors_to_bytes(model)}
    if ema is not None:
        blobs["ema.safetensors"] = tensors_to_bytes(ema)
    blobs["optim.safetensors"] = tensors_to_bytes(optim or {})
    blobs["rng.safetensors"] = tensors_to_bytes(rng or {})
    meta = dict(state or {}, format=FORMAT, step=step, has_ema=ema is not None)
    for name, obj in (
        ("state", meta),
        ("config", config),
        ("net_config", net_config),
        ("extra", extra or {}),
    ):
        blobs[f"{name}.json"] = _json_bytes(obj, name)
    manifest = {
        n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in blobs.items()
    }

    final = run_dir / f"step_{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=run_dir))
    try:
        for name, data in blobs.items():
            write_file(tmp / name, data)
        write_file(
            tmp / "manifest.json", _json_bytes({"format": FORMAT, "files": manifest}, "manifest")
        )
        fsync_dir(tmp)
        os.chmod(tmp, 0o755)
        if final.exists():  # re-saving a step (e.g. after resuming from an older checkpoint)
            trash = run_dir / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(tmp, final)
        fsync_dir(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_pointer(run_dir, final.name)
    _prune(run_dir, keep_last, keep=final.name)
    return final


def _step_dirs(run_dir: Path) -> list[Path]:
    dirs = [p for p in run_dir.iterdir() if p.is_dir() and _STEP_RE.match(p.name)]
    return sorted(dirs, key=lambda p: int(_STEP_RE.match(p.name).group(1)))


def _prune(run_dir: Path, keep_last: int, keep: str) -> None:
    for p in _step_dirs(run_dir)[:-keep_last]:
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in run_dir.iterdir():  # temp dirs of writers that were killed
        if p.name.startswith((".tmp-step_", ".old-step_", ".latest.tmp-")):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint ``run_dir/latest`` names, or ``None`` if the run has none.

    Without a ``latest`` file (a writer killed between the rename and the pointer update)
    the newest complete ``step_*`` directory is used.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    pointer = run_dir / "latest"
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
        if not _STEP_RE.match(name):
            raise CheckpointError(f"{pointer}: does not name a checkpoint (got {name[:40]!r})")
        if (run_dir / name / "manifest.json").is_file():
            return run_dir / name
        warnings.warn(f"{pointer} names {name}, which is missing; using the newest complete one")
    complete = [p for p in _step_dirs(run_dir) if (p / "manifest.json").is_file()]
    return complete[-1] if complete else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint directory from either a run directory (via ``latest``) or a step dir."""
    path = Path(path)
    if (path / "manifest.json").is_file() or _STEP_RE.match(path.name):
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise CheckpointError(
            f"{path}: no checkpoint found (no 'latest' and no complete step_* dir)"
        )
    return found


def _verify_manifest(ckpt: Path, names: list[str]) -> None:
    manifest = read_json(ckpt / "manifest.json")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise CheckpointError(f"{ckpt / 'manifest.json'}: has no 'files' table")
    for name in names:
        if name not in files:
            raise CheckpointError(f"{ckpt / name}: not listed in manifest.json (extra file?)")
        entry = files[name]
        if not (isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
                and isinstance(entry.get("sha256"), str)):
            raise CheckpointError(f"{ckpt / 'manifest.json'}: entry for {name} must be "
                                  f"{{'bytes': int, 'sha256': str}}, got {entry!r:.80}")
        data = (ckpt / name).read_bytes()
        if len(data) != files[name]["bytes"]:
            raise CheckpointError(
                f"{ckpt / name}: size {len(data)} != {files[name]['bytes']} "
                "in manifest.json (truncated or replaced)"
            )
        if hashlib.sha256(data).hexdigest() != files[name]["sha256"]:
            raise CheckpointError(f"{ckpt / name}: sha256 differs from manifest.json (modified)")


def load_checkpoint(
    path: str | os.PathLike,
    *,
    net: nn.Module | None = None,
    net_config: dict[str, Any] | None = None,
    weights_only: bool = False,
) -> Checkpoint:
    """Read and validate a checkpoint (never unpickles).

    Args:
        path: a run directory (its ``latest`` checkpoint is read) or a ``step_*`` directory.
        net: if given, the model/EMA tensors must have exactly its state keys and shapes.
        net_config: if given, must equal the stored ``net_config`` (differing keys named).
        weights_only: skip the optimizer and RNG files (for sampling).

    Raises:
        CheckpointError: naming the file and the problem (missing, pickle, truncated,
            missing/extra keys, shape or config mismatch, checksum mismatch).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_checkpoint: path must be a str or os.PathLike, got {type(path).__name__}")
    if net is not None and not isinstance(net, nn.Module):
        raise TypeError(f"load_checkpoint: net must be an nn.Module or None, got {type(net).__name__}")
    ckpt = resolve_checkpoint(path)
    if not ckpt.is_dir():
        raise CheckpointError(f"{ckpt}: checkpoint directory is missing")
    state = read_json(ckpt / "state.json")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{ckpt / 'state.json'}: unknown checkpoint format "
            f"{state.get('format') if isinstance(state, dict) else state!r}"
        )
    jsons = {n: read_json(ckpt / f"{n}.json") for n in _JSON_FILES if n != "state"}
    for n, v in jsons.items():
        if not isinstance(v, dict):
            raise CheckpointError(
                f"{ckpt / (n + '.json')}: expected a JSON object, got {type(v).__name__}"
            )
    has_ema = bool(state.get("has_ema"))
    tensor_names = ["model"] + (["ema"] if has_ema else [])
    if not weights_only:
        tensor_names += ["optim", "rng"]
    if net_config is not None:  # first: the more informative message when shapes differ
        check_net_config(ckpt / "net_config.json", jsons["net_config"], net_config)
    tensors = {n: read_safetensors(ckpt / f"{n}.safetensors") for n in tensor_names}
    if net is not None:
        reference = net.state_dict()
        for n in ("model", "ema"):
            if n in tensors:
                check_state_keys(ckpt / f"{n}.safetensors", tensors[n], reference)
    if "optim" in tensors and "optimizer" in state:  # tensors the JSON tree refers to
        wanted, got = tensor_keys(state["optimizer"]), set(tensors["optim"])
        for what, keys in (("missing keys", wanted - got), ("unexpected keys", got - wanted)):
            if keys:
                raise CheckpointError(f"{ckpt / 'optim.safetensors'}: {what} {sorted(keys)[:10]}")
    _verify_manifest(
        ckpt, [f"{n}.safetensors" for n in tensor_names] + [f"{n}.json" for n in _JSON_FILES]
    )
    return Checkpoint(
        path=ckpt,
        step=int(state["step"]),
        model=tensors["model"],
        ema=tensors.get("ema"),
        config=jsons["config"],
        net_config=jsons["net_config"],
        extra=jsons["extra"],
        state=state,
        optim=tensors.get("optim", {}),
        rng=tensors.get("rng", {}),
    )


def check_state_keys(
    file: Path, tensors: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]
) -> None:
    """Keys and shapes of ``tensors`` must be those of ``reference`` (a ``state_dict``)."""
    missing = sorted(set(reference) - set(tensors))
    extra = sorted(set(tensors) - set(reference))
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if extra:
        problems.append(f"unexpected keys {extra}")
    shapes = [
        f"{k}: checkpoint {tuple(tensors[k].shape)} vs network {tuple(reference[k].shape)}"
        for k in sorted(set(tensors) & set(reference))
        if tensors[k].shape != reference[k].shape
    ]
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes))
    if problems:
        raise CheckpointError(f"{file}: " + "; ".join(problems))


def check_net_config(file: Path, saved: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuse a checkpoint whose network configuration differs, naming the keys."""
    given = json.loads(json.dumps(given))  # compare in JSON form (tuples -> lists)
    keys = sorted(
        k for k in set(saved) | set(given) if saved.get(k, "<absent>") != given.get(k, "<absent>")
    )
    if keys:
        detail = ", ".join(
            f"{k}: checkpoint {saved.get(k, '<absent>')!r} vs given {given.get(k, '<absent>')!r}"
            for k in keys
        )
        raise CheckpointError(
            f"{file}: net_config does not match the network (keys {keys}: {detail})"
        )


def load_weights(net: nn.Module, tensors: dict[str, torch.Tensor], file: Path) -> None:
    """Copy validated ``tensors`` into ``net``: keys, shapes, kinds and finiteness checked first.

    A floating tensor is cast to its parameter's floating dtype (a float16 file into a float32
    network is exact); any other dtype difference (integer data into a floating parameter, a
    float into an integer buffer, another integer width) is refused, naming the key. ``file``
    names the source in every message."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"load_weights: net must be an nn.Module, got {type(net).__name__}")
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{file}: weights must be a mapping {{name: tensor}}, got {type(tensors).__name__}")
    not_str = [k for k in tensors if not isinstance(k, str)]
    if not_str:
        raise CheckpointError(f"{file}: weight names must be str, got {not_str[:5]!r}")
    not_tensors = sorted(str(k) for k, v in tensors.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise CheckpointError(f"{file}: values of {not_tensors[:10]} are not tensors")
    reference = net.state_dict()
    check_state_keys(file, tensors, reference)
    kinds = [f"{k}: file {tensors[k].dtype} vs network {reference[k].dtype}" for k in sorted(reference)
             if tensors[k].dtype != reference[k].dtype
             and not (tensors[k].is_floating_point() and reference[k].is_floating_point())]
    if kinds:
        raise CheckpointError(f"{file}: dtype mismatch " + "; ".join(kinds[:5]))
    bad = sorted(k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
    if bad:
        raise CheckpointError(f"{file}: non-finite (NaN or inf) weights in {bad[:5]}{' ...' if len(bad) > 5 else ''}")
    net.load_state_dict(dict(tensors), strict=True)


def load_for_sampling(
    ckpt_dir: str | os.PathLike,
    net_factory: Callable[..., nn.Module],
    *,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, dict, dict]:
    """Rebuild the network from a checkpoint for sampling, in one line.

    ``net = net_factory(**net_config)`` receives the EMA weights (the raw weights when the
    run kept no EMA) and is returned in eval mode on ``device``.

    Returns:
        ``(net, net_config, extra)``; ``extra`` is the caller's JSON saved with the run
        (e.g. the process configuration).
    """
    if not callable(net_factory):
        raise TypeError(
            f"load_for_sampling: net_factory must be callable, got {type(net_factory).__name__}"
        )
    from ..validate import check_device

    device = check_device(device)
    ckpt = load_checkpoint(ckpt_dir, weights_only=True)
    net = net_factory(**ckpt.net_config)
    if not isinstance(net, nn.Module):
        raise TypeError(
            f"load_for_sampling: net_factory returned {type(net).__name__}, not an nn.Module"
        )
    name = "ema" if ckpt.ema is not None else "model"
    load_weights(
        net, ckpt.ema if ckpt.ema is not None else ckpt.model, ckpt.path / f"{name}.safetensors"
    )
    return net.to(device).eval(), ckpt.net_config, ckpt.extra
