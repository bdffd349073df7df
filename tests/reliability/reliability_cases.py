"""The bad-input catalogue: each case is (api, what is wrong, call, expected error, message).

`tests/reliability/test_catalogue.py` runs every case; `python tests/reliability/catalogue.py`
writes docs/reliability.md from the same list (a test fails when the document is stale).
Domains add their cases to CASES in the same form.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Case:
    api: str
    problem: str
    call: Callable[[], object]
    error: type
    match: str


def _zeros_model(x, t):
    return torch.zeros_like(x)


def _core_cases() -> list[Case]:
    import polydiff.core as pc

    x = torch.randn(2, 3)
    vp = pc.VP()
    return [
        Case("pc.sample", "unknown solver name", lambda: pc.sample(_zeros_model, vp, x, solver="dpm_fast"),
             ValueError, "unknown solver"),
        Case("pc.sample", "unknown prediction type", lambda: pc.sample(_zeros_model, vp, x, prediction="noise"),
             ValueError, "unknown prediction"),
        Case("pc.sample", "steps <= 0", lambda: pc.sample(_zeros_model, vp, x, steps=0), ValueError,
             "steps must be an integer >= 1"),
        Case("pc.sample", "steps not an integer", lambda: pc.sample(_zeros_model, vp, x, steps=2.5), ValueError,
             "steps must be an integer"),
        Case("pc.sample", "t_start outside the process range", lambda: pc.sample(_zeros_model, vp, x, t_start=1.5),
             ValueError, "outside the process range"),
        Case("pc.sample", "x_T contains NaN", lambda: pc.sample(_zeros_model, vp, torch.full((2, 3), float("nan"))),
             ValueError, "NaN or inf"),
        Case("pc.sample", "x_T is an integer tensor", lambda: pc.sample(_zeros_model, vp, torch.ones(2, 3, dtype=torch.long)),
             TypeError, "floating-point"),
        Case("pc.sample", "empty batch", lambda: pc.sample(_zeros_model, vp, torch.zeros(0, 3)), ValueError,
             "non-empty batch"),
        Case("pc.sample", "model output shape differs from x", lambda: pc.sample(lambda x, t: torch.zeros(2, 4), vp, x),
             ValueError, "does not match x"),
        Case("pc.sample", "model returns NaN mid-trajectory",
             lambda: pc.sample(lambda x, t: x * float("nan") if float(t[0]) < 0.5 else x, vp, x, steps=6),
             FloatingPointError, r"at step \d"),
        Case("pc.sample", "per-sample t_start of the wrong batch size",
             lambda: pc.sample(_zeros_model, vp, x, t_start=torch.tensor([0.5, 0.4, 0.3])), ValueError, "per-sample"),
        Case("pc.CFG", "guidance scale NaN", lambda: pc.CFG(float("nan")), ValueError, "finite"),
        Case("pc.Known", "mask not 0/1", lambda: pc.Known(torch.zeros(2, 3), torch.full((2, 3), 0.5)), ValueError,
             "only 0 and 1"),
        Case("pc.Known", "NaN at a known entry", lambda: pc.Known(torch.full((2, 3), float("nan")), torch.ones(2, 3)),
             ValueError, "NaN or inf"),
        Case("pc.VP", "unknown schedule", lambda: pc.VP(schedule="exp"), ValueError, "unknown VP schedule"),
        Case("pc.DiscreteVP", "beta table with NaN", lambda: pc.DiscreteVP(torch.tensor([0.1, float("nan")])),
             ValueError, "betas must be finite"),
        Case("pc.DiscreteVP.from_diffusers", "not a config", lambda: pc.DiscreteVP.from_diffusers(3), TypeError,
             "scheduler config"),
        Case("pc.make_grid", "unknown grid kind", lambda: pc.make_grid(vp, 4, "cosine"), ValueError,
             "unknown grid kind"),
        Case("GaussianProcess.prior_sample", "zero-sized shape", lambda: vp.prior_sample((0, 3)), ValueError,
             "positive sizes"),
        Case("pc.process_from_config", "config without a class", lambda: pc.process_from_config({"beta_min": 1}),
             ValueError, "'class'"),
    ]


def all_cases() -> list[Case]:
    """Every registered case (domains whose extra is missing contribute none)."""
    return _core_cases()
