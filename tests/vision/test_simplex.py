import numpy as np
import pytest
import torch
from polydiff.vision.simplex import SimplexNoise, simplex_noise


def _centroid(n: torch.Tensor) -> float:
    """Power-weighted mean radial frequency in cycles per image."""
    P = (np.abs(np.fft.fft2(n.double().numpy())) ** 2).mean((0, 1))
    h, w = P.shape
    r = np.hypot(np.fft.fftfreq(h)[:, None] * h, np.fft.fftfreq(w)[None] * w)
    P[0, 0] = 0
    return float((P * r).sum() / P.sum())


def test_normalised_noise_has_zero_mean_unit_variance():
    n = simplex_noise((8, 2, 32, 32), octaves=4, generator=torch.Generator().manual_seed(0))
    flat = n.flatten(2)
    assert torch.allclose(flat.mean(-1), torch.zeros(8, 2), atol=1e-5)
    assert torch.allclose(flat.std(-1), torch.ones(8, 2), atol=1e-5)


def test_octave_structure():
    g = torch.Generator().manual_seed(1)
    # one octave: the spectrum concentrates at `frequency` cycles per image
    c4 = _centroid(simplex_noise((32, 1, 64, 64), octaves=1, frequency=4, generator=g))
    c8 = _centroid(simplex_noise((32, 1, 64, 64), octaves=1, frequency=8, generator=g))
    assert 3.0 < c4 < 6.0 and 1.7 < c8 / c4 < 2.3
    # every added octave doubles the frequency: more power at high frequency
    cs = [_centroid(simplex_noise((32, 1, 64, 64), octaves=k, frequency=4, decay=0.8, generator=g))
          for k in (1, 2, 3)]
    assert cs[0] < cs[1] < cs[2]
    # a faster amplitude decay puts less weight on the high octaves
    fast = _centroid(simplex_noise((32, 1, 64, 64), octaves=3, frequency=4, decay=0.3, generator=g))
    assert fast < cs[2]


def test_raw_single_octave_range_and_determinism():
    a = simplex_noise((4, 1, 16, 16), octaves=1, normalise=False, generator=torch.Generator().manual_seed(3))
    b = simplex_noise((4, 1, 16, 16), octaves=1, normalise=False, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.abs().max() <= 1.0 and a.std() > 0.1


def test_sampler_shapes_and_bad_args():
    s = SimplexNoise(octaves=2, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(3, 1, 8, 8, dtype=torch.float64)
    out = s(x, 0)
    assert out.shape == x.shape and out.dtype == torch.float64
    with pytest.raises(ValueError):
        s(torch.zeros(3, 8))
    with pytest.raises(ValueError):
        SimplexNoise(octaves=0)
    with pytest.raises(ValueError):
        simplex_noise((1, 1, 8, 8), frequency=-1)
