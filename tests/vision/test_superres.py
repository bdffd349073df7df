"""SR3: prediction types, the residual path, the k-sample mean, against exact oracles."""
import json

import pytest
import torch
from polydiff.vision import superres
from polydiff.vision.data import load_mnist, to_model_range
from polydiff.vision.nets import UNet, UNetConfig
from polydiff.vision.train import build_net, load_trained, train

from .conftest import DeltaOracle


@pytest.fixture(scope="module")
def mnist16():
    x, _ = load_mnist("test", limit=6)
    return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (2, 2, 2, 2)), 2)  # 16x16


def _sr_oracle(process, hr, factor, prediction, residual, scale=1.0):
    """The exact denoiser of an SR3 net whose clean sample is ``hr`` (or its scaled residual)."""
    cond = to_model_range(superres.bicubic(superres.downsample(hr, factor), factor))
    target = (to_model_range(hr) - cond) * scale if residual else to_model_range(hr)
    cfg = UNetConfig(cond_channels=1, prediction=prediction, residual=residual, residual_scale=scale)
    return DeltaOracle(process, target, prediction, config=cfg)


def _tiny_sr(**kw):
    return UNet(base=8, mults=(1, 2), attention_levels=(), groups=4, cond_channels=1, **kw).eval()


# --- the prediction type lives in the checkpoint ---------------------------------------------

def test_superres_nets_default_to_v_prediction_and_residual_ones_to_x0():
    assert build_net("superres").config.prediction == "v"
    assert build_net("superres", prediction="x0").config.prediction == "x0"
    assert build_net("superres", residual=True).config.prediction == "x0"  # zero output = bicubic
    assert build_net("superres", residual=True, prediction="v").config.prediction == "v"
    assert build_net("inpaint").config.prediction == "eps"  # the other tasks keep DDPM's eps


@pytest.mark.parametrize("net_kwargs", [{}, {"prediction": "x0", "residual": True, "residual_scale": 8.0}])
def test_prediction_type_round_trips_through_a_checkpoint(tmp_path, mnist16, net_kwargs):
    kw = {"base": 8, "mults": (1, 2), "attention_levels": (), "groups": 4, **net_kwargs}
    net, process = train("superres", mnist16, torch.zeros(6, dtype=torch.long), steps=2, batch_size=3,
                         net_kwargs=kw, out_dir=tmp_path, log_every=1)
    loaded, _, _ = load_trained(tmp_path)
    want = net_kwargs.get("prediction", "v"), net_kwargs.get("residual", False), net_kwargs.get("residual_scale", 1.0)
    assert (loaded.config.prediction, loaded.config.residual, loaded.config.residual_scale) == want
    lr = superres.downsample(mnist16, 4)
    a = superres.super_resolve(net, process, lr, 4, steps=3, generator=torch.Generator().manual_seed(0))
    b = superres.super_resolve(loaded, process, lr, 4, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(a, b, atol=1e-6)  # sampled as trained


def test_checkpoint_without_a_prediction_field_is_eps(tmp_path):
    from polydiff.vision.nets import load_net, save_net
    save_net(_tiny_sr(), tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    del cfg["prediction"], cfg["residual"], cfg["residual_scale"]  # written before the fields existed
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert load_net(tmp_path).config.prediction == "eps"


def test_bad_prediction_or_residual_is_rejected(process, mnist16):
    with pytest.raises(ValueError, match="prediction"):
        UNetConfig(prediction="score")
    with pytest.raises(ValueError, match="cond_channels"):
        UNetConfig(residual=True)
    with pytest.raises(TypeError, match="residual"):
        UNetConfig(cond_channels=1, residual=1)
    with pytest.raises(ValueError, match="residual_scale"):
        UNetConfig(cond_channels=1, residual=True, residual_scale=0.0)
    with pytest.raises(ValueError, match="residual_scale needs"):
        UNetConfig(cond_channels=1, residual_scale=2.0)
    lr = superres.downsample(mnist16, 4)
    with pytest.raises(ValueError, match="prediction"):
        superres.super_resolve(_tiny_sr(), process, lr, 4, steps=2, prediction="flow")
    with pytest.raises(ValueError, match="factor"):
        superres.super_resolve(_tiny_sr(), process, lr, 0, steps=2)
    with pytest.raises(ValueError, match="k must"):
        superres.super_resolve_mean(_tiny_sr(), process, lr, 4, 0)


# --- exact oracles ---------------------------------------------------------------------------

@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("residual,scale", [(False, 1.0), (True, 1.0), (True, 10.0)])
@pytest.mark.parametrize("solver", ["ddim", "dpmpp_2m"])
def test_sr3_with_exact_denoiser_returns_the_high_resolution_image(process, mnist16, prediction, residual,
                                                                   scale, solver):
    oracle = _sr_oracle(process, mnist16, 4, prediction, residual, scale)
    lr = superres.downsample(mnist16, 4)
    out = superres.super_resolve(oracle, process, lr, 4, steps=6, solver=solver,
                                 generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, mnist16, atol=1e-4), float((out - mnist16).abs().max())
    # the truth already down-samples to the input: the consistency projection keeps it
    out = superres.super_resolve(oracle, process, lr, 4, steps=6, solver=solver, consistent=True,
                                 generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, mnist16, atol=1e-4)


@pytest.mark.parametrize("solver,scale", [("ddim", 1.0), ("ddpm", 1.0), ("ddim", 10.0)])
def test_residual_path_returns_bicubic_exactly_when_the_network_outputs_zero(process, mnist16, solver, scale):
    net = _tiny_sr(prediction="x0", residual=True, residual_scale=scale)  # the output conv is zero-initialised
    lr = superres.downsample(mnist16, 4)
    assert torch.count_nonzero(net(torch.randn(6, 1, 16, 16), torch.full((6,), 500.0),
                                   x_cond=torch.randn(6, 1, 16, 16))) == 0
    out = superres.super_resolve(net, process, lr, 4, steps=5, solver=solver,
                                 generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, superres.bicubic(lr, 4))
    mean = superres.super_resolve_mean(net, process, lr, 4, 3, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(mean, superres.bicubic(lr, 4), rtol=0, atol=1e-6)  # (a + a + a) / 3 rounds


def test_residual_v_oracle_of_a_zero_residual_returns_bicubic(process, mnist16):
    lr = superres.downsample(mnist16, 4)
    cfg = UNetConfig(cond_channels=1, prediction="v", residual=True)
    oracle = DeltaOracle(process, torch.zeros_like(mnist16), "v", config=cfg)
    out = superres.super_resolve(oracle, process, lr, 4, steps=5, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(out, superres.bicubic(lr, 4), atol=1e-5)


def test_k_sample_mean_of_the_exact_denoiser_is_the_image(process, mnist16):
    oracle = _sr_oracle(process, mnist16, 4, "v", False)
    lr = superres.downsample(mnist16, 4)
    oracle.target = oracle.target.repeat_interleave(4, 0)  # the mean draws 4 samples per image
    out = superres.super_resolve_mean(oracle, process, lr, 4, 4, steps=5, solver="ddpm",
                                      generator=torch.Generator().manual_seed(0))
    assert out.shape == mnist16.shape and torch.allclose(out, mnist16, atol=1e-4)


@pytest.mark.parametrize("residual,scale", [(False, 1.0), (True, 1.0), (True, 10.0)])
def test_training_loss_vanishes_only_for_the_exact_denoiser_of_its_target(process, mnist16, residual, scale):
    """The loss targets v of ``hr`` (or of ``scale (hr - bicubic)``): zero for that oracle, not another's."""
    x = mnist16[:1]
    right = _sr_oracle(process, x, 4, "v", residual, scale)
    wrong = _sr_oracle(process, x, 4, "v", not residual) if scale == 1.0 else _sr_oracle(process, x, 4, "v", True)
    wrong.config = right.config
    g = torch.Generator().manual_seed(0)
    assert float(superres.superres_loss(right, process, x, 4, generator=g)) < 1e-10
    assert float(superres.superres_loss(wrong, process, x, 4, generator=torch.Generator().manual_seed(0))) > 1e-3
