"""Where a pipeline name points: a folder, a shipped ``pretrained/<name>/``, or the Hub.

:func:`resolve_pipeline` tries, in order:

1. an existing folder (any path);
2. a shipped name: ``<dir>/<name>/`` for each ``dir`` in ``$POLYDIFF_PRETRAINED``
   (``os.pathsep``-separated) and then the repository's ``pretrained/`` folder (beside the
   packages in a source checkout; not part of the wheel);
3. a Hugging Face Hub repository id ``owner/name``: downloaded with ``huggingface_hub``
   (the files of the pipeline format only), or read from its cache when offline.

Anything else, or a Hub download that cannot happen (no network, unknown repository), is a
:class:`~polydiff.core.pipeline.PipelineError` that says what was tried.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .pipeline_format import INDEX, PipelineError

__all__ = ["PRETRAINED_ENV", "pretrained_dirs", "resolve_pipeline", "shipped_pipelines"]

PRETRAINED_ENV = "POLYDIFF_PRETRAINED"
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def pretrained_dirs() -> list[Path]:
    """Folders searched for shipped names, in order."""
    dirs = [Path(p) for p in os.environ.get(PRETRAINED_ENV, "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parent.parent / "pretrained")
    return dirs


def shipped_pipelines() -> list[str]:
    """Names of the pipelines found in :func:`pretrained_dirs` (sorted, without duplicates)."""
    names = {p.name for d in pretrained_dirs() if d.is_dir() for p in d.iterdir()
             if (p / INDEX).is_file()}
    return sorted(names)


def _download(repo_id: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise PipelineError(
            f"{repo_id!r} is not a folder or a shipped pipeline; loading it from the Hugging "
            "Face Hub needs huggingface_hub: pip install huggingface_hub") from None
    try:
        folder = snapshot_download(repo_id, revision=revision,
                                   allow_patterns=[INDEX, "*/config.json", "*/weights.safetensors"],
                                   etag_timeout=10)
    except Exception as e:  # noqa: BLE001 - every failure becomes one clear message
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        reason = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline else (
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise PipelineError(
            f"could not load pipeline {repo_id!r} from the Hugging Face Hub ({reason}). "
            "Without a network, pass a local folder or a shipped name "
            f"({', '.join(shipped_pipelines()) or 'none found'})") from None
    return Path(folder)


def resolve_pipeline(name_or_path: str | os.PathLike, *, revision: str | None = None) -> Path:
    """The local folder of a pipeline given as a path, a shipped name or a Hub repository id."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"from_pretrained: name_or_path must be a str or path, "
                        f"got {type(name_or_path).__name__}")
    if revision is not None and not isinstance(revision, str):
        raise TypeError(f"from_pretrained: revision must be a str or None, got {type(revision).__name__}")
    path = Path(name_or_path)
    if path.is_dir():
        return path
    text = os.fspath(name_or_path)
    if _NAME.match(text):
        for d in pretrained_dirs():
            if (d / text).is_dir():
                return d / text
        raise PipelineError(
            f"{text!r}: no such folder and no shipped pipeline of that name (searched "
            f"{', '.join(str(d) for d in pretrained_dirs())}; shipped: "
            f"{', '.join(shipped_pipelines()) or 'none'})")
    if _REPO_ID.match(text) and not path.parent.exists():
        return _download(text, revision)
    raise PipelineError(f"{text!r}: no such folder; expected a pipeline folder, a shipped name "
                        f"({', '.join(shipped_pipelines()) or 'none'}) or a Hub id 'owner/name'")
