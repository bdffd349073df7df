"""Palette (mask-conditioned inpainting) against exact conditional oracles and its loss's definition."""
import types

import pytest
import torch
from polydiff.vision import inpaint, palette
from polydiff.vision.data import to_model_range


class ConditionalPointMasses(torch.nn.Module):
    """Exact x0-prediction when the data are the images ``data`` (point masses) and the known
    pixels are given without noise: the posterior puts all its mass on the images that agree
    with ``x_cond``'s known pixels (here exactly one). Records every ``x_cond`` it is given."""

    def __init__(self, data01):
        super().__init__()
        self.data = to_model_range(data01).double()
        c = data01.shape[1]
        self.dummy = torch.nn.Parameter(torch.zeros(()))
        self.config = types.SimpleNamespace(prediction="x0", in_channels=c, cond_channels=c + 1)
        self.seen = []

    def forward(self, x, t, x_cond):
        self.seen.append(x_cond.clone())
        c = x.shape[1]
        known, m = x_cond[:, :c].double(), x_cond[:, c:].double()
        miss = torch.stack([((m * (known - d)) ** 2).flatten(1).sum(1) for d in self.data], 1)
        pick = miss.argmin(1)
        assert bool((miss.gather(1, pick[:, None]) < 1e-9).all()), "no image matches the known pixels"
        return self.data[pick].to(x.dtype)


@pytest.mark.parametrize("solver", ["ddim", "ddpm", "dpmpp_2m"])
def test_exact_conditional_denoiser_fills_each_hole_with_its_own_image(process, solver):
    g = torch.Generator().manual_seed(0)
    data = torch.rand(3, 1, 8, 8, generator=g)
    mask = inpaint.make_mask("center", 3, 8)
    oracle = ConditionalPointMasses(data)
    out = palette.palette_inpaint(oracle, process, data[[2, 0, 1]], mask, steps=6, solver=solver,
                                  generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, data[[2, 0, 1]], atol=2e-6, rtol=0)
    # the condition carries the known pixels and the mask, and nothing of the hole's truth
    for x_cond in oracle.seen:
        torch.testing.assert_close(x_cond[:, 1:], mask)
        assert bool((x_cond[:, :1] * (1 - mask) == 0).all())
        torch.testing.assert_close(x_cond[:, :1] * mask, to_model_range(data[[2, 0, 1]]) * mask)


class _Conv(torch.nn.Module):
    def __init__(self, shift_known: float = 0.0, shift_hole: float = 0.0):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)
        self.shift_known, self.shift_hole = shift_known, shift_hole
        self.config = types.SimpleNamespace(prediction="v", in_channels=1, cond_channels=2)

    def forward(self, x, t, x_cond):
        m = x_cond[:, 1:]
        return self.conv(torch.cat([x, x_cond], 1)) + self.shift_known * m + self.shift_hole * (1 - m)


def test_loss_reads_the_missing_pixels_only(process):
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    masks = palette.training_masks(6, 8, torch.Generator().manual_seed(4))

    def loss(net):
        with torch.no_grad():
            return palette.palette_loss(net, process, x, masks=masks,
                                        generator=torch.Generator().manual_seed(5))

    base = loss(_Conv())
    torch.testing.assert_close(loss(_Conv(shift_known=100.0)), base)
    assert float(loss(_Conv(shift_hole=1.0))) > float(base) + 0.1


def test_training_masks_mix_the_kinds_and_are_reproducible():
    a = palette.training_masks(60, 16, torch.Generator().manual_seed(0))
    b = palette.training_masks(60, 16, torch.Generator().manual_seed(0))
    assert a.shape == (60, 1, 16, 16)
    torch.testing.assert_close(a, b)
    assert bool(((a == 0) | (a == 1)).all())
    known = a.flatten(1).mean(1)
    assert bool((known > 0).all() and (known < 1).all())  # every mask has known and missing pixels
    right_half = torch.zeros(16, 16)
    right_half[:, :8] = 1
    assert int((a[:, 0] == right_half).flatten(1).all(1).sum()) >= 5  # "half" masks occur
    assert len({round(float(k), 3) for k in known}) >= 10  # boxes and strokes of many sizes
    with pytest.raises(ValueError, match="n must be a positive int"):
        palette.training_masks(0, 16)


def test_a_net_without_the_mask_channel_is_refused(process):
    net = _Conv()
    net.config = types.SimpleNamespace(prediction="v", in_channels=1, cond_channels=1)
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="cond_channels == in_channels \\+ 1"):
        palette.palette_inpaint(net, process, x, inpaint.make_mask("center", 2, 8), steps=2)
    with pytest.raises(ValueError, match="every pixel as known"):
        palette.palette_inpaint(_Conv(), process, x, torch.ones(2, 1, 8, 8), steps=2)


def test_trained_palette_net_round_trips_its_condition_and_prediction(tmp_path):
    from polydiff.vision.train import load_trained, train
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    net, proc = train("palette", x, torch.zeros(8, dtype=torch.long), steps=2, batch_size=4,
                      net_kwargs={"base": 8, "mults": (1, 2), "attention_levels": ()}, out_dir=tmp_path, log_every=1)
    loaded, _, extra = load_trained(tmp_path)
    assert extra["task"] == "palette"
    assert (loaded.config.cond_channels, loaded.config.prediction) == (2, "v")
    mask = inpaint.make_mask("center", 2, 8)
    a = palette.palette_inpaint(net, proc, x[:2], mask, steps=3, generator=torch.Generator().manual_seed(1))
    b = palette.palette_inpaint(loaded, proc, x[:2], mask, steps=3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
