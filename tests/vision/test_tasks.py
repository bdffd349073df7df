"""Properties of the task modules on tiny models and exact oracles."""
import polydiff.core as pc
import pytest
import torch
from polydiff.vision import anomaly, generate, inpaint, metrics, sdedit, segment, superres
from polydiff.vision.data import from_model_range, load_mnist, to_model_range
from polydiff.vision.nets import UNet
from polydiff.vision.simplex import SimplexNoise

from .conftest import DeltaOracle


@pytest.fixture(scope="module")
def mnist8():
    x, y = load_mnist("test", limit=8)
    return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (2, 2, 2, 2)), 2), y  # 16x16


def _random_unet(**kw):
    torch.manual_seed(0)
    net = UNet(base=8, mults=(1, 2), attention_levels=(1,), groups=4, **kw)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
    return net.eval()


# --- inpainting ----------------------------------------------------------------------------

@pytest.mark.parametrize("solver,resample", [("ddim", 1), ("ddpm", 3), ("dpmpp_2m", 2)])
def test_inpainting_keeps_known_pixels_exactly(process, mnist8, solver, resample):
    x, _ = mnist8
    mask = inpaint.make_mask("strokes", len(x), 16, generator=torch.Generator().manual_seed(0))
    out = inpaint.inpaint(_random_unet(), process, x, mask, steps=6, solver=solver, jump_length=2,
                          resample=resample, generator=torch.Generator().manual_seed(1))
    known = mask.expand_as(x) == 1
    assert torch.equal(out[known], x[known])
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out[~known], x[~known])


def test_core_known_hook_ends_on_exact_values(process, mnist8):
    x, _ = mnist8
    mask = inpaint.make_mask("half", len(x), 16)
    v = to_model_range(x)
    x_T = process.prior_sample(x.shape, generator=torch.Generator().manual_seed(0))
    out = pc.sample(_random_unet(), process, x_T, steps=5, solver="ddim", known=pc.Known(v, mask, 2, 2))
    assert torch.equal(out[mask.expand_as(x) == 1], v[mask.expand_as(x) == 1])


def test_inpainting_with_exact_denoiser_recovers_image(process, mnist8):
    x, _ = mnist8
    mask = inpaint.make_mask("center", len(x), 16)
    out = inpaint.inpaint(DeltaOracle(process, to_model_range(x)), process, x, mask, steps=8, solver="ddim")
    assert torch.allclose(out, x, atol=1e-4)
    assert metrics.masked_psnr(out, x, 1 - mask) > 60


def test_masks_and_bad_masks(mnist8):
    x, _ = mnist8
    c = inpaint.make_mask("center", 2, 16, box=0.5)
    assert c.shape == (2, 1, 16, 16) and float(c.mean()) == 0.75
    assert float(inpaint.make_mask("half", 1, 16).mean()) == 0.5
    s = inpaint.make_mask("strokes", 3, 16, generator=torch.Generator().manual_seed(0))
    assert set(s.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="0 and 1"):
        inpaint.inpaint(_random_unet(), None, x, torch.full((8, 1, 16, 16), 0.5))
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        inpaint.inpaint(_random_unet(), None, x * 3, c[:1])
    with pytest.raises(ValueError, match="mask kind"):
        inpaint.make_mask("circle", 1, 16)
    bh = inpaint.biharmonic(x, c[:1].expand(8, 1, 16, 16))
    assert torch.equal(bh[c[:1].expand(8, 1, 16, 16) == 1], x[c[:1].expand(8, 1, 16, 16) == 1])


# --- classifier-free guidance ---------------------------------------------------------------

def test_cfg_scale_zero_is_the_unconditional_model(process, mnist8):
    _, y = mnist8
    net = _random_unet(num_classes=10)
    a = generate.generate(net, process, y, scale=0.0, steps=4, shape=(1, 16, 16),
                          generator=torch.Generator().manual_seed(2))
    x_T = process.prior_sample((len(y), 1, 16, 16), generator=torch.Generator().manual_seed(2))
    null = torch.full_like(y, 10)
    ref = pc.sample(lambda x, t: net(x, t, y=null), process, x_T, steps=4, solver="ddim", project_x0=pc.clip())
    assert torch.allclose(a, from_model_range(ref), atol=1e-6)
    b = generate.generate(net, process, y, scale=1.0, steps=4, shape=(1, 16, 16),
                          generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(a, b)


def test_label_dropout_rate_and_bad_labels():
    y = torch.zeros(20000, dtype=torch.long)
    d = generate.drop_labels(y, 0.2, 10, torch.Generator().manual_seed(0))
    assert abs(float((d == 10).float().mean()) - 0.2) < 0.01
    with pytest.raises(ValueError):
        generate.generate(_random_unet(num_classes=10), None, torch.tensor([11]))
    with pytest.raises(TypeError):
        generate.generate(_random_unet(num_classes=10), None, torch.tensor([1.0]))


# --- super-resolution -----------------------------------------------------------------------

class _Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))
        self.conds = []
        self.config = UNet(base=8, mults=(1,), attention_levels=(), groups=4, cond_channels=1).config

    def forward(self, x, t, x_cond=None):
        self.conds.append(x_cond)
        return torch.zeros_like(x)


def test_sr3_conditions_on_bicubic_upsampled_input(process, mnist8):
    x, _ = mnist8
    lr = superres.downsample(x, 4)
    rec = _Recorder()
    superres.super_resolve(rec, process, lr, 4, steps=3)
    expected = to_model_range(superres.bicubic(lr, 4))
    assert len(rec.conds) == 3 and all(torch.equal(c, expected) for c in rec.conds)


def test_sr_output_downsamples_to_the_input(process, mnist8):
    x, _ = mnist8
    lr = superres.downsample(x, 2)
    out = superres.super_resolve(_random_unet(cond_channels=1), process, lr, 2, steps=4, consistent=True,
                                 generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(superres.downsample(out, 2), lr, atol=1e-5)
    with pytest.raises(ValueError):
        superres.downsample(x, 3)  # 16 not divisible by 3


# --- SDEdit ---------------------------------------------------------------------------------

@pytest.mark.parametrize("strength", [0.3, 1.0])
def test_sdedit_with_exact_denoiser_returns_its_data_point(process, mnist8, strength):
    x, _ = mnist8
    target = to_model_range(x.flip(0))  # the "realistic" data point differs from the guide
    out = sdedit.sdedit(DeltaOracle(process, target), process, x, strength, steps=6, solver="ddim",
                        generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, from_model_range(target), atol=1e-4)
    with pytest.raises(ValueError, match="strength"):
        sdedit.sdedit(DeltaOracle(process, target), process, x, 0.0)


def test_sdedit_strength_is_start_time(process):
    assert sdedit.strength_to_time(process, 1.0) == process.t_max
    assert sdedit.strength_to_time(process, 0.5) == pytest.approx(0.5 * process.t_max)


# --- segmentation ---------------------------------------------------------------------------

def test_segmentation_trains_on_two_images_and_predicts_all_classes(process, mni32):
    x, y = mni32
    net = UNet(base=8, mults=(1, 2), attention_levels=(), groups=4)
    ext = segment.FeatureExtractor(net, process, timesteps=(50, 150))
    seg = segment.train_segmenter(ext, x[[10, 30]], y[[10, 30]], 3, n_models=2, pixels_per_image=1024, epochs=4)
    pred = seg.predict(x[[20, 40]])
    assert pred.shape == (2, 32, 32) and set(pred.unique().tolist()) == {0, 1, 2}
    assert metrics.miou(pred, y[[20, 40]], 3) > 0.5
    proba = seg.predict_proba(x[[20]])
    assert torch.allclose(proba.sum(1), torch.ones(1, 32, 32), atol=1e-5)


def test_denoiser_finetuned_as_segmenter_starts_from_its_weights(mni32):
    """``train_unet_segmenter(init=denoiser)``: the denoiser's weights except the output conv,
    which starts at zero with one channel per class (so step 0 predicts uniform logits); the
    denoiser itself is left unchanged; a conditional U-Net is refused by name."""
    x, y = mni32
    torch.manual_seed(1)
    den = UNet(base=8, mults=(1, 2), attention_levels=(1,), groups=4)
    before = {k: v.clone() for k, v in den.state_dict().items()}
    untrained = segment.train_unet_segmenter(x[[10, 30]], y[[10, 30]], 3, steps=1, lr=1e-12, init=den)
    assert untrained.net.config.out_channels == 3 and untrained.net.config.attention_levels == (1,)
    for k, v in untrained.net.state_dict().items():
        if not k.startswith("out."):
            assert torch.allclose(v, before[k])  # (lr 1e-12: one step moves nothing visible)
    with torch.no_grad():
        assert torch.allclose(untrained(x[[20]]), torch.zeros(1, 3, 32, 32), atol=1e-6)
    seg = segment.train_unet_segmenter(x[[10, 30]], y[[10, 30]], 3, steps=60, lr=3e-3, init=den)
    assert all(torch.equal(v, before[k]) for k, v in den.state_dict().items())
    with torch.no_grad():
        pred = seg(x[[20, 40]]).argmax(1)
    assert metrics.miou(pred, y[[20, 40]], 3) > 0.5
    with pytest.raises(ValueError, match="init must be an unconditional"):
        segment.train_unet_segmenter(x[:2], y[:2], 3, init=UNet(base=8, mults=(1, 2), attention_levels=(),
                                                                groups=4, num_classes=3))
    with pytest.raises(TypeError, match="init must be"):
        segment.train_unet_segmenter(x[:2], y[:2], 3, init="unet")


def test_segmentation_rejects_bad_labels(process, mni32):
    x, y = mni32
    ext = segment.FeatureExtractor(UNet(base=8, mults=(1, 2), attention_levels=(), groups=4), process)
    with pytest.raises(ValueError, match="labels"):
        segment.train_segmenter(ext, x[:2], y[:2] + 5, 3)
    with pytest.raises(TypeError):
        segment.train_segmenter(ext, x[:2], y[:2].float(), 3)


# --- anomaly detection ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["simplex", "gaussian"])
def test_anomaly_map_localises_a_lesion_with_exact_denoiser(process, mnist8, kind):
    x, _ = mnist8
    normal = x[:4]
    lesion = torch.zeros_like(normal)
    lesion[..., 4:8, 4:8] = 1.0
    abnormal = (normal + lesion).clamp(0, 1)
    oracle = DeltaOracle(process, to_model_range(normal))
    noise = anomaly.noise_sampler(kind, generator=torch.Generator().manual_seed(0),
                                  **({"frequency": 2.0, "octaves": 3} if kind == "simplex" else {}))
    maps = anomaly.anomaly_maps(oracle, process, abnormal, 250, noise=noise, steps=5, solver="ddim")
    assert maps.shape == (4, 16, 16)
    truth = (abnormal != normal).squeeze(1)
    assert metrics.auroc(maps.flatten(), truth.flatten().long()) > 0.99
    assert torch.all(anomaly.image_scores(maps, "max") > 0.1)


def test_anoddpm_loss_uses_the_given_noise(process, mnist8):
    x, _ = mnist8
    net = _random_unet()
    noise = SimplexNoise(octaves=2, generator=torch.Generator().manual_seed(0))
    loss = anomaly.anoddpm_loss(net, process, x, noise, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and net.out.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        anomaly.noise_sampler("pink")


def test_autoencoder_baseline_reconstructs_its_training_data(mnist8):
    x, _ = mnist8
    ae = anomaly.train_autoencoder(x, steps=150, batch_size=8, lr=5e-3, width=8, latent=8)
    maps = anomaly.autoencoder_maps(ae, x)
    assert maps.shape == (8, 16, 16)
    assert float(maps.mean()) < float(((x - x.mean(0)) ** 2).mean())  # beats the mean image
    with pytest.raises(ValueError):
        ae(torch.rand(1, 1, 10, 10))


def test_synthetic_lesions_change_only_the_lesion_pixels(mni32):
    x, y = mni32
    region = y[:6] > 0
    out, masks = anomaly.synthetic_lesions(x[:6], region, generator=torch.Generator().manual_seed(0))
    assert out.shape == x[:6].shape and masks.shape == region.shape
    assert (masks.flatten(1).sum(1) > 0).all()
    changed = (out != x[:6]).squeeze(1)
    assert not (changed & (masks == 0)).any()  # nothing changes outside the lesion
    with pytest.raises(ValueError):
        anomaly.synthetic_lesions(x[:2], region[:1])


def test_per_sample_generators_make_samples_batch_independent(process, mnist8):
    _, y = mnist8
    net = _random_unet(num_classes=10)
    gens = lambda: [torch.Generator().manual_seed(100 + i) for i in range(4)]
    full = generate.generate(net, process, y[:4], scale=2.0, steps=3, solver="ddpm", shape=(1, 16, 16),
                             generator=gens())
    part = generate.generate(net, process, y[:2], scale=2.0, steps=3, solver="ddpm", shape=(1, 16, 16),
                             generator=gens()[:2])
    assert torch.allclose(full[:2], part, atol=1e-5)


# --- RePaint's schedule at a step budget and the inpainting scores ---------------------------

def test_repaint_settings_keep_the_papers_jump_in_time():
    assert inpaint.repaint_settings(250) == inpaint.PAPER_REPAINT  # the paper's own budget
    for steps in (10, 25, 50, 100):
        s = inpaint.repaint_settings(steps)
        assert s["resample"] == 10 and s["jump_length"] == max(1, round(steps / 25))
    with pytest.raises(ValueError, match="steps"):
        inpaint.repaint_settings(0)
    with pytest.raises(ValueError, match="resample"):
        inpaint.repaint_settings(25, resample=0)


@pytest.mark.parametrize("steps", [25, 50])
def test_repaint_schedule_costs_about_steps_times_resample(process, mnist8, steps):
    x, _ = mnist8
    mask = inpaint.make_mask("center", 2, 16)
    oracle = DeltaOracle(process, to_model_range(x[:2]))
    kw = inpaint.repaint_settings(steps)
    out = inpaint.inpaint(oracle, process, x[:2], mask, solver="ddpm", **kw)
    nfe = len(oracle.calls)
    assert steps * (kw["resample"] - 1) < nfe <= steps * kw["resample"]
    assert torch.allclose(out, x[:2], atol=1e-4)  # resampling keeps the exact denoiser's answer


class _ThresholdClassifier(torch.nn.Module):
    """Class = number of pixels above 0.5, modulo 10; features = four row-sums (known truths)."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        k = (x > 0.5).flatten(1).sum(1) % 10
        return torch.nn.functional.one_hot(k, 10).float()

    def features(self, x):
        return x.sum(-1).flatten(1)[:, ::4]


def test_inpainting_scores_against_hand_computed_truths(mnist8):
    x, _ = mnist8
    clf = _ThresholdClassifier()
    truth_labels = (x > 0.5).flatten(1).sum(1) % 10
    wrong = truth_labels.clone()
    wrong[:3] = (wrong[:3] + 1) % 10
    hole = 1 - inpaint.make_mask("center", len(x), 16)
    s = metrics.inpainting_scores(clf, x, wrong, x, truth=x, hole=hole)
    assert list(s)[:2] == ["classifier-accuracy", "classifier-frechet"]  # headline first
    assert s["classifier-accuracy"] == pytest.approx(5 / 8)
    assert abs(s["classifier-frechet"]) < 1e-6  # identical sets
    assert s["PSNR-hole"] == 100.0 and s["SSIM"] == pytest.approx(1.0)
    blurred = (x + x.mean(0, keepdim=True)) / 2
    assert metrics.inpainting_scores(clf, blurred, truth_labels, x)["classifier-frechet"] > 0.1
    assert set(metrics.inpainting_scores(clf, x, truth_labels, x)) == {"classifier-accuracy", "classifier-frechet"}
    with pytest.raises(ValueError, match="labels"):
        metrics.inpainting_scores(clf, x, truth_labels.float(), x)
    with pytest.raises(ValueError, match="hole needs truth"):
        metrics.inpainting_scores(clf, x, truth_labels, x, hole=hole)


def test_exemplar_fill_copies_the_hole_of_the_best_matching_exemplar(mnist8):
    x, _ = mnist8
    mask = inpaint.make_mask("center", len(x), 16)
    shifted = torch.roll(x, 1, dims=-1)  # a worse match for every image
    out = inpaint.exemplar_fill(x, mask, torch.cat([shifted, x.flip(0)]))
    assert torch.equal(out, x)  # each image is its own best exemplar: recovered exactly
    known = mask.expand_as(x) == 1
    other = inpaint.exemplar_fill(x[:2], mask[:2], shifted[2:])
    assert torch.equal(other[known[:2]], x[:2][known[:2]])
    err = ((shifted[2:, None] - x[None, :2]) ** 2 * mask[:2]).flatten(2).sum(-1)  # [M, N] known-pixel SSD
    pick = err.argmin(0)
    assert torch.equal(other[~known[:2]], shifted[2:][pick][~known[:2]])
    with pytest.raises(ValueError, match="differ in size"):
        inpaint.exemplar_fill(x, mask, torch.rand(3, 1, 8, 8))
