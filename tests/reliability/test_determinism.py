"""Per-sample seeds make domain samplers reproducible whatever the batching: vision generation
(ancestral sampling: the prior *and* every step's noise come from the image's own generator)
and time-series imputation give the same samples across batch sizes, across runs, and under
2-process data-parallel sampling (torchrun, gloo).

Text generation draws a batch from one generator (``DiffusionLM.sample_ids(generator=...)``),
so its samples are reproducible across runs but not across batch sizes; only the former is
tested for it here.
"""
import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("polydiff.vision")
HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("dp_worker", HERE / "dp_worker.py")
DP = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(DP)


def test_vision_generation_is_a_function_of_each_images_seed():
    fn = DP.generate_fn(DP.make_net())
    seeds = DP.SEEDS
    whole = fn(seeds)
    assert torch.equal(whole, fn(seeds))  # across runs: bitwise
    ones = torch.cat([fn([s]) for s in seeds])
    split = torch.cat([fn(seeds[:2]), fn(seeds[2:])])
    reordered = fn(seeds[::-1]).flip(0)
    for other in (ones, split, reordered):  # across batch sizes / orders: up to float rounding
        torch.testing.assert_close(other, whole, rtol=0, atol=1e-5)
    assert (whole[0] - whole[1]).abs().max() > 0.05  # different seeds, different images


def test_timeseries_imputation_is_independent_of_the_batch_size():
    pytest.importorskip("polydiff.timeseries")
    from polydiff.timeseries.impute import CSDIImputer

    rng = np.random.default_rng(0)
    X = np.sin(np.arange(10)[None, :, None] / 2 + rng.normal(size=(3, 1, 2))) + 0.1 * rng.normal(size=(3, 10, 2))
    X[rng.random(X.shape) < 0.4] = np.nan
    X[:, 0] = 0.0
    tiny = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4, "diffusion_emb_dim": 16}
    imp = CSDIImputer(2, net=tiny, train_steps=2, batch_size=3, sample_steps=5).fit(X)
    runs = {}
    for max_batch in (1, 4, 512):  # 6 rows (3 series x 2 samples) in 6, 2 or 1 network batches
        imp.config = dataclasses.replace(imp.config, max_batch=max_batch)
        runs[max_batch] = imp.impute(X, 2, seed=7)
    assert np.array_equal(runs[512], imp.impute(X, 2, seed=7))  # across runs: bitwise
    for max_batch in (1, 4):
        np.testing.assert_allclose(runs[max_batch], runs[512], rtol=0, atol=1e-5)
    missing = ~np.isfinite(X)
    assert np.abs(runs[512][:, 0] - runs[512][:, 1])[missing].max() > 1e-3  # the two draws differ
    assert not np.allclose(imp.impute(X, 2, seed=8)[:, 0][missing], runs[512][:, 0][missing])


def test_text_generation_repeats_and_per_sample_seeds_ignore_the_batch():
    pytest.importorskip("polydiff.text")
    from polydiff.text.diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig
    from polydiff.text.tokenizer import train_tokenizer

    tok = train_tokenizer([f"the {w} eats food number {i} ." for i, w in enumerate(["cat", "dog", "bird"] * 40)],
                          300)
    torch.manual_seed(0)
    m = DiffusionLM(EmbeddingDiffusionConfig(vocab_size=tok.vocab_size, seq_len=8, emb_dim=4, hidden=8, layers=1,
                                             heads=2, T=20), tok).eval()
    with torch.no_grad():  # an arbitrary (not freshly initialised) network: zero-initialised time
        for p in m.parameters():  # projections would make every sample round to the same tokens
            p.normal_(0.0, 0.5)
    a = m.sample_ids(3, steps=3, solver="ddpm", generator=torch.Generator().manual_seed(5))
    b = m.sample_ids(3, steps=3, solver="ddpm", generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)

    # per-sample generators: a row does not depend on the batch it is drawn in
    def gens(seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    seeds = [11, 12, 13, 14]
    for solver in ("ddpm", "dpmpp_2m_sde", "ddim"):
        batch = m.sample_ids(4, steps=4, solver=solver, generator=gens(seeds))
        alone = torch.cat([m.sample_ids(1, steps=4, solver=solver, generator=gens([s])) for s in seeds])
        assert torch.equal(batch, alone), solver
        assert torch.equal(m.sample_ids(2, steps=4, solver=solver, generator=gens(seeds[2:])), batch[2:])
    assert len({tuple(r.tolist()) for r in batch}) > 1  # different seeds, different samples

    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM

    mdlm = MaskedDiffusionLM(MaskedConfig(tok.vocab_size, 8, hidden=8, layers=1, heads=2), tok).eval()
    batch = mdlm.sample_ids(n=4, steps=5, generator=gens(seeds))
    alone = torch.cat([mdlm.sample_ids(n=1, steps=5, generator=gens([s])) for s in seeds])
    assert torch.equal(batch, alone)
    with pytest.raises(ValueError, match="generators"):
        mdlm.sample_ids(n=3, steps=5, generator=gens(seeds))


def test_vision_generation_under_data_parallel_sampling_equals_one_process(tmp_path, torchrun_job):
    from safetensors.torch import load_file

    proc = torchrun_job([HERE / "dp_worker.py", tmp_path], timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = load_file(str(tmp_path / "dp.safetensors"))["samples"]
    fn = DP.generate_fn(DP.make_net())
    # rank 0 drew seeds[:3], rank 1 seeds[3:]: per image the same computation as one process
    torch.testing.assert_close(got, fn(DP.SEEDS), rtol=0, atol=1e-5)
    assert torch.equal(got[:3], fn(DP.SEEDS[:3])) and torch.equal(got[3:], fn(DP.SEEDS[3:]))
