"""Bootstrap intervals of segmentation mIoU over test images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from polydiff.vision.metrics import miou
from polydiff.vision.miou_interval import miou_interval


def _maps(seed: int, n: int = 20, flip: float = 0.2):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, 3, (n, 8, 8), generator=g)
    noise = torch.rand(n, 8, 8, generator=g) < flip
    pred = torch.where(noise, torch.randint(0, 3, (n, 8, 8), generator=g), target)
    return pred, target


def test_value_is_the_pooled_miou_and_the_interval_brackets_it():
    pred, target = _maps(0)
    out = miou_interval(pred, target, 3)
    assert out["value"] == pytest.approx(miou(pred, target, 3))
    assert out["ci_low"] < out["value"] < out["ci_high"]


def test_identical_images_give_no_sampling_uncertainty_and_identical_methods_no_difference():
    pred, target = _maps(1, n=1)
    out = miou_interval(pred.repeat(10, 1, 1), target.repeat(10, 1, 1), 3, baseline=pred.repeat(10, 1, 1))
    assert out["ci_low"] == pytest.approx(out["value"]) and out["ci_high"] == pytest.approx(out["value"])
    assert out["difference"] == out["difference_ci_low"] == out["difference_ci_high"] == 0.0


def test_interval_matches_a_direct_resampling_of_the_images():
    """The same resampled image sets scored with metrics.miou give the same percentiles."""
    pred, target = _maps(2, n=12)
    good, _ = _maps(2, n=12, flip=0.05)
    out = miou_interval(pred, target, 3, baseline=good, n_resamples=200, seed=5)
    idx = np.random.default_rng(5).integers(0, 12, size=(200, 12))
    direct = np.array([miou(pred[i], target[i], 3) for i in idx])
    direct_diff = direct - np.array([miou(good[i], target[i], 3) for i in idx])
    assert out["ci_low"] == pytest.approx(np.percentile(direct, 2.5))
    assert out["ci_high"] == pytest.approx(np.percentile(direct, 97.5))
    assert out["difference_ci_high"] == pytest.approx(np.percentile(direct_diff, 97.5))
    assert out["difference_ci_high"] < 0  # the noisier maps lose on every resample's upper end


def test_the_interval_covers_the_population_miou_at_about_its_level():
    """Images drawn i.i.d. from one population: the 90% interval of a 40-image test set covers the
    population mIoU (that of 20,000 images) in 80-98% of 200 test sets."""
    pop_pred, pop_target = _maps(3, n=20000, flip=0.4)
    truth = miou(pop_pred, pop_target, 3)
    g = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        i = torch.as_tensor(g.choice(20000, 40, replace=False))
        out = miou_interval(pop_pred[i], pop_target[i], 3, level=0.9, n_resamples=500)
        hits += out["ci_low"] <= truth <= out["ci_high"]
    assert 0.80 <= hits / 200 <= 0.98


def test_bad_input_is_refused_by_name():
    pred, target = _maps(0)
    with pytest.raises(ValueError, match="baseline"):
        miou_interval(pred, target, 3, baseline=pred[:5])
    with pytest.raises(ValueError, match="level"):
        miou_interval(pred, target, 3, level=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        miou_interval(pred, target, 3, n_resamples=10)
    with pytest.raises(ValueError, match="class ids"):
        miou_interval(pred + 1, target, 3)
