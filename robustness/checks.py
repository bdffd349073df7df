"""Checks that an evaluation can be trusted: the attack has converged, the baselines have
their published strength, and gradients are not masked.

- :func:`plateau`: double the attack's steps and EOT draws until robust accuracy moves by at
  most ``tol`` (the check DiffPure's and Lee & Kim's protocols imply: 100-200 steps x 20
  draws were needed there); report where the budget stopped short.
- :func:`masking_gap`: a score-based attack (Square) that lowers accuracy by more than
  ``tol`` after the gradient attacks have run means the gradients are masked (Athalye et al.
  2018; Croce & Hein 2020 use the same symptom), so the gradient-attack number is invalid.
- :func:`strength_problems`: a baseline below its published strength target.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from polydiff.core.validate import describe

__all__ = ["Plateau", "masking_gap", "plateau", "strength_problems"]


@dataclass(frozen=True)
class Plateau:
    """What :func:`plateau` measured: ``history`` holds ``(steps, draws, robust accuracy)`` per
    budget tried; ``converged`` is whether the last doubling moved accuracy by <= ``tol``."""

    history: list[tuple[int, int, float]] = field(default_factory=list)
    converged: bool = False
    tol: float = 0.02

    @property
    def steps(self) -> int:
        """Steps of the last budget tried (the one to report)."""
        return self.history[-1][0]

    @property
    def draws(self) -> int:
        """EOT draws of the last budget tried."""
        return self.history[-1][1]

    @property
    def accuracy(self) -> float:
        """Robust accuracy at the last budget tried."""
        return self.history[-1][2]

    def describe(self) -> str:
        """One line for a table: the budgets tried and whether the plateau check held."""
        path = " -> ".join(f"{s}x{d}: {100 * a:.1f}%" for s, d, a in self.history)
        verdict = ("plateau reached" if self.converged else
                   f"NOT converged (last doubling moved > {100 * self.tol:g} points)")
        return f"{path}; {verdict}"


def _positive_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    return v


def _fraction(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    return float(v)


def _mapping(name: str, v: object) -> None:
    if not isinstance(v, Mapping):
        raise TypeError(f"{name} must be a mapping of names to accuracies, got {describe(v)}")


def plateau(robust_accuracy: Callable[[int, int], float], steps: int, draws: int = 1, *,
            tol: float = 0.02, max_steps: int = 1000, max_draws: int = 64) -> Plateau:
    """Double ``steps`` and ``draws`` from the given budget until one doubling changes
    ``robust_accuracy(steps, draws)`` (a fraction in [0, 1]) by at most ``tol``.

    Stops short, with ``converged=False``, when the next doubling would exceed ``max_steps`` or
    ``max_draws``. Draws are not doubled when ``draws == 1`` (a deterministic defence).
    """
    if not callable(robust_accuracy):
        raise TypeError(f"robust_accuracy must be a callable (steps, draws) -> accuracy, got "
                        f"{describe(robust_accuracy)}")
    steps, draws = _positive_int("steps", steps), _positive_int("draws", draws)
    tol = _fraction("tol", tol)
    _positive_int("max_steps", max_steps)
    _positive_int("max_draws", max_draws)
    if steps > max_steps or draws > max_draws:
        raise ValueError(f"the starting budget {steps}x{draws} exceeds max_steps={max_steps} / "
                         f"max_draws={max_draws}")
    history = [(steps, draws, _fraction("robust_accuracy(...)", robust_accuracy(steps, draws)))]
    while True:
        nxt_s, nxt_d = 2 * steps, (2 * draws if draws > 1 else 1)
        if nxt_s > max_steps or nxt_d > max_draws:
            return Plateau(history, False, tol)
        steps, draws = nxt_s, nxt_d
        history.append((steps, draws, _fraction("robust_accuracy(...)", robust_accuracy(steps, draws))))
        if abs(history[-1][2] - history[-2][2]) <= tol:
            return Plateau(history, True, tol)


def masking_gap(running: Mapping[str, float], score_based: str = "square",
                tol: float = 0.02) -> str | None:
    """The gradient-masking verdict of a cascade of attacks, or ``None`` when there is none.

    Args:
        running: attack name -> running robust accuracy after that attack and all earlier
            ones, in the order they ran (``evaluate(..., cascade=True)["per_attack"]`` values);
            the score-based attack must come after the gradient attacks.
        score_based: the name of the score-based attack in ``running``.
        tol: the largest drop (fraction) the score-based attack may add.
    """
    _mapping("running", running)
    names = list(running)
    if score_based not in running:
        raise ValueError(f"running must hold the score-based attack {score_based!r}, got {names}")
    i = names.index(score_based)
    if i == 0:
        raise ValueError(f"{score_based!r} must run after the gradient attacks, got the order {names}")
    tol = _fraction("tol", tol)
    before = _fraction(f"running[{names[i - 1]!r}]", running[names[i - 1]])
    after = _fraction(f"running[{score_based!r}]", running[score_based])
    if before - after > tol:
        return (f"gradient masking: {score_based} lowered robust accuracy from {100 * before:.1f}% "
                f"to {100 * after:.1f}% after the gradient attacks (more than {100 * tol:g} points)")
    return None


def strength_problems(measured: Mapping[str, float], targets: Mapping[str, float]) -> list[str]:
    """The targets a baseline misses: ``measured[k] < targets[k]`` (fractions), as messages.

    A target whose measurement is absent is a problem too (an unmeasured strength is not met).
    """
    _mapping("measured", measured)
    _mapping("targets", targets)
    problems = []
    for key, target in targets.items():
        target = _fraction(f"targets[{key!r}]", target)
        if key not in measured:
            problems.append(f"{key} not measured (target {100 * target:.1f}%)")
        elif _fraction(f"measured[{key!r}]", measured[key]) < target:
            problems.append(f"{key} {100 * measured[key]:.1f}% is below its target {100 * target:.1f}%")
    return problems
