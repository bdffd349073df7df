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


class _TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x, t):
        return self.conv(x)


def _vision_cases() -> list[Case]:
    from polydiff.vision import data, inpaint

    return [
        Case("vision.data.check_images", "wrong rank", lambda: data.check_images(torch.rand(2, 8, 8)), ValueError,
             r"\[N, C, H, W\]"),
        Case("vision.data.check_images", "values outside [0, 1]", lambda: data.check_images(torch.linspace(0, 2, 16).reshape(1, 1, 4, 4)),
             ValueError, r"\[0, 1\]"),
        Case("vision.data.check_images", "NaN pixels", lambda: data.check_images(torch.full((1, 1, 2, 2), float("nan"))),
             ValueError, "NaN"),
        Case("vision.data.check_images", "integer images",
             lambda: data.check_images(torch.zeros(1, 1, 2, 2, dtype=torch.long)), TypeError, "float"),
        Case("vision.inpaint.check_mask", "mask not 0/1",
             lambda: inpaint.check_mask(torch.full((1, 1, 4, 4), 0.5), torch.rand(1, 1, 4, 4)), ValueError, "0 and 1"),
        Case("vision.inpaint.make_mask", "unknown mask kind", lambda: inpaint.make_mask("triangle", 1, 8), ValueError,
             "unknown mask kind"),
    ]


def _timeseries_cases() -> list[Case]:
    import numpy as np

    from polydiff.timeseries.impute import check_series

    return [
        Case("timeseries.check_series", "wrong rank", lambda: check_series(np.zeros((3, 4))), ValueError, "rank 2"),
        Case("timeseries.check_series", "infinite values", lambda: check_series(np.array([[[np.inf]]])), ValueError,
             "infinite"),
        Case("timeseries.check_series", "all-missing series", lambda: check_series(np.full((2, 3, 2), np.nan)),
             ValueError, "entirely missing"),
        Case("timeseries.check_series", "non-numeric values", lambda: check_series(np.array([[["a"]]])), TypeError,
             "numbers"),
        Case("timeseries.check_series", "empty batch", lambda: check_series(np.zeros((0, 3, 2))), ValueError,
             "empty axis"),
    ]


def _molecules_cases() -> list[Case]:
    from polydiff.molecules.featurize import parse_molecule

    return [
        Case("molecules.parse_molecule", "invalid SMILES", lambda: parse_molecule("C1CC((N"), ValueError,
             r"invalid SMILES.*C1CC"),
        Case("molecules.parse_molecule", "empty SMILES", lambda: parse_molecule("  "), ValueError, "empty"),
        Case("molecules.parse_molecule", "not a SMILES or Mol", lambda: parse_molecule(42), TypeError,
             "SMILES string or rdkit"),
        Case("molecules.parse_molecule", "pentavalent carbon", lambda: parse_molecule("C(C)(C)(C)(C)C"), ValueError,
             "C\\(C\\)"),
        Case("molecules.parse_molecule", "None instead of a molecule", lambda: parse_molecule(None), TypeError,
             "SMILES string or rdkit"),
    ]


def _text_cases() -> list[Case]:
    from polydiff.text.data import parse_e2e_line

    return [
        Case("text.parse_e2e_line", "no '||' separator", lambda: parse_e2e_line("name : X | food : Y"), ValueError,
             "separator"),
        Case("text.parse_e2e_line", "empty sentence", lambda: parse_e2e_line("name : X||   "), ValueError,
             "empty sentence"),
        Case("text.parse_e2e_line", "MR without a name", lambda: parse_e2e_line("food : Y||A sentence ."),
             ValueError, "'name'"),
        Case("text.parse_e2e_line", "empty line", lambda: parse_e2e_line(""), ValueError, "separator"),
        Case("text.parse_e2e_line", "MR field without a value", lambda: parse_e2e_line("name : X | food||Text ."),
             ValueError, "not 'field : value'"),
    ]


def _robustness_cases() -> list[Case]:
    from polydiff.robustness.purify import Purifier

    def purifier():
        return Purifier(_TinyNet(), t_star=0.1, steps=2, image_shape=(1, 8, 8))

    return [
        Case("robustness.Purifier", "input above 1", lambda: purifier()(torch.linspace(0, 2, 128).reshape(2, 1, 8, 8)), ValueError,
             r"\[0, 1\]"),
        Case("robustness.Purifier", "wrong image shape", lambda: purifier()(torch.rand(2, 1, 6, 6)), ValueError,
             "per-image shape"),
        Case("robustness.Purifier", "unbatched input", lambda: purifier()(torch.rand(8, 8)), ValueError,
             r"\[B, C, H, W\]"),
        Case("robustness.Purifier", "NaN input", lambda: purifier()(torch.full((1, 1, 8, 8), float("nan"))),
             ValueError, "NaN"),
        Case("robustness.Purifier", "t* outside (0, 1]", lambda: Purifier(_TinyNet(), t_star=2.0), ValueError,
             "t_star"),
        Case("robustness.Purifier", "unknown gradient mode", lambda: Purifier(_TinyNet(), gradient="magic"),
             ValueError, "gradient mode"),
    ]


def all_cases() -> list[Case]:
    """Every registered case; a domain whose extra is missing contributes none."""
    cases = _core_cases()
    for domain_cases in (_vision_cases, _timeseries_cases, _molecules_cases, _text_cases, _robustness_cases):
        try:
            cases += domain_cases()
        except ImportError:
            continue
    return cases
