"""The pipeline format: a trained model as a folder anyone can load offline, never unpickled.

A pipeline is everything sampling needs besides the code: network weights, the process, the
prediction type, the default solver and grid, tokenizer/featuriser/normalisation state. On
disk (in the spirit of diffusers' ``model_index.json`` layout)::

    my-pipeline/
      pipeline.json            the index and model card: class, polydiff version, pipeline
                               format, git commit, training command, data, metrics against
                               the baseline, and size + sha256 of every file below
      unet/config.json         one folder per component: its JSON configuration
      unet/weights.safetensors and, where it has tensors, its weights (safetensors)
      process/config.json
      sampler/config.json

A subclass of :class:`Pipeline` says which components it has (:meth:`Pipeline.components`)
and how to rebuild itself from them (:meth:`Pipeline.from_components`); this module does the
files, checks and names. Every problem raises :class:`PipelineError` naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from .pipeline_format import FORMAT, INDEX, PipelineError
from .training.serialize import CheckpointError, read_json, read_safetensors, tensors_to_bytes

__all__ = [
    "FORMAT",
    "INDEX",
    "Component",
    "ModelCard",
    "Pipeline",
    "PipelineError",
    "read_pipeline",
    "write_pipeline",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Component:
    """One part of a pipeline: a JSON ``config`` and (for networks) its ``tensors``."""

    config: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ModelCard:
    """What a reader needs to trust a shipped model (stored in ``pipeline.json``).

    Attributes:
        training_command: the exact command that trained it.
        data: the training data (name, split, size).
        metrics: ``[{"task", "dataset", "metric", "value", "baseline", "baseline_value"}...]``:
            the held-out numbers, each beside its baseline.
        notes: anything else (limits, licence of the data).
    """

    training_command: str = ""
    data: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""

    def __post_init__(self) -> None:
        for name in ("training_command", "data", "notes"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"ModelCard.{name} must be a str, "
                                f"got {type(getattr(self, name)).__name__}")
        if not isinstance(self.metrics, list) or not all(isinstance(m, dict) for m in self.metrics):
            raise TypeError(f"ModelCard.metrics must be a list of dicts, got {self.metrics!r}")
        try:
            json.dumps(self.metrics, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"ModelCard.metrics must be finite JSON values ({e})") from None


def polydiff_version() -> str:
    """The installed polydiff version (``"unknown"`` from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("polydiff")
    except PackageNotFoundError:
        return "unknown"


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _json_bytes(obj: Any, what: str) -> bytes:
    # Infinity/NaN allowed (a process config may hold -inf), as in training checkpoints
    try:
        return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise TypeError(f"save_pretrained: {what} is not plain JSON ({e})") from None


def write_pipeline(path: str | os.PathLike, cls: type, components: dict[str, Component],
                   card: ModelCard, *, dtype: torch.dtype | None = None) -> Path:
    """Write a pipeline folder (into a temporary folder, renamed into place when complete).

    Args:
        path: the folder; an existing pipeline folder there is replaced.
        cls: the pipeline class (recorded in the index, checked on load).
        components: ``{name: Component}``; names are folder names.
        card: the model card.
        dtype: store floating-point tensors in this dtype (``torch.float16`` halves the
            size); ``None`` keeps each tensor's own dtype.
    """
    if not isinstance(components, dict) or not components:
        raise ValueError(f"save_pretrained: components must be a non-empty dict, got {components!r}")
    if not isinstance(card, ModelCard):
        raise TypeError(f"save_pretrained: card must be a ModelCard, got {type(card).__name__}")
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise ValueError(f"save_pretrained: dtype must be a floating torch.dtype or None, got {dtype!r}")
    blobs: dict[str, bytes] = {}
    for name, comp in components.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"save_pretrained: component name {name!r} is not a folder name")
        if not isinstance(comp, Component):
            raise TypeError(f"save_pretrained: component {name!r} is a {type(comp).__name__}, "
                            "not a Component")
        blobs[f"{name}/config.json"] = _json_bytes(comp.config, f"{name}'s config")
        if comp.tensors:
            bad = sorted(k for k, v in comp.tensors.items()
                         if v.is_floating_point() and not bool(torch.isfinite(v).all()))
            if bad:
                raise ValueError(f"save_pretrained: component {name!r} has non-finite (NaN or inf) weights "
                                 f"in {bad[:5]}; refusing to publish them")
            tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
                       for k, v in comp.tensors.items()}
            over = sorted(k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))
            if over:
                raise ValueError(f"save_pretrained: dtype={dtype} overflows component {name!r}'s weights "
                                 f"{over[:5]} (largest |w| = {max(float(comp.tensors[k].abs().max()) for k in over):.3g}, "
                                 f"beyond {torch.finfo(dtype).max:.3g}); save in a wider dtype")
            blobs[f"{name}/weights.safetensors"] = tensors_to_bytes(tensors)
    index = {
        "class": _class_path(cls),
        "format": FORMAT,
        "polydiff_version": polydiff_version(),
        "commit": _git_commit(),
        "dtype": None if dtype is None else str(dtype).removeprefix("torch."),
        "components": {n: {"weights": bool(c.tensors)} for n, c in components.items()},
        "card": dataclasses.asdict(card),
        "files": {n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                  for n, b in sorted(blobs.items())},
    }
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save_pretrained: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.exists() and not (path / INDEX).is_file():
        raise PipelineError(f"{path}: exists and is not a pipeline folder; refusing to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    except OSError as e:
        raise type(e)(e.errno, f"save_pretrained: cannot write the pipeline folder {path} "
                               f"({e.strerror})") from None
    try:
        for name, data in blobs.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        (tmp / INDEX).write_bytes(_json_bytes(index, INDEX))
        os.chmod(tmp, 0o755)
        if path.exists():
            shutil.rmtree(path)
        os.rename(tmp, path)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise type(e)(e.errno, f"save_pretrained: cannot write the pipeline folder {path} ({e.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_index(path: Path) -> dict[str, Any]:
    """``pipeline.json`` of a folder, its format checked (a newer format is a clear error)."""
    file = path / INDEX
    if not path.is_dir():
        raise PipelineError(f"{path}: pipeline folder is missing")
    try:
        index = read_json(file)
    except CheckpointError as e:
        raise PipelineError(str(e)) from None
    if not isinstance(index, dict) or not {"class", "format", "files", "components"} <= set(index):
        raise PipelineError(f"{file}: not a pipeline index (needs class, format, components, files)")
    files, comps = index["files"], index["components"]
    if not (isinstance(files, dict) and all(isinstance(m, dict) and {"bytes", "sha256"} <= set(m)
                                            for m in files.values())):
        raise PipelineError(f"{file}: 'files' must map each file to its bytes and sha256")
    if not (isinstance(comps, dict) and comps and all(isinstance(m, dict) for m in comps.values())):
        raise PipelineError(f"{file}: 'components' must map each component name to an object")
    bad = sorted(n for n in comps if not isinstance(n, str) or not _NAME.match(n))
    if bad:
        raise PipelineError(f"{file}: component names {bad} are not plain folder names")
    expected = {f"{n}/config.json" for n in comps} | {
        f"{n}/weights.safetensors" for n, m in comps.items() if m.get("weights")}
    if set(files) != expected:
        raise PipelineError(f"{file}: 'files' lists {sorted(set(files) - expected)} beyond, and "
                            f"lacks {sorted(expected - set(files))} of, the components' files")
    fmt = index["format"]
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise PipelineError(f"{file}: 'format' must be a positive integer (this polydiff writes {FORMAT}), "
                            f"got {fmt!r}: the index is corrupt or not written by polydiff")
    if fmt > FORMAT:
        raise PipelineError(
            f"{file}: pipeline format {fmt!r} written by polydiff "
            f"{index.get('polydiff_version', '?')}; this polydiff {polydiff_version()} reads "
            f"format {FORMAT} and older: upgrade polydiff (pip install -U polydiff)")
    return index


def read_pipeline(path: str | os.PathLike, cls: type) -> tuple[dict[str, Component], dict[str, Any]]:
    """Read and verify a pipeline folder: ``({name: Component}, index)``; tensors on CPU.

    Every file's size and sha256 must match the index; the index's class must be ``cls``.
    """
    path = Path(path)
    index = read_index(path)
    file = path / INDEX
    if index["class"] != _class_path(cls):
        raise PipelineError(f"{file}: holds a {index['class']}, not a {_class_path(cls)}; "
                            f"load it with that class")
    saved_by = index.get("polydiff_version")
    if saved_by not in (None, "unknown", polydiff_version()):
        warnings.warn(f"{file}: written by polydiff {saved_by}, loading with "
                      f"{polydiff_version()} (same pipeline format {index['format']})",
                      stacklevel=3)
    for name, meta in index["files"].items():
        f = path / name
        if not f.is_file():
            raise PipelineError(f"{f}: file is missing (listed in {INDEX})")
        data = f.read_bytes()
        if len(data) != meta["bytes"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise PipelineError(f"{f}: corrupt ({len(data)} bytes, sha256 differs from {INDEX}: "
                                "truncated or modified)")
    components: dict[str, Component] = {}
    for name, meta in index["components"].items():
        try:
            config = read_json(path / name / "config.json")
            tensors = read_safetensors(path / name / "weights.safetensors") if meta.get("weights") else {}
        except CheckpointError as e:
            raise PipelineError(str(e)) from None
        if not isinstance(config, dict):
            raise PipelineError(f"{path / name / 'config.json'}: expected a JSON object")
        components[name] = Component(config, tensors)
    return components, index


class Pipeline:
    """Base class of every domain's trained pipeline.

    Subclasses implement :meth:`components` and :meth:`from_components` (and ``__call__``);
    ``save_pretrained``/``from_pretrained`` then work unchanged. ``card`` is the model card
    the pipeline was saved or loaded with.
    """

    card: ModelCard
    #: Component names a subclass needs (checked on load, before ``from_components``).
    component_names: ClassVar[tuple[str, ...]] = ()

    def components(self) -> dict[str, Component]:
        """``{name: Component}`` describing this pipeline completely."""
        raise NotImplementedError

    @classmethod
    def from_components(cls, components: dict[str, Component], device: str | torch.device) -> Pipeline:
        """Rebuild the pipeline from what :meth:`components` returned."""
        raise NotImplementedError

    def save_pretrained(self, path: str | os.PathLike, *, card: ModelCard | None = None,
                        dtype: torch.dtype | None = None) -> Path:
        """Write this pipeline to the folder ``path`` (see the module docstring)."""
        card = card if card is not None else getattr(self, "card", None) or ModelCard()
        out = write_pipeline(path, type(self), self.components(), card, dtype=dtype)
        self.card = card
        return out

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu",
                        revision: str | None = None) -> Pipeline:
        """Load a pipeline from a folder, a shipped name (``pretrained/<name>/``) or a Hugging
        Face Hub repository id (``owner/name``, downloaded when a network exists)."""
        from .pipeline_hub import resolve_pipeline
        from .validate import check_device

        device = check_device(device)
        path = resolve_pipeline(name_or_path, revision=revision)
        components, index = read_pipeline(path, cls)
        missing = sorted(set(cls.component_names) - set(components))
        if missing:
            raise PipelineError(f"{path / INDEX}: lacks the components {missing} of {cls.__name__}")
        try:
            pipe = cls.from_components(components, device)
        except (KeyError, TypeError, ValueError) as e:  # CheckpointError, PipelineError included
            detail = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise PipelineError(f"{path}: components do not fit {cls.__name__}: {detail}") from None
        try:
            pipe.card = ModelCard(**index.get("card", {}))
        except (TypeError, ValueError) as e:
            raise PipelineError(f"{path / INDEX}: bad model card ({e})") from None
        return pipe
