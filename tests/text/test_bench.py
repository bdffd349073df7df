"""The bench entry returns valid records, every polydiff number beside a baseline, and caches."""

from dataclasses import replace

from polydiff.bench.schema import GROUP_FIELDS, record_problems
from polydiff.bench.text import BenchConfig, run, run_control, run_dir
from polydiff.text.train import prepare_e2e

TINY = BenchConfig(hidden=16, layers=1, heads=2, src_len=48, tgt_len=40, T=100, steps=2, steps_diffuseq=3,
                   steps_ar=5, steps_ar_likelihood=2,
                   steps_diffusion_lm=4, guide_steps=3, batch_size=8,
                   classifier_steps=2, cnn_steps=2, n_sources=3, nfe=(2,), mbr=2, diversity_samples=2,
                   diffuseq_decoder=("ddpm", 3), sweep_nfe=(3, 1), sweep_solvers=("ddpm",), sweep_sources=2, n_control=2, control_decoders=(("ddpm", 2), ("ddim", 2)),
                   controls=("area : riverside",), models=("diffuseq", "masked", "ar"))


def test_tiny_bench_records_are_valid_grouped_and_cached(tmp_path):
    stages = []
    recs = run("quick", tmp_path, progress=stages.append, config=TINY)
    assert recs and "train diffuseq (3 steps)" in stages and "train masked (2 steps)" in stages
    # the decoding AR at its own budget, and the likelihood records' AR at another
    assert "train ar (5 steps)" in stages and "train ar (2 steps)" in stages
    for r in recs:
        assert record_problems(r, domain="text") == []
    groups = {}
    for r in recs:
        groups.setdefault(tuple(r[k] for k in GROUP_FIELDS), set()).add(r["method"])
    for key, methods in groups.items():
        assert any(not m.startswith("polydiff") for m in methods) or len(methods) >= 2, key
    assert {"BLEU", "sentence-BLEU", "ROUGE-L", "control-success", "perplexity", "self-BLEU", "distinct-2",
            "distinct-4", "tokens/s", "nll-per-token"} <= {r["metric"] for r in recs}
    # BLEU, sentence-BLEU and ROUGE-L carry their 95% interval over the sources, around the value
    quality = [r for r in recs if r["metric"] in ("BLEU", "sentence-BLEU", "ROUGE-L")]
    assert quality and all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in quality)
    nll = {r["method"]: r for r in recs if r["metric"] == "nll-per-token"}
    assert set(nll) == {"ar-transformer", "polydiff-mdlm"} and nll["ar-transformer"]["n"] == nll["polydiff-mdlm"]["n"]
    assert "polydiff-mdlm-confidence-greedy" in {r["method"] for r in recs}
    # diversity for every generator
    main = [r for r in recs if r["task"] == "data-to-text" and not r["setting"].startswith("nfe-sweep")]
    methods = {r["method"] for r in main}
    assert methods == {"ar-transformer-greedy", "ar-transformer-sample", "polydiff-diffuseq",
                       "polydiff-diffuseq-mbr2", "polydiff-mdlm", "polydiff-mdlm-confidence-greedy"}
    for m in methods:
        assert {"self-BLEU", "distinct-2", "tokens/s"} <= {r["metric"] for r in main if r["method"] == m}, m
    # DiffuSeq's own decoder: one more group, DiffuSeq alone beside the AR baselines, its NFE on the records
    assert {r["setting"] for r in main} == {"ddim-2steps", "ddpm-3steps"}
    own = [r for r in main if r["setting"] == "ddpm-3steps"]
    assert {r["method"] for r in own} == {"ar-transformer-greedy", "ar-transformer-sample", "polydiff-diffuseq",
                                          "polydiff-diffuseq-mbr2"}
    assert {r["nfe"] for r in own if r["method"].startswith("polydiff")} == {3, 6}
    # each model's own training budget on its records: DiffuSeq's and the decoding AR's differ here
    for r in recs:
        if r["task"] == "data-to-text":
            want = 3 if r["method"].startswith("polydiff-diffuseq") else 5 if r["method"].startswith("ar-") else 2
            assert r["train_steps"] == want, r
        if r["task"] == "likelihood":
            assert r["train_steps"] == 2, r
    # the NFE sweep: every method at every NFE on the same subset of sources
    sweep = [r for r in recs if r["setting"].startswith("nfe-sweep[:2]-ddpm-")]
    assert {r["setting"] for r in sweep} == {"nfe-sweep[:2]-ddpm-3steps", "nfe-sweep[:2]-ddpm-1steps"}
    for setting in ("nfe-sweep[:2]-ddpm-3steps", "nfe-sweep[:2]-ddpm-1steps"):
        assert {r["method"] for r in sweep if r["setting"] == setting} == methods - {"polydiff-diffuseq-mbr2"}
    assert {r["n"] for r in sweep} == {2}
    assert {r["nfe"] for r in sweep if r["method"] == "polydiff-mdlm"} == {3, 1}
    control = [r for r in recs if r["task"] == "control"]
    assert {"control-success", "self-BLEU", "tokens/s"} <= {r["metric"] for r in control}
    # every decoder guided and unguided (the first is the headline), Diffusion-LM's own budget on
    # its records; the AR LM's samples are judged by another AR LM (trained with another seed),
    # beside the judge's perplexity of real sentences
    assert {r["method"] for r in control} == {
        "ar-lm-unconditional", "real-training-sentences", "real-held-out-sentences",
        "polydiff-diffusion-lm-unguided", "polydiff-diffusion-lm-guided",
        "polydiff-diffusion-lm-unguided@ddim-2", "polydiff-diffusion-lm-guided@ddim-2"}
    assert {r["nfe"] for r in control if r["method"].startswith("polydiff-diffusion-lm-guided")} == {2}
    assert {r["train_steps"] for r in control if r["method"].startswith("polydiff")} == {4}
    assert {r["guide_steps"] for r in control if "-guided" in r["method"]} == {3}  # the guide trained apart
    assert "train the Diffusion-LM guide (3 steps)" in stages
    assert {r["metric"] for r in control if r["method"].startswith("real-")} == {"perplexity"}
    assert "train diffusion-lm (4 steps)" in stages and stages.count("train ar-lm (2 steps)") == 2
    # second run: everything from the cache, no training stage
    stages.clear()
    again = run("quick", tmp_path, progress=stages.append, config=TINY)
    assert not any(s.startswith("train") for s in stages)
    assert [r["value"] for r in again if r["metric"] == "BLEU"] == [r["value"] for r in recs if r["metric"] == "BLEU"]
    # run_dir names the folders the bench trained into (what the ship script reads), and no other budget's
    cache = tmp_path / "cache" / "text"
    data = prepare_e2e(cache_dir=cache)
    for kind in ("masked", "ar", "diffuseq"):
        assert (run_dir(kind, data, TINY, cache) / "model.safetensors").is_file(), kind
    assert run_dir("ar", data, TINY, cache) != run_dir("ar", data, replace(TINY, steps_ar=2), cache)
    assert (run_dir("ar", data, replace(TINY, steps_ar=2), cache) / "model.safetensors").is_file()  # the likelihood AR
    assert not run_dir("masked", data, replace(TINY, steps=7), cache).exists()
    # a loss-aware DiffuSeq is another run; the default (uniform) keeps the folders above, and the
    # other models ignore the option
    assert run_dir("diffuseq", data, replace(TINY, time_sampler="lossaware"), cache) != run_dir("diffuseq", data, TINY, cache)
    assert run_dir("masked", data, replace(TINY, time_sampler="lossaware"), cache) == run_dir("masked", data, TINY, cache)
    # the control part alone (text_tasks' "control"): the same records, from the same cache
    alone = run_control("quick", tmp_path, progress=stages.append, config=TINY)
    assert not any(s.startswith("train") for s in stages)

    def measured(rs):
        return [(r["setting"], r["method"], r["metric"], r["value"]) for r in rs
                if r["task"] == "control" and r["metric"] != "tokens/s"]
    assert measured(alone) == measured(recs) and len(alone) == len(control)
    assert not any(r["task"] == "control" for r in run("quick", tmp_path, config=TINY, control=False))


def test_training_checkpoints_in_the_cache_and_resumes_a_killed_run(tmp_path, monkeypatch):
    """A full-mode text run (hours on the CPU) survives a kill: training checkpoints into the
    model's cache folder every 5% of its steps and the next call continues from the last
    checkpoint, ending with the uninterrupted run's weights bit for bit (whose initial weights follow
    the key's seed, not the global random state the earlier calls left)."""
    import pytest
    import torch
    from polydiff.bench.text import _trained
    from polydiff.core.training import Trainer, load_checkpoint

    bc = replace(TINY, steps=40)  # MDLM for 40 steps: a checkpoint every 2
    cache = tmp_path / "cache"
    data = prepare_e2e(cache_dir=cache)
    straight = _trained("masked", data, bc, tmp_path / "straight", "cpu", None)
    fit = Trainer.fit

    def killed(self, resume=False, max_steps=None):
        fit(self, resume=resume, max_steps=20)
        raise KeyboardInterrupt  # killed after the step-20 checkpoint, before the model is saved

    monkeypatch.setattr(Trainer, "fit", killed)
    with pytest.raises(KeyboardInterrupt):
        _trained("masked", data, bc, cache, "cpu", None)
    folder = run_dir("masked", data, bc, cache)
    assert not (folder / "model.safetensors").exists() and load_checkpoint(folder / "run").step == 20
    starts = []

    def counted(self, resume=False, max_steps=None):
        out = fit(self, resume=resume, max_steps=max_steps)
        starts.append([h["step"] for h in out if "loss" in h])
        return out

    monkeypatch.setattr(Trainer, "fit", counted)
    resumed = _trained("masked", data, bc, cache, "cpu", None)
    assert load_checkpoint(folder / "run").step == 40 and (folder / "model.safetensors").is_file()
    assert starts and min(starts[0]) > 20  # the second call trained steps 21..40 only
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
