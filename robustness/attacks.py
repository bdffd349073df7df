"""Attacks from torchattacks and the worst-case evaluation over attacks and seeds.

:func:`make_attack` builds a torchattacks attack by name for L-inf or L2 threat models:
PGD (Madry et al. 2018), EOT-PGD (Athalye et al. 2018), APGD with cross-entropy or DLR loss
and AutoAttack ``standard`` / ``rand`` (Croce & Hein 2020). :func:`evaluate` runs every
(attack, seed) pair and counts an example as robust only if no pair flips it (per-example
worst case, as AutoAttack does), attacking only the examples still correctly classified
(with ``cascade=True``, only those no earlier attack has flipped, as AutoAttack runs its
attacks: same worst case, a fraction of the cost when a cheap attack goes first).
Random defences (purifiers) are attacked and judged with their own randomness; the
adversarial example is classified by a fresh draw.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
import torchattacks
from polydiff.core.validate import check_int, check_number, describe
from torch import Tensor, nn

from .gradients import EOT
from .metrics import accuracy
from .purify import check_images

__all__ = ["ATTACKS", "attack_batches", "evaluate", "make_attack", "pgd_examples", "reseed"]

ATTACKS = ("pgd", "eotpgd", "apgd-ce", "apgd-dlr", "square", "autoattack-rand", "autoattack-standard")
_NORMS = ("Linf", "L2")


def make_attack(name: str, model: nn.Module, *, eps: float, norm: str = "Linf", steps: int = 40,
                alpha: float | None = None, eot_iter: int = 1, seed: int = 0,
                n_classes: int = 10, batched_eot: bool = False) -> torchattacks.attack.Attack:
    """A torchattacks attack on ``model`` (inputs in [0, 1]; the attack refuses other inputs
    rather than let torchattacks clamp them).

    Args:
        name: one of :data:`ATTACKS`.
        model: logits ``[B, K]`` from images in [0, 1] (e.g. a PurifiedClassifier).
        eps: radius of the threat model on the [0, 1] image scale (L-inf: in (0, 1], so 8/255,
            not 8; L2: any finite positive radius).
        norm: "Linf" or "L2".
        steps: iterations of PGD / APGD; queries of Square (Andriushchenko et al. 2020, the
            black-box member of AutoAttack "standard"; AutoAttack uses its own budgets).
        alpha: PGD step size on the same scale as ``eps`` (default ``2.5 eps / steps``, Madry et al.).
        eot_iter: gradient draws per step for "eotpgd" and APGD (EOT).
        seed: APGD/AutoAttack seed.
        n_classes: number of classes (APGD-T / FAB in AutoAttack ``standard``).
        batched_eot: PGD, EOT-PGD and APGD attack ``EOT(model, eot_iter, batched=True)``:
            the draws run as one stacked batch and the gradient is that of the mean logits
            (APGD's own EOT averages the draws' loss gradients, one call per draw instead).
    """
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; expected one of {ATTACKS}")
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module (logits from images in [0, 1]), got {describe(model)}")
    eps = _radius(eps, "eps", norm)
    for label, v in (("steps", steps), ("eot_iter", eot_iter)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{label} must be an int >= 1, got {v!r}")
    if not isinstance(batched_eot, bool):
        raise TypeError(f"batched_eot must be a bool, got {batched_eot!r}")
    alpha = _radius(alpha, "alpha", norm) if alpha is not None else 2.5 * eps / steps
    check_int(seed, "seed", low=0)
    check_int(n_classes, "n_classes", low=2)
    return _checked_inputs(_build(name, model, eps, norm, steps, alpha, eot_iter, seed, n_classes, batched_eot))


def pgd_examples(net: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int, generator: torch.Generator) -> Tensor:
    """L-inf PGD examples with random start (Madry et al. 2018, eq. 2), step ``2.5 eps / steps``;
    the random start follows ``generator`` (adversarial training and its validation)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):  # torchattacks draws its random start globally
        torch.manual_seed(seed)
        atk = torchattacks.PGD(net, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)
        return atk(x, y).detach()


def _radius(value, name: str, norm: str) -> float:
    """An L-inf radius or step on the [0, 1] image scale lies in (0, 1]: ``eps=8`` is the
    0-255 scale's 8/255 and would let the attack replace every image; an L2 radius only > 0."""
    high = 1.0 if norm == "Linf" else None
    try:
        return check_number(value, name, low=0.0, low_open=True, high=high)
    except ValueError as err:
        if high is not None and isinstance(value, (int, float)) and 1 < value <= 255:
            raise ValueError(f"{err} (images are in [0, 1]: for {value:g}/255 pass {name}={value / 255:.6g})") from None
        raise


def _checked_inputs(atk: torchattacks.attack.Attack) -> torchattacks.attack.Attack:
    """Make ``atk(images, labels)`` refuse images outside [0, 1] (torchattacks would clamp its
    adversarial examples to [0, 1], silently clipping such images) and malformed labels."""
    forward = atk.forward

    def checked(images, labels=None, *args, **kwargs):
        check_images(images, name="images")
        if labels is None:
            return forward(images, labels, *args, **kwargs)
        _check_labels(labels, images.shape[0], None)
        if labels.numel() and int(labels.min()) < 0:
            raise ValueError(f"labels must be class ids >= 0, got values in [{int(labels.min())}, {int(labels.max())}]")
        try:
            return forward(images, labels, *args, **kwargs)
        except IndexError as err:  # the loss indexing the logits with a label >= K
            raise ValueError(f"labels must be class ids in 0..K-1 for the model's K logits, got values in "
                             f"[{int(labels.min())}, {int(labels.max())}] ({err})") from None

    atk.forward = checked
    return atk


def _build(name, model, eps, norm, steps, alpha, eot_iter, seed, n_classes, batched_eot):
    if batched_eot and eot_iter > 1 and not name.startswith("autoattack"):
        model, eot_iter = EOT(model, eot_iter, batched=True), 1
    if name in ("pgd", "eotpgd"):
        target = model if (name == "pgd" or eot_iter == 1) else EOT(model, eot_iter)
        if norm == "Linf":
            return torchattacks.PGD(target, eps=eps, alpha=alpha, steps=steps, random_start=True)
        return torchattacks.PGDL2(target, eps=eps, alpha=alpha, steps=steps, random_start=True)
    if name.startswith("apgd"):
        return torchattacks.APGD(model, norm=norm, eps=eps, steps=steps, n_restarts=1, seed=seed,
                                 loss=name.split("-")[1], eot_iter=eot_iter)
    if name == "square":  # score-based: no gradients, so masking cannot fool it
        return torchattacks.Square(model, norm=norm, eps=eps, n_queries=steps, n_restarts=1, seed=seed)
    return torchattacks.AutoAttack(model, norm=norm, eps=eps, version=name.split("-")[1],
                                   n_classes=n_classes, seed=seed)


def _check_labels(y, n: int, num_classes: int | None) -> Tensor:
    """Integer labels ``[n]``, each in ``0..num_classes-1`` when ``num_classes`` is known (a label
    outside would be counted as a misclassification, not refused)."""
    if not isinstance(y, Tensor) or y.dtype not in (torch.int64, torch.int32) or tuple(y.shape) != (n,):
        raise ValueError(f"labels y must be an int64/int32 tensor of shape [{n}], got {describe(y)}")
    if num_classes is not None and n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels y must lie in 0..{num_classes - 1} (the model gives {num_classes} logits), "
                         f"got values in [{int(y.min())}, {int(y.max())}]")
    return y


def reseed(module: nn.Module, seed: int) -> None:
    """Call ``reseed(seed)`` on every submodule that has it (purifiers): fixes their draws."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {describe(module)}")
    seed = check_int(seed, "seed")
    for m in module.modules():
        fn = getattr(m, "reseed", None)
        if callable(fn):
            fn(seed)


@torch.no_grad()
def _logits(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    """``model``'s logits ``[N, K]`` on ``x``, batch by batch (checked to be one row per image)."""
    out = []
    for i in range(0, len(x), batch_size):
        z = model(x[i:i + batch_size])
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[0] != len(x[i:i + batch_size]):
            raise ValueError(f"model must return logits [B, K] for a batch of B images, got {describe(z)}")
        out.append(z)
    return torch.cat(out)


def _predict(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    return _logits(model, x, batch_size).argmax(-1)


def attack_batches(model: nn.Module, x: Tensor, y: Tensor, idx: Tensor,
                   factory: Callable[[nn.Module, int], torchattacks.attack.Attack], seed: int,
                   batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ``(j, adversarial x[j])`` for batches ``j`` of ``idx``, attacked by ``factory(model, seed)``.

    The global RNG is forked and seeded with ``seed`` and purifiers are reseeded before the
    attack is built; the fork stays open while the caller judges each batch, so a caller's
    draws between batches are part of the same reproducible stream.
    """
    check_images(x)
    _check_labels(y, x.shape[0], None)
    if (not isinstance(idx, Tensor) or idx.ndim != 1 or idx.is_floating_point() or idx.is_complex()
            or idx.dtype == torch.bool):
        raise TypeError(f"idx must be a 1-D integer tensor of example indices, got {describe(idx)}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= x.shape[0]):
        raise ValueError(f"idx must index the {x.shape[0]} examples of x (0..{x.shape[0] - 1}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if not callable(factory):
        raise TypeError(f"factory must be a callable factory(model, seed), got {describe(factory)}")
    seed = check_int(seed, "seed")
    batch_size = check_int(batch_size, "batch_size", low=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reseed(model, seed)
        atk = factory(model, seed)
        if not callable(atk):
            raise TypeError(f"the attack factory must return an attack atk(images, labels) (e.g. make_attack(...)), "
                            f"got {describe(atk)} from factory(model, {seed})")
        for i in range(0, len(idx), batch_size):
            j = idx[i:i + batch_size]
            yield j, atk(x[j], y[j]).detach()


def evaluate(model: nn.Module, x: Tensor, y: Tensor,
             attacks: Mapping[str, Callable[[nn.Module, int], torchattacks.attack.Attack]],
             seeds: Sequence[int] = (0,), *, batch_size: int = 64, level: float = 0.95,
             cascade: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Clean and worst-case robust accuracy of ``model`` over attacks and seeds.

    Args:
        model: logits from images in [0, 1] (random models are fine).
        x: images ``[N, C, H, W]`` in [0, 1]; y: labels ``[N]`` in ``0..K-1`` for a model with
            ``K`` logits (a label outside is refused, not counted as a misclassification).
        attacks: name -> ``factory(model, seed)`` returning a torchattacks attack, e.g.
            ``{"pgd": lambda m, s: make_attack("pgd", m, eps=0.3, seed=s)}``.
        seeds: each attack runs once per seed; the global RNG is forked around each run
            (torchattacks draws random starts from it) and purifiers are reseeded.
        batch_size: examples per attack call.
        level: confidence level of the Wilson intervals.
        cascade: attack only the examples that every earlier attack (in ``attacks`` order)
            left correct; ``per_attack`` is then the accuracy after that attack and all
            earlier ones (AutoAttack's running robust accuracy). ``robust`` is the same
            worst case either way, up to the defence's randomness.

    Returns:
        dict with ``clean`` and ``robust`` :class:`Accuracy`, ``per_attack`` (name ->
        Accuracy, worst case over that attack's seeds, cumulative under ``cascade``),
        ``correct`` (bool ``[N]``, robust per example), ``clean_correct`` (bool ``[N]``) and
        ``seconds`` (attack wall time).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    check_images(x)
    _check_labels(y, x.shape[0], None)
    if not isinstance(attacks, Mapping):
        raise TypeError(f"attacks must map names to factory(model, seed) callables, got {describe(attacks)}")
    if not attacks:
        raise ValueError("attacks must name at least one attack")
    for name, factory in attacks.items():
        if not callable(factory):
            raise TypeError(f"attacks[{name!r}] must be a callable factory(model, seed), got {describe(factory)}")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {describe(seeds)}")
    for i, s in enumerate(seeds):
        check_int(s, f"seeds[{i}]")
    batch_size = check_int(batch_size, "batch_size", low=1)
    check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(cascade, bool):
        raise TypeError(f"cascade must be a bool, got {cascade!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(message) such as print, or None, got {describe(progress)}")
    was_training = model.training
    model.eval()
    try:
        t0 = time.perf_counter()
        reseed(model, 10_000)
        logits = _logits(model, x, batch_size)
        _check_labels(y, x.shape[0], logits.shape[1])
        clean = logits.argmax(-1) == y.to(logits.device)
        robust, per_attack = clean.clone(), {}
        for name, factory in attacks.items():
            ok = robust.clone() if cascade else clean.clone()
            for seed in seeds:
                idx = torch.nonzero(ok).flatten()
                if progress is not None:
                    progress(f"attack {name} seed {seed} on {len(idx)} examples")
                for j, adv in attack_batches(model, x, y, idx, factory, seed, batch_size):
                    ok[j] &= _predict(model, adv, batch_size) == y[j]
            per_attack[name] = accuracy(ok, level)
            robust &= ok
    finally:
        model.train(was_training)
    return {"clean": accuracy(clean, level), "robust": accuracy(robust, level), "per_attack": per_attack,
            "correct": robust, "clean_correct": clean, "seconds": time.perf_counter() - t0}
