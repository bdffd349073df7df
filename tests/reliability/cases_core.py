"""Catalogue cases of polydiff.core: the engine, training, checkpoints, pipelines."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import Case


def _zeros_model(x, t):
    return torch.zeros_like(x)


def _core_cases() -> list[Case]:
    import polydiff.core as pc

    x = torch.randn(2, 3)
    vp = pc.VP()
    return [
        Case("pc.restart", "t_restart outside the process range",
             lambda: pc.restart(_zeros_model, vp, x, t_restart=3.0, rounds=1, steps=2), ValueError,
             "t_restart must lie in"),
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
             ValueError, r"known\.values \(where mask == 1\) contains 6 non-finite"),
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
        Case("pc.process_from_config", "config missing a key (was KeyError)",
             lambda: pc.process_from_config({"class": "DiscreteVP"}), ValueError, r"lacks the keys \['betas'\]"),
        Case("pc.sample", "eta far above 1 (was silent)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddim", eta=50.0), ValueError,
             r"eta must lie in \[0, 1\], got 50"),
        Case("pc.sample", "infinite eta (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddim", eta=float("inf")), ValueError,
             "eta must be a finite number"),
        Case("pc.sample", "infinite snr (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="predictor_corrector", snr=float("inf")),
             ValueError, "snr must be a finite number"),
        Case("pc.sample", "generator given as an int seed (was AttributeError)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddpm", generator=3), TypeError,
             r"generator must be a torch.Generator.*manual_seed\(3\)"),
        Case("pc.sample", "NaN in a conditioning input (was blamed on the model)",
             lambda: pc.sample(lambda x, t, y: x * y[:, None], vp, x, steps=3,
                               cond={"y": torch.tensor([1.0, float("nan")])}), ValueError,
             r"cond\['y'\] contains 1 non-finite"),
        Case("pc.sample", "grid built for another process (was silent)",
             lambda: pc.sample(_zeros_model, vp, x, grid=pc.make_grid(pc.EDM(), 4)), ValueError,
             "built for another process"),
        Case("pc.sample", "noise sampler returning [1, D] (was broadcast)",
             lambda: pc.sample(_zeros_model, vp, x, steps=3, solver="ddpm",
                               noise=lambda z, i: torch.randn(1, z.shape[1])), ValueError,
             r"noise\(x, step\) must return a tensor of the state's shape \(2, 3\), got \(1, 3\)"),
        Case("GaussianProcess.prior_sample", "float size (was truncated)", lambda: vp.prior_sample((2, 3.7)),
             TypeError, r"shape\[1\] must be an int, got 3.7"),
        Case("pc.make_grid", "Karras rho = 0 (was ZeroDivisionError)",
             lambda: pc.make_grid(pc.EDM(), 4, "karras", rho=0.0), ValueError, r"rho must lie in \(0, 1000\]"),
        Case("pc.GaussianNoise", "int seed as generator (was AttributeError at the first draw)",
             lambda: pc.GaussianNoise(5), TypeError, "generator must be a torch.Generator"),
        *_core_cases_31(x, vp),
    ]


def _core_cases_31(x, vp) -> list[Case]:
    """Issue #31: caller inputs named instead of blamed on the model, or accepted silently."""
    import numpy as np
    import polydiff.core as pc

    nan = float("nan")
    net_y = lambda x, t, y=None: 0.1 * x
    md = pc.MaskedDiffusion(5, 4)
    tok = torch.zeros(2, 3, dtype=torch.long)
    logits = lambda z, t, **k: torch.zeros(*z.shape, 5)
    g = torch.Generator().manual_seed(0)
    return [
        Case("pc.sample", "NaN in a numpy cond value (was blamed on the model)",
             lambda: pc.sample(net_y, vp, x, steps=2, cond={"y": np.array([nan])}), ValueError, r"cond\['y'\]"),
        Case("pc.sample", "NaN in a list cond value (was blamed on the model)",
             lambda: pc.sample(net_y, vp, x, steps=2, cond={"y": [nan, 1.0]}), ValueError, r"cond\['y'\]"),
        Case("pc.sample", "classifier log_prob returning NaN (was blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2,
                               guidance=pc.ClassifierGuidance(lambda z, t: z.sum(1) * nan)),
             FloatingPointError, "classifier's log_prob"),
        Case("pc.ClassifierGuidance", "scale 1e30 (overflowed, blamed on the model)",
             lambda: pc.ClassifierGuidance(lambda z, t: z.sum(1), scale=1e30), ValueError, "scale must lie in"),
        Case("pc.CFG", "scale=True (was accepted as 1)", lambda: pc.CFG(scale=True), TypeError,
             "CFG scale must be a real number"),
        Case("pc.sample", "predictor_corrector snr=1e30 (overflowed, blamed on the model)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, solver="predictor_corrector", snr=1e30),
             ValueError, r"snr must lie in \(0, 1\]"),
        Case("pc.sample", "callback not callable", lambda: pc.sample(_zeros_model, vp, x, steps=2, callback="f"),
             TypeError, "callback must be callable"),
        Case("pc.sample", "check_finite='no' (was truthy)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, check_finite="no"), TypeError,
             "check_finite must be a bool"),
        Case("pc.sample", "rk45 rtol=1e30 (was accepted)",
             lambda: pc.sample(_zeros_model, vp, x, steps=2, solver="rk45", rtol=1e30), ValueError,
             r"rtol must lie in \(0, 1\)"),
        Case("pc.Known", "jump_length=2.5 (was truncated)",
             lambda: pc.Known(torch.zeros(2, 3), torch.ones(2, 3), jump_length=2.5), TypeError,
             "known.jump_length must be an integer"),
        Case("pc.VP", "t_max=2.0 beyond the schedule's [0, 1]", lambda: pc.VP(t_max=2.0), ValueError,
             r"t_max must lie in"),
        Case("pc.VP", "beta_max=True (was 1.0)", lambda: pc.VP(beta_max=True), TypeError,
             "beta_max must be a real number"),
        Case("pc.VP", "cosine s < 0 (was ZeroDivisionError in sample)", lambda: pc.VP(schedule="cosine", s=-1.0),
             ValueError, r"s must lie in \[0, inf\)"),
        Case("pc.EDM", "rho = 0 (was accepted)", lambda: pc.EDM(rho=0.0), ValueError, r"rho must lie in"),
        Case("GaussianProcess.sigma", "t beyond t_max on the CPU (was clamped)",
             lambda: vp.sigma(torch.tensor([2.0])), ValueError, r"t outside the process range"),
        Case("pc.DiscreteVP", "prediction_type='sample2' (was accepted)",
             lambda: pc.DiscreteVP(pc.beta_schedule("linear", 10), prediction_type="sample2"), ValueError,
             "prediction_type must be one of"),
        Case("pc.DiscreteVP", "rank-2 betas (was flattened)",
             lambda: pc.DiscreteVP(pc.beta_schedule("linear", 10)[None]), ValueError, "betas must be 1-D"),
        Case("pc.beta_schedule", "beta_start given to the fixed cosine schedule (was ignored)",
             lambda: pc.beta_schedule("cosine", 10, beta_start=0.5), ValueError, r"takes no \['beta_start'\]"),
        Case("pc.Grid", "increasing t (was accepted)",
             lambda: pc.Grid(t=torch.tensor([0.1, 1.0]), alpha=torch.ones(2), sigma=torch.ones(2)), ValueError,
             "grid t must be non-increasing"),
        Case("pc.Grid", "integer t (was accepted)",
             lambda: pc.Grid(t=torch.tensor([1, 0]), alpha=torch.ones(2), sigma=torch.tensor([1.0, 0.0])),
             TypeError, "grid t must be a floating-point tensor"),
        Case("pc.make_grid", "steps=5.0 (was accepted)", lambda: pc.make_grid(vp, 5.0), TypeError,
             "steps must be an integer"),
        Case("pc.dsm_loss", "int seed as generator (was AttributeError)",
             lambda: pc.dsm_loss(_zeros_model, vp, x, generator=3), TypeError, "generator must be a torch.Generator"),
        Case("pc.dsm_loss", "NaN in cond (was blamed on the net)",
             lambda: pc.dsm_loss(net_y, vp, x, cond={"y": torch.tensor([nan])}), ValueError, r"cond\['y'\]"),
        Case("pc.dsm_loss", "edm_p_mean=1e30 (was blamed on the net)",
             lambda: pc.dsm_loss(_zeros_model, pc.EDM(), x, time_sampling="lognormal", edm_p_mean=1e30),
             ValueError, "edm_p_mean must lie in"),
        Case("pc.ode_nll", "int seed as generator (was AttributeError)",
             lambda: pc.ode_nll(_zeros_model, vp, x, generator=3), TypeError, "generator must be a torch.Generator"),
        Case("pc.mdlm_loss", "t = 0 where the weight diverges (was inf loss)",
             lambda: pc.mdlm_loss(logits, md, tok, t=torch.zeros(2)), ValueError, r"t must lie in \[t_eps, 1\]"),
        Case("pc.masked_sample", "shape and x disagree (shape was ignored)",
             lambda: pc.masked_sample(logits, md, (3, 3), steps=2, x=tok), ValueError, "shape .* and x .* disagree"),
        Case("pc.randn", "int seed as generator (was a torch signature dump)",
             lambda: pc.randn((2, 3), generator=5), TypeError, "generator must be a torch.Generator"),
        Case("pc.Denoiser", "step index beyond the grid (was IndexError)",
             lambda: pc.Denoiser(_zeros_model, vp, pc.make_grid(vp, 2), "eps", x)(x, 10), ValueError,
             "step index i must lie in"),
        Case("pc.optimize_grid", "eta=50 for ddim (was blamed on the rk45 reference)",
             lambda: pc.optimize_grid(_zeros_model, vp, x, 3, solver="ddim", eta=50), ValueError,
             r"eta must lie in \[0, 1\]"),
        Case("pc.prediction_coefficients", "sigma_data <= 0 (was accepted)",
             lambda: pc.prediction_coefficients("edm", torch.ones(1), torch.ones(1), sigma_data=0.0), ValueError,
             "sigma_data must lie in"),
        Case("pc.clip", "lo=None (was a raw comparison error)", lambda: pc.clip(lo=None), TypeError,
             "lo must be a real number"),
        Case("pc.randn", "int shape like prior_sample (was 'int' is not iterable): a negative size is named",
             lambda: pc.randn((2, -3), g), ValueError, "shape must have positive sizes"),
        *_training_cases_31(),
    ]


def _training_cases_31() -> list[Case]:
    from polydiff.core import training as T
    from polydiff.core.training.checkpoint import load_weights
    from polydiff.core.training.serialize import read_safetensors
    from torch import nn

    net = nn.Linear(3, 2)
    nan_w = {"weight": torch.full((2, 3), float("nan")), "bias": torch.zeros(2)}
    int_w = {"weight": torch.zeros(2, 3, dtype=torch.long), "bias": torch.zeros(2)}
    return [
        Case("TrainConfig", "lr=True (was accepted)", lambda: T.TrainConfig(steps=2, batch_size=2, lr=True),
             TypeError, "TrainConfig.lr must be a real number"),
        Case("TrainConfig", "ema_power=inf (was accepted)",
             lambda: T.TrainConfig(steps=2, batch_size=2, ema_power=float("inf")), ValueError,
             "TrainConfig.ema_power must be a finite number"),
        Case("load_weights", "NaN weights (were loaded)", lambda: load_weights(net, nan_w, Path("w.safetensors")),
             ValueError, r"w\.safetensors: non-finite .* \['weight'\]"),
        Case("load_weights", "int64 data into a float parameter (was cast)",
             lambda: load_weights(net, int_w, Path("w.safetensors")), ValueError,
             r"w\.safetensors: dtype mismatch weight"),
        Case("read_safetensors", "a directory (was 'file is missing')", lambda: read_safetensors(Path(".")),
             ValueError, "is a directory"),
    ]
