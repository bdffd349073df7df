"""The exact training-set denoiser of scripts/inpaint_learning_curve.py against its formula."""
import importlib.util
import pathlib

import torch


def _oracle_class():
    path = pathlib.Path(__file__).parents[2] / "scripts" / "inpaint_learning_curve.py"
    spec = importlib.util.spec_from_file_location("inpaint_learning_curve", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.TrainingSetOracle


def test_training_set_oracle_is_the_posterior_mean_of_point_masses(process):
    """One image: x0 is that image at every t (a point mass). Three images: the posterior weights
    w_i ~ N(x_t; alpha x_i, sigma^2 I), computed here in float64 from the definition."""
    oracle_cls = _oracle_class()
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(3, 1, 8, 8, generator=g)
    t = torch.tensor([50.0, 400.0, 900.0]) if process.t_max > 2 else torch.tensor([0.05, 0.4, 0.9])
    x = torch.randn(3, 1, 8, 8, generator=g)
    one = oracle_cls(process, imgs[:1])(x, t)
    torch.testing.assert_close(one, (2 * imgs[:1] - 1).expand_as(x))
    out = oracle_cls(process, imgs)(x, t)
    data = (2 * imgs - 1).double().flatten(1)
    a = process.alpha(t.double())[:, None]
    s = process.sigma(t.double())[:, None]
    logp = torch.stack([-((x.double().flatten(1) - a * d) ** 2).sum(1) / (2 * s[:, 0] ** 2) for d in data], 1)
    want = (torch.softmax(logp, 1) @ data).reshape(x.shape)
    torch.testing.assert_close(out.double(), want, atol=1e-4, rtol=1e-4)
    assert oracle_cls(process, imgs).config.prediction == "x0"
