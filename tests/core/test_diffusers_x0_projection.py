"""``DiscreteVP.from_diffusers`` carries the config's ``clip_sample`` / ``thresholding`` and
``pc.sample`` applies them: the default DDIM and DDPM configs (``clip_sample=True``) and the
multistep schedulers with ``thresholding=True`` reproduce diffusers' own loop on the same model
and noise. The model's implied ``x0`` reaches |x0| ~ 2, so clipping is active at every step."""
import polydiff.core as pc
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

PRED = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


def _model_for(sched):
    ac_table = sched.alphas_cumprod.double()
    pred = sched.config.prediction_type

    def model(x, t):
        tt = t.double().clamp(0, len(ac_table) - 1)
        lo = tt.floor().long().clamp(max=len(ac_table) - 2)
        ac = ac_table[lo] + (tt - lo) * (ac_table[lo + 1] - ac_table[lo])
        a = ac.sqrt().reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)
        s = (1 - ac).sqrt().reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)
        x0 = 2.0 * torch.tanh(1.5 * x + 0.3)  # beyond [-1, 1]: clip_sample changes every step
        eps = (x - a * x0) / s
        return {"epsilon": eps, "sample": x0, "v_prediction": a * eps - s * x0}[pred]

    return model


def _diffusers_loop(sched, model, x, steps, seed=None):
    sched.set_timesteps(steps)
    lat = x * sched.init_noise_sigma
    kw = {"generator": torch.Generator().manual_seed(seed)} if seed is not None else {}
    for t in sched.timesteps:
        out = model(sched.scale_model_input(lat, t), torch.full((x.shape[0],), float(t)))
        lat = sched.step(out, t, lat, **kw).prev_sample
    return lat


def _x(seed=0):
    return torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("pred", ["epsilon", "v_prediction", "sample"])
def test_default_ddim_config_clips_like_ddimscheduler(pred):
    sched = diffusers.DDIMScheduler(prediction_type=pred)  # clip_sample=True by default
    model, x = _model_for(sched), _x()
    ref = _diffusers_loop(sched, model, x, 10)
    proc = pc.DiscreteVP.from_diffusers(sched.config)
    assert proc.x0_clip == 1.0
    out = pc.sample(model, proc, x, steps=10, solver="ddim", prediction=PRED[pred])
    assert (out - ref).abs().max() <= 1e-4
    # without the projection the outputs really differ (the check can fail)
    unclipped = pc.sample(model, proc, x, steps=10, solver="ddim", prediction=PRED[pred],
                          project_x0=lambda v, t: v)
    assert (unclipped - ref).abs().max() > 0.1


def test_ddim_with_clipped_model_output_is_guided_diffusions_convention():
    sched = diffusers.DDIMScheduler()
    model, x = _model_for(sched), _x(1)
    sched.set_timesteps(10)
    lat = x.clone()
    for t in sched.timesteps:
        out = model(lat, torch.full((x.shape[0],), float(t)))
        lat = sched.step(out, t, lat, use_clipped_model_output=True).prev_sample
    proc = pc.DiscreteVP.from_diffusers(sched.config)
    out = pc.sample(model, proc, x, steps=10, solver="ddim", reproject_eps=True)
    assert (out - lat).abs().max() <= 1e-4


def test_default_ddpm_config_clips_like_ddpmscheduler_with_the_same_noise():
    sched = diffusers.DDPMScheduler()
    model, x = _model_for(sched), _x(2)
    ref = _diffusers_loop(sched, model, x, 10, seed=5)
    out = pc.sample(model, pc.DiscreteVP.from_diffusers(sched.config), x, steps=10, solver="ddpm",
                    generator=torch.Generator().manual_seed(5))
    assert (out - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("solver,cls", [("dpmpp_2m", "DPMSolverMultistepScheduler"),
                                        ("unipc", "UniPCMultistepScheduler")])
@pytest.mark.parametrize("max_value", [1.0, 1.5])
def test_thresholding_like_the_multistep_schedulers(solver, cls, max_value):
    sched = getattr(diffusers, cls)(thresholding=True, sample_max_value=max_value,
                                    dynamic_thresholding_ratio=0.9)
    model, x = _model_for(sched), _x(3)
    ref = _diffusers_loop(sched, model, x, 8)
    proc = pc.DiscreteVP.from_diffusers(sched.config)
    assert proc.x0_threshold == (0.9, max_value)
    out = pc.sample(model, proc, x, steps=8, solver=solver)
    assert (out - ref).abs().max() <= 1e-4
    plain = pc.sample(model, proc, x, steps=8, solver=solver, project_x0=lambda v, t: v)
    assert (plain - ref).abs().max() > 0.05


def test_configs_without_the_keys_do_not_project_and_the_settings_round_trip():
    euler = pc.DiscreteVP.from_diffusers(diffusers.EulerDiscreteScheduler().config)
    assert euler.x0_projection() is None
    ddim = pc.DiscreteVP.from_diffusers(diffusers.DDIMScheduler(clip_sample_range=2.0).config)
    again = pc.process_from_config(ddim.config())
    assert (again.x0_clip, again.x0_threshold, again.reproject_eps) == (2.0, None, False)
    with pytest.raises(ValueError, match="x0_clip must be a positive finite number or None, got -1"):
        pc.DiscreteVP.from_schedule("linear", 100, x0_clip=-1)
    with pytest.raises(ValueError, match=r"x0_threshold must be \(ratio in \(0, 1\), max_value >= 1\)"):
        pc.DiscreteVP.from_schedule("linear", 100, x0_threshold=(1.5, 1.0))
