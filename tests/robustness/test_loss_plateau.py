"""Training the purification model until its validation denoising loss stops improving."""
from __future__ import annotations

import json

import polydiff.core as pc
import pytest
import torch
from polydiff.core.training import TrainConfig
from polydiff.robustness import train as train_mod
from polydiff.robustness.loss_plateau import denoising_loss_fn, plateau, plateau_file, stages
from polydiff.robustness.train import train_diffusion
from torch import nn


class _GaussianDenoiser(nn.Module):
    """The exact eps-prediction for data with i.i.d. N(m, s^2) pixels (model scale):
    E[eps | x_t] = sigma (x_t - alpha m) / (alpha^2 s^2 + sigma^2)."""

    def __init__(self, process: pc.GaussianProcess, m: float, s: float) -> None:
        super().__init__()
        self.process, self.m, self.s = process, m, s
        self.dummy = nn.Parameter(torch.zeros(()))  # the eval_fn reads the device from a parameter

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.process.alpha(t.double()).view(-1, 1, 1, 1)
        sig = self.process.sigma(t.double()).view(-1, 1, 1, 1)
        return (sig * (x.double() - a * self.m) / (a**2 * self.s**2 + sig**2)).to(x.dtype)


def test_validation_loss_of_the_exact_denoiser_is_the_gaussian_mmse(one_thread):
    """Gaussian data: the exact denoiser's expected loss per pixel is the posterior variance of
    eps, alpha^2 s^2 / (alpha^2 s^2 + sigma^2), averaged over the stratified times; a network
    that predicts 0 pays E[eps^2] = 1."""
    proc, m, s, t_max = pc.VP(), 0.1, 0.15, 0.6
    g = torch.Generator().manual_seed(0)
    x = (1 + m + s * torch.randn(256, 1, 28, 28, generator=g)) / 2  # model scale 2x - 1 ~ N(m, s^2)
    fn = denoising_loss_fn(x, proc, t_max=t_max, repeats=2, batch_size=100)
    n = 512
    t = proc.t_min + (t_max - proc.t_min) * (torch.arange(n, dtype=torch.float64) + 0.5) / n
    a2s2 = proc.alpha(t) ** 2 * s**2
    mmse = float((a2s2 / (a2s2 + proc.sigma(t) ** 2)).mean())
    got = fn(_GaussianDenoiser(proc, m, s), 0)["val_dsm"]
    assert got == pytest.approx(mmse, rel=0.01)  # 401,408 squared errors: Monte Carlo error ~0.2%
    assert 0.05 < mmse < 0.9  # neither end trivial
    zero = _Linear()
    nn.init.zeros_(zero.lin.weight)
    nn.init.zeros_(zero.lin.bias)
    assert fn(zero, 0)["val_dsm"] == pytest.approx(1.0, rel=0.01)


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(784, 784)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.lin(x.flatten(1)).view_as(x)


def test_validation_loss_draws_the_same_times_and_noise_at_every_call(one_thread):
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    net = _Linear()
    first = denoising_loss_fn(x, pc.VP(), t_max=0.5)(net, 1)["val_dsm"]
    fn = denoising_loss_fn(x, pc.VP(), t_max=0.5)
    assert fn(net, 1)["val_dsm"] == first and fn(net, 2)["val_dsm"] == first
    assert denoising_loss_fn(x, pc.VP(), t_max=0.5, seed=1)(net, 1)["val_dsm"] != first


def test_plateau_reads_the_relative_drop_over_the_last_quarter():
    curve = {100: 1.0, 200: 0.8, 300: 0.70, 400: 0.69}
    v = plateau(curve, 400)
    assert v["from_step"] == 300 and v["relative_drop"] == pytest.approx(0.01 / 0.70)
    assert v["still_improving"] is True  # 1.43% > 1%
    assert plateau(curve, 400, tol=0.02)["still_improving"] is False
    assert plateau({**curve, 500: 0.6}, 400)["relative_drop"] == v["relative_drop"]  # later steps unread
    assert plateau(curve, 300)["from_step"] == 200  # 0.75 * 300 = 225: the last evaluation before it
    rising = plateau({100: 1.0, 200: 0.9, 300: 0.85, 400: 0.9}, 400)
    assert rising["relative_drop"] < 0 and rising["still_improving"] is False  # got worse: stopped
    # no evaluation early enough, or none at the last step: no evidence of a plateau
    assert plateau({350: 0.7, 400: 0.7}, 400)["still_improving"] is True
    assert plateau({100: 0.7, 390: 0.7}, 400)["relative_drop"] is None


def test_plateau_and_stages_refuse_bad_input():
    with pytest.raises(ValueError, match="window"):
        plateau({1: 1.0}, 1, window=1.0)
    with pytest.raises(ValueError, match="tol"):
        plateau({1: 1.0}, 1, tol=-0.1)
    with pytest.raises(ValueError, match="finite and positive"):
        plateau({100: float("nan"), 400: 1.0}, 400)
    with pytest.raises(ValueError, match="max_steps"):
        stages(400, 300)
    with pytest.raises(ValueError, match="growth"):
        stages(400, 800, growth=1.0)


def test_stages_grow_by_the_factor_on_evaluation_steps_up_to_the_cap():
    assert stages(400, 2000, growth=1.5, multiple=100) == [400, 600, 900, 1400, 2000]
    assert stages(8000, 32000, growth=1.5, multiple=400) == [8000, 12000, 18000, 27200, 32000]
    assert stages(5, 5) == [5]


def _data():
    g = torch.Generator().manual_seed(3)
    return torch.rand(48, 1, 28, 28, generator=g), torch.rand(16, 1, 28, 28, generator=g)


def _cfg(tmp_path, **kw) -> TrainConfig:
    base = {"steps": 4, "batch_size": 8, "lr": 2e-3, "ema_decay": 0.9, "ckpt_dir": str(tmp_path / "run"),
            "ckpt_every": 2, "eval_every": 2, "log_every": 2}
    return TrainConfig(**{**base, **kw})


def test_a_run_whose_loss_plateaus_stops_at_its_first_stage(tmp_path, one_thread):
    x, val = _data()
    torch.manual_seed(0)
    train_diffusion(x, _cfg(tmp_path), val=val, max_steps=12, tol=1.0, t_max=0.5, base=8)  # drop < 100%
    out = json.loads(plateau_file(tmp_path / "run").read_text())
    assert out["stages"] == [4] and out["last_step"] == 4 and out["still_improving"] is False
    assert sorted(int(s) for s in out["val_dsm"]) == [2, 4] and out["val_n"] == 16


def test_a_run_still_improving_trains_on_and_a_resumed_run_replays_the_decisions(tmp_path, one_thread, monkeypatch):
    """Stages 4, 6, 10, 12 (growth 1.5 on even steps); the verdict forced to "still improving"
    below step 10: training stops after stage 10, the verdict of step 10 in the file. A second
    call resumes, replays the decisions from the metrics log and trains nothing more."""
    real = train_mod.plateau
    monkeypatch.setattr(train_mod, "plateau", lambda c, s, **kw: {**real(c, s, **kw), "still_improving": s < 10})
    x, val = _data()
    torch.manual_seed(0)
    net = train_diffusion(x, _cfg(tmp_path), val=val, max_steps=12, t_max=0.5, base=8)
    out = json.loads(plateau_file(tmp_path / "run").read_text())
    assert out["stages"] == [4, 6, 10] and out["max_steps"] == 12 and out["last_step"] == 10
    assert sorted(int(s) for s in out["val_dsm"]) == [2, 4, 6, 8, 10]
    assert out["from_step"] == 6 and out["relative_drop"] is not None  # the real reading of step 10's window
    torch.manual_seed(0)
    again = train_diffusion(x, _cfg(tmp_path), val=val, max_steps=12, t_max=0.5, base=8, resume=True)
    assert json.loads(plateau_file(tmp_path / "run").read_text()) == out
    for p, q in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_a_run_in_stages_equals_one_run_of_the_same_length(tmp_path, one_thread, monkeypatch):
    """With a constant learning rate the stage boundaries change nothing: stopping at step 10 of
    a 12-step plan gives the weights of a plain 10-step run."""
    real = train_mod.plateau
    monkeypatch.setattr(train_mod, "plateau", lambda c, s, **kw: {**real(c, s, **kw), "still_improving": s < 10})
    x, val = _data()
    torch.manual_seed(0)
    staged = train_diffusion(x, _cfg(tmp_path / "a"), val=val, max_steps=12, t_max=0.5, base=8)
    torch.manual_seed(0)
    plain = train_diffusion(x, _cfg(tmp_path / "b", steps=10), t_max=0.5, base=8)
    for p, q in zip(staged.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_training_until_a_plateau_refuses_what_it_cannot_carry_out(tmp_path):
    x, val = _data()
    with pytest.raises(ValueError, match="needs val"):
        train_diffusion(x, _cfg(tmp_path), max_steps=8, base=8)
    with pytest.raises(ValueError, match="eval_every"):
        train_diffusion(x, _cfg(tmp_path, eval_every=0), val=val, max_steps=8, base=8)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_diffusion(x, _cfg(tmp_path, lr_schedule="cosine"), val=val, max_steps=8, base=8)
    with pytest.raises(ValueError, match="val must have per-image shape"):
        train_diffusion(x, _cfg(tmp_path), val=val[:, :, :14], max_steps=8, base=8)
    with pytest.raises(ValueError, match="max_steps"):
        train_diffusion(x, _cfg(tmp_path), val=val, max_steps=2, base=8)


def test_the_bench_trains_its_diffusion_model_until_the_plateau_and_states_the_verdict(tmp_path, one_thread):
    from dataclasses import replace

    from polydiff.bench.robustness import (
        CONFIGS,
        UNDEFENDED,
        _diffusion_training_fields,
        _train_all,
        dm_plateau,
        network_keys,
    )

    mnist, fashion = CONFIGS["full"]
    assert mnist.dm_max_steps == fashion.dm_max_steps == 32000 and mnist.dm_val_n == 512
    x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    assert network_keys(mnist, x, y)["diffusion"]["max_steps"] == 32000
    quick = CONFIGS["quick"][0]  # quick mode's keys (fixed length) are those of before
    assert quick.dm_max_steps == 0
    assert set(network_keys(quick, x, y)["diffusion"]) == {"n_train", "data", "base", "steps", "batch", "t_max"}
    cfg = replace(quick, n_train=64, dm_steps=2, dm_batch=8, dm_max_steps=3, dm_val_n=8, val_n=0)
    _train_all(cfg, tmp_path, lambda s: None, parts=("diffusion",))
    verdict = dm_plateau(cfg, tmp_path)
    assert verdict["val_n"] == 8 and verdict["max_steps"] == 3 and verdict["stages"][0] == 2
    assert sorted(int(s) for s in verdict["val_dsm"]) == list(range(1, verdict["last_step"] + 1))  # every step
    assert dm_plateau(quick, tmp_path) is None
    still = {**verdict, "still_improving": True, "relative_drop": 0.05, "from_step": 2, "last_step": 3,
             "stages": [2, 3]}
    recs = [{"problems": [], "valid": True}, {"problems": [], "valid": True, "classifier": UNDEFENDED}]
    _diffusion_training_fields(recs, still)
    assert "diffusion_training" not in recs[0] and recs[0]["valid"]  # not a purifier
    assert recs[1]["valid"] is False and "still falling" in recs[1]["problems"][0]
    assert recs[1]["diffusion_training"]["summary"] == ("3 steps (stages [2, 3], cap 3); validation DSM loss on 8 "
                                                        "images fell 5.00% from step 2: still improving")
