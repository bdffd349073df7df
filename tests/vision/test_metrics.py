import numpy as np
import pytest
import torch
from polydiff.vision import metrics


def test_psnr_matches_formula_and_ssim_identity():
    a = torch.full((2, 1, 8, 8), 0.5)
    b = a + 0.1
    assert metrics.psnr(b, a) == pytest.approx(10 * np.log10(1 / 0.01), rel=1e-6)
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert metrics.ssim(x, x) == pytest.approx(1.0)
    assert metrics.ssim(x, (x + 0.3 * torch.rand_like(x)).clamp(0, 1)) < 0.95


def test_masked_psnr_only_counts_masked_pixels():
    a = torch.zeros(1, 1, 4, 4)
    b = a.clone()
    b[..., :2, :] = 0.1  # error only in the top half
    top = torch.zeros(1, 1, 4, 4)
    top[..., :2, :] = 1
    assert metrics.masked_psnr(b, a, top) == pytest.approx(20.0)
    assert metrics.masked_psnr(b, a, 1 - top) == 100.0
    with pytest.raises(ValueError):
        metrics.masked_psnr(b, a, top * 0.5)


def test_iou_dice_by_hand():
    p = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 1]])
    t = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 1]])
    iou = metrics.iou_per_class(p, t, 3)
    assert np.allclose(iou, [1 / 3, 3 / 4, 2 / 3])
    assert metrics.miou(p, t, 3) == pytest.approx((1 / 3 + 3 / 4 + 2 / 3) / 3)
    assert metrics.dice((p == 1).long(), (t == 1).long()) == pytest.approx(2 * 3 / (3 + 4))
    with pytest.raises(TypeError):
        metrics.miou(p.float(), t, 3)


def test_auroc_matches_pairwise_definition():
    s = torch.tensor([0.1, 0.4, 0.35, 0.8])
    y = torch.tensor([0, 0, 1, 1])
    pairs = [(a > b) + 0.5 * (a == b) for a in s[y == 1] for b in s[y == 0]]
    assert metrics.auroc(s, y) == pytest.approx(float(np.mean(pairs)))
    with pytest.raises(ValueError):
        metrics.auroc(s, torch.zeros(4))


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=(20000, 2))
    b = rng.normal([1.0, 0.0], [2.0, 1.0], size=(20000, 2))
    # closed form for diagonal covariances: |mu_a - mu_b|^2 + sum (s_a - s_b)^2
    assert metrics.frechet_distance(a, b) == pytest.approx(1.0 + 1.0, abs=0.1)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_classifier_metrics_on_a_fixed_classifier():
    class Thresh(torch.nn.Module):
        def forward(self, x):
            m = x.flatten(1).mean(1, keepdim=True)
            return torch.cat([0.5 - m, m - 0.5], 1)

        def features(self, x):
            return x.flatten(1)[:, :3]

    x = torch.cat([torch.zeros(5, 1, 4, 4), torch.ones(5, 1, 4, 4)])
    y = torch.tensor([0] * 5 + [1] * 5)
    assert metrics.accuracy(Thresh(), x, y) == 1.0
    assert metrics.accuracy(Thresh(), x, 1 - y) == 0.0
    assert metrics.classifier_frechet_distance(Thresh(), x, x) == pytest.approx(0.0, abs=1e-6)


def test_best_dice_finds_the_separating_threshold():
    masks = torch.zeros(2, 8, 8, dtype=torch.long)
    masks[:, 2:4, 2:4] = 1
    maps = masks.double() * 0.8 + 0.1 * torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(0))
    d, th = metrics.best_dice(maps, masks)
    assert d == 1.0 and 0.1 <= th < 0.8
    assert metrics.best_dice(torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(1)), masks)[0] < 0.6
