"""Attack results kept on disk, so a full-mode robustness evaluation resumes where it stopped.

A full-mode evaluation on the CPU is many hours per dataset (the validation selection, the
pre-registered purifier's 100-step attack and its plateau check at 200 steps x 8 draws, the
paper solver), longer than one sitting. Every finished
:func:`~polydiff.robustness.attacks.evaluate` result is written atomically to
``folder/<what>-<digest>.json``, where the digest covers everything that determines it: the
trained weights' digest, the images, the attacked model's configuration, the attack and its
seeds (:func:`cached_evaluate`'s ``key``). The key is stored beside the result and compared
when read, so a changed configuration never reads an old result; an interrupted attack writes
nothing and is run again whole. A result read back is the one computed (its ``seconds`` are
the attack's own wall time), so records are the same as an uninterrupted run's.

:func:`chunked_evaluate` attacks the images in chunks, each kept as it finishes, and pools them:
the worst case is per example, so the pooled result is the attack on all images, except that
each chunk starts the defence's and the attacks' random draws from the same seeds (every image's
outcome has the same distribution as in one call). An attack of hours then loses at most one
chunk to an interruption.
"""
from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Callable

import torch
from polydiff.bench.common import digest
from polydiff.bench.robustness_compare import outcome_string, outcomes
from polydiff.core.atomic import atomic_file
from polydiff.core.validate import check_int, describe
from polydiff.robustness.metrics import Accuracy, accuracy, proportion_ci
from torch import nn

__all__ = ["cached_evaluate", "chunked_evaluate", "model_description"]

# the attributes that fix what a purifier computes (polydiff.robustness.purify)
_PURIFIER_FIELDS = ("t_star", "solver", "steps", "grid_kind", "prediction", "gradient", "seed",
                    "solver_options", "image_shape")


def model_description(model: nn.Module) -> dict:
    """What an attack result depends on beyond the weights: the model's class and, for a
    purified classifier, its purifier's configuration and repeats."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    out: dict = {"class": type(model).__name__}
    purifier = getattr(model, "purifier", None)
    if purifier is not None:
        out["purifier"] = {"class": type(purifier).__name__,
                           **{f: getattr(purifier, f) for f in _PURIFIER_FIELDS if hasattr(purifier, f)}}
        out["repeats"] = getattr(model, "repeats", 1)
    return json.loads(json.dumps(out, default=str))  # as it reads back


def cached_evaluate(folder: str | pathlib.Path, key: dict, run: Callable[[], dict],
                    device: str | torch.device = "cpu") -> dict:
    """``run()`` (an :func:`~polydiff.robustness.attacks.evaluate` result), or the result an
    earlier call with the same ``key`` wrote under ``folder``.

    Args:
        folder: where results are kept (created when missing).
        key: a JSON-able description of everything the result depends on; its ``"what"``
            (a short name) starts the file name.
        run: computes the result when none is kept.
        device: where the per-example tensors of a result read back are put.
    """
    if not isinstance(key, dict) or not isinstance(key.get("what"), str) or not key["what"]:
        raise ValueError(f"key must be a dict with a non-empty 'what' string, got {describe(key)}")
    if not callable(run):
        raise TypeError(f"run must be a callable returning an evaluate() result, got {describe(run)}")
    key = json.loads(json.dumps(key, sort_keys=True))  # as it reads back (tuples become lists)
    path = pathlib.Path(folder) / f"{key['what']}-{digest(key)}.json"
    if path.is_file():
        doc = json.loads(path.read_text())
        if doc.get("key") != key:  # a digest collision or an edited file: never a wrong result
            raise ValueError(f"{path} holds the result of {doc.get('key')!r}, not of {key!r}")
        return _decode(doc["result"], device)
    res = run()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        f.write(json.dumps({"key": key, "result": _encode(res)}, indent=1))
    return res


def _encode(res: dict) -> dict:
    return {"clean": res["clean"].as_dict(), "robust": res["robust"].as_dict(),
            "per_attack": {k: a.as_dict() for k, a in res["per_attack"].items()},
            "correct": outcome_string(res["correct"]), "clean_correct": outcome_string(res["clean_correct"]),
            "seconds": float(res["seconds"])}


def _decode(doc: dict, device: str | torch.device) -> dict:
    def mask(bits: str) -> torch.Tensor:
        return outcomes(bits).to(device)

    return {"clean": Accuracy(**doc["clean"]), "robust": Accuracy(**doc["robust"]),
            "per_attack": {k: Accuracy(**a) for k, a in doc["per_attack"].items()},
            "correct": mask(doc["correct"]), "clean_correct": mask(doc["clean_correct"]),
            "seconds": doc["seconds"]}


def chunked_evaluate(folder: str | pathlib.Path | None, key: dict, run: Callable[[int, int], dict], n: int,
                     chunk: int = 0, device: str | torch.device = "cpu") -> dict:
    """``run(i, j)`` (the :func:`~polydiff.robustness.attacks.evaluate` result of images
    ``i:j``) over ``0:n`` in chunks of ``chunk`` images (0: one chunk), each kept under
    ``folder`` by :func:`cached_evaluate` (``None``: kept nowhere), pooled into one result."""
    n, chunk = check_int(n, "n", low=1), check_int(chunk, "chunk", low=0)
    if not callable(run):
        raise TypeError(f"run must be a callable (i, j) -> evaluate() result, got {describe(run)}")
    bounds = [(i, min(i + chunk, n)) for i in range(0, n, chunk)] if chunk else [(0, n)]
    parts = []
    for i, j in bounds:
        part = functools.partial(run, i, j)
        if folder is None:
            parts.append(part())
        else:
            parts.append(cached_evaluate(folder, key if len(bounds) == 1 else {**key, "chunk": [i, j]}, part,
                                         device))
    return parts[0] if len(parts) == 1 else _pool(parts)


def _pool(parts: list[dict]) -> dict:
    """One result from the results of disjoint image chunks (in order)."""
    level, method = parts[0]["clean"].level, parts[0]["clean"].method
    correct = torch.cat([p["correct"] for p in parts])
    clean_correct = torch.cat([p["clean_correct"] for p in parts])
    per_attack = {}
    for name in parts[0]["per_attack"]:
        k, m = sum(p["per_attack"][name].k for p in parts), sum(p["per_attack"][name].n for p in parts)
        per_attack[name] = Accuracy(k / m, k, m, *proportion_ci(k, m, level, method), level, method)
    return {"clean": accuracy(clean_correct, level, method), "robust": accuracy(correct, level, method),
            "per_attack": per_attack, "correct": correct, "clean_correct": clean_correct,
            "seconds": sum(p["seconds"] for p in parts)}
