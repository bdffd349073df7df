"""polydiff.text's entry in the benchmark suite (E2E, restaurant split).

Tasks and methods (all trained here, same tokenizer, same sizes; full mode's budgets are chosen
on validation restaurants: the AR baseline and MDLM 2,400 steps each (their best validation BLEU;
the likelihood records' AR is its NLL-best 1,200-step model), DiffuSeq 9,600, its learning curve
being still steep at 1,200 (``bench/results/supplementary/text-diffuseq-rotary-4800.json``) and
still rising at 4,800 (``text-diffuseq-decoders-9600.json``): DiffuSeq at 4x the AR's budget;
each data-to-text and likelihood record carries its model's ``train_steps``):

- ``data-to-text`` (MR -> sentence) on every test MR: DiffuSeq without / with MBR, masked
  diffusion (MDLM), and the autoregressive transformer baseline (greedy and sampled).
  Quality: sacreBLEU, sentence BLEU (method 4), ROUGE-L on the first sample of each MR, each
  with its 95% interval over the MRs (``ci_low``/``ci_high``: a percentile bootstrap for corpus
  BLEU, the normal interval of the mean for the per-sentence scores);
  diversity: self-BLEU among ``diversity_samples`` samples of the same MR (DiffuSeq's
  definition; lower = more diverse) and distinct-2/-4 over the first samples; tokens/s over
  all samples. ``setting`` names the decoding budget (``<solver>-<nfe>steps``); the AR numbers
  are repeated in each budget's group (measured once). ``diffuseq_decoder`` adds one group that
  DiffuSeq alone decodes (full mode: its default, the ancestral sampler at 500 steps, chosen on
  validation restaurants by ``scripts/diffuseq_decoder_selection.py``).
- ``data-to-text`` quality vs decoding NFE at the papers' step counts (2,000 / 200) and fewer,
  with the ancestral sampler and the fast solvers, on the first ``sweep_sources`` test MRs
  (``setting`` ``nfe-sweep[:N]-<solver>-<nfe>steps``; every method and NFE on that subset;
  DiffuSeq without MBR there: MBR-4 at 2,000 steps is 8,000 NFE per MR on a CPU).
- ``control`` (Diffusion-LM, one ``setting`` per attribute): guided vs unguided sampling with
  each decoder of ``control_decoders`` (full mode: the ancestral sampler at 50 steps, Li et al.'s
  200 steps, and DDIM at 50); control success under an independently trained token CNN,
  perplexity under a judge AR LM trained with another seed than the AR baseline whose samples
  it scores (with its perplexity of real training and held-out sentences beside them),
  self-BLEU / distinct-2 among the samples, tokens/s. Full mode gives Diffusion-LM its own
  training budget (``steps_diffusion_lm``), the records say so (``train_steps``).

``run(mode, out_dir)`` caches trained weights under ``out_dir/cache/<kind>-<hash>`` (hash of
the model/training config and the data), so a second run only evaluates.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from polydiff.bench.common import (
    cached,
    checkpointing,
    digest,
    mean_interval,
    one_torch_thread,
    record,
    timed,
    training_checks,
)
from polydiff.core.training import TrainConfig
from polydiff.text import metrics as M
from polydiff.text.data import references_by_source
from polydiff.text.train import (
    EMBEDDING_KINDS,
    E2EData,
    attribute_labels,
    build_model,
    prepare_e2e,
    train_model,
)

__all__ = ["FULL", "QUICK", "BenchConfig", "run"]

DOMAIN, DATASET = "text", "e2e-valid-by-restaurant"


@dataclass(frozen=True)
class BenchConfig:
    """Everything a bench mode decides."""

    hidden: int = 64
    layers: int = 2
    heads: int = 2
    emb_dim: int = 16
    src_len: int = 48
    tgt_len: int = 40
    T: int = 2000
    steps: int = 300
    batch_size: int = 32
    lr: float = 2e-3
    lr_masked: float | None = None  # the masked model's own lr (None: lr), chosen on the learning curves
    steps_ar: int | None = None  # the AR baseline's own optimizer steps (None: steps); the records say so
    steps_masked: int | None = None  # MDLM's own optimizer steps (None: steps); the records say so
    # the AR model of the likelihood records, when its best held-out NLL comes at another budget than
    # its best BLEU (None: the decoding AR model); the records say so
    steps_ar_likelihood: int | None = None
    steps_diffuseq: int | None = None  # DiffuSeq's own optimizer steps (None: steps); the records say so
    steps_diffusion_lm: int | None = None  # Diffusion-LM's own optimizer steps (None: steps); the records say so
    dropout: float = 0.0
    # how DiffuSeq / Diffusion-LM draw training times: "uniform", or "lossaware" (Gong et al.'s
    # DiffuSeq setting; polydiff.core.LossSecondMomentResampler); only a non-default enters the key
    time_sampler: str = "uniform"
    # DiffuSeq's final rounding ("nearest" embedding or the rounding head's "logits"), decoding only;
    # DiffuSeq's records carry both options when they are not the defaults
    diffuseq_rounding: str = "nearest"
    ema_decay: float = 0.995
    classifier_steps: int = 100
    cnn_steps: int = 300
    n_sources: int = 40
    nfe: tuple = (20,)
    solvers: tuple = ("ddim",)
    mbr: int = 4
    # (solver, NFE) of one more headline group, decoded by DiffuSeq alone (mbr 1 and ``mbr``) beside the
    # AR baselines; full mode: the decoder chosen on validation restaurants
    diffuseq_decoder: tuple = ()
    diversity_samples: int = 2
    sweep_nfe: tuple = ()
    sweep_solvers: tuple = ()
    sweep_sources: int = 0
    n_control: int = 24
    controls: tuple = ("area : riverside", "food : Chinese")
    # Diffusion-LM's decoders: (solver, NFE) pairs, the first is the headline (method
    # "polydiff-diffusion-lm-guided"), the others add "@<solver>-<nfe>" to the method name.
    # Li et al. decode with the ancestral sampler at 200 steps (T = 2,000 subsampled).
    control_decoders: tuple = (("ddpm", 20),)
    # (control_step_size, fluency) of the guided decoders (DiffusionLM.sample_ids' defaults: 4, 0.1)
    control_guidance: tuple = (4.0, 0.1)
    # > 0: the control part guides with a guide trained apart for this many steps on the frozen
    # Diffusion-LM (cached by itself) instead of the one trained with it (classifier_steps)
    guide_steps: int = 0
    models: tuple = ("diffuseq", "masked", "ar")
    nll_rows: int = 0  # held-out rows of the likelihood records (0: every test pair)
    nll_samples: int = 16  # times per row of the masked model's ELBO
    seed: int = 0
    shipped: tuple = ()  # shipped pipelines (pretrained/) decoded on the same sources
    extra: dict = field(default_factory=dict)


QUICK = BenchConfig(steps=500, batch_size=16, lr=3e-3, ema_decay=0.99, classifier_steps=300, cnn_steps=300,
                    n_sources=30, nfe=(50,), mbr=3, n_control=24, nll_rows=256, nll_samples=4,
                    shipped=("e2e-mdlm", "e2e-ar"))
# dropout 0.1, lr 1e-3 (AR) and 2e-3 (masked). Budgets chosen on the validation restaurants
# (scripts/diffuseq_decoder_selection.py --model ar / masked, rule in its docstring;
# bench/results/supplementary/text-ar-mdlm-budget.json), 600 / 1,200 / 2,400 / 4,800 steps:
# AR greedy BLEU 33.3 / 37.8 / 45.3 / 35.7, exact NLL 2.99 / 2.72 / 3.13 / 3.46 nats per token;
# MDLM confidence-greedy BLEU 22.7 / 36.8 / 50.3 / 45.7, ELBO 3.97 / 3.20 / 3.06 / 3.19. So both
# decode from 2,400 steps; the likelihood records' AR is its NLL-best 1,200-step model (its
# strongest likelihood baseline); the 1,200-step runs elsewhere (the control part's AR LMs) stay.
# DiffuSeq 9,600 steps: its one-step accuracy and BLEU were still rising at 1,200 steps (ddim-50
# BLEU on 40 held-out MRs 1.4 at 1,200 steps, 14.4 at 4,800; scripts/diffuseq_positions_ablation.py)
# and on the validation restaurants at 4,800 (DDPM-500 BLEU 20.8 at 4,800 steps, 23.7 at 9,600:
# bench/results/supplementary/text-diffuseq-decoders*.json)
# Diffusion-LM 19,200 steps: its unguided samples' perplexity under the judge fell from 366
# (1,200 steps) to 30.6 / 15.7 / 7.2 at 4,800 / 9,600 / 19,200 (DDPM-200, 48 samples), still
# falling (bench/results/supplementary/text-diffusion-lm-curve.json)
FULL = BenchConfig(hidden=96, layers=3, heads=4, steps=1200, steps_ar=2400, steps_masked=2400,
                   steps_ar_likelihood=1200, steps_diffuseq=9600, steps_diffusion_lm=19200,
                   batch_size=32, lr=1e-3, lr_masked=2e-3,
                   dropout=0.1, classifier_steps=500,
                   n_sources=100, nfe=(50,), solvers=("ddim", "dpmpp_2m"), mbr=4, diversity_samples=3,
                   # DiffuSeq's ancestral sampler at 500 steps (a quarter of the paper's 2,000): the best
                   # single-sample validation BLEU at <= 500 NFE (20.8; DDIM-50 14.3), the rule fixed
                   # before the run: scripts/diffuseq_decoder_selection.py,
                   # bench/results/supplementary/text-diffuseq-decoders.json
                   diffuseq_decoder=("ddpm", 500),
                   sweep_nfe=(2000, 200, 50, 20), sweep_solvers=("ddpm", "ddim", "dpmpp_2m"),
                   sweep_sources=10, n_control=48,
                   controls=("area : riverside", "food : Chinese", "family friendly : yes"),
                   control_decoders=(("ddpm", 50), ("ddpm", 200), ("ddim", 50)), cnn_steps=750,
                   # chosen without the bench's evaluators (the guide's own success, the AR baseline's
                   # perplexity, other samples) with the 4,000-step guide:
                   # bench/results/supplementary/text-diffusion-lm-guidance.json ((4, 0.02) with the
                   # 500-step guide: text-diffusion-lm-guidance-guide500.json)
                   control_guidance=(16.0, 0.02),
                   # the guide trained with the model (500 steps) classified "area : riverside" on
                   # held-out sentences at 0.35 accuracy; a guide trained apart for 4,000 steps
                   guide_steps=4000)


def decoder_setting(solver: str, nfe: int, prefix: str = "") -> str:
    """The setting name of a data-to-text group decoded with ``solver`` at ``nfe`` steps."""
    return f"{prefix}{solver}-{nfe}steps"


#: The full-mode group and method each shipped pipeline is (its full-mode model at its default
#: decoder, on the first of the same held-out sources): quick mode's ``shipped-pipelines``
#: records are compared with those (``polydiff.bench.compare``).
SHIPPED_COUNTERPARTS = {
    "e2e-mdlm": {"setting": decoder_setting(FULL.solvers[0], FULL.nfe[0]), "method": "polydiff-mdlm-confidence-greedy"},
    "e2e-ar": {"setting": decoder_setting(FULL.solvers[0], FULL.nfe[0]), "method": "ar-transformer-greedy"},
}


#: Method-name prefixes of the data-to-text and likelihood records -> the model kind behind them.
_METHOD_KINDS = (("polydiff-diffuseq", "diffuseq"), ("polydiff-mdlm", "masked"), ("ar-transformer", "ar"))


def model_steps(bc: BenchConfig, kind: str) -> int:
    """The optimizer steps ``kind`` trains for under ``bc``."""
    own = {"ar": bc.steps_ar, "masked": bc.steps_masked, "diffuseq": bc.steps_diffuseq,
           "diffusion-lm": bc.steps_diffusion_lm}.get(kind)
    return own if own is not None else bc.steps


def add_train_steps(records: list[dict], bc: BenchConfig) -> list[dict]:
    """Each trained model's budget (``train_steps``, each kind may have its own) on its records
    that do not carry one yet, in place."""
    for r in records:
        kind = next((k for prefix, k in _METHOD_KINDS if r["method"].startswith(prefix)), None)
        if kind is not None and "train_steps" not in r:
            r["train_steps"] = model_steps(bc, kind)
    return records


def likelihood_models(models: dict, data: E2EData, bc: BenchConfig, cache: Path, device: str,
                      progress) -> tuple[dict, dict]:
    """The models of the likelihood records and their training steps by kind: ``models``, with the
    AR model trained for ``bc.steps_ar_likelihood`` steps in place of the decoding one when set."""
    steps = {k: model_steps(bc, k) for k in models}
    own = bc.steps_ar_likelihood
    if "ar" not in models or own is None or own == steps["ar"]:
        return models, steps
    ar = _trained("ar", data, replace(bc, steps_ar=own), cache, device, progress)
    return {**models, "ar": ar}, {**steps, "ar": own}


def _train_config(bc: BenchConfig, steps: int, lr: float, ema_decay: float | None, seed: int,
                  device: str) -> TrainConfig:
    """The bench's schedule: batch ``bc.batch_size``, 10% warm-up, cosine decay, five log lines."""
    return TrainConfig(steps=steps, batch_size=bc.batch_size, lr=lr, warmup_steps=steps // 10,
                       lr_schedule="cosine", ema_decay=ema_decay, seed=seed, log_every=max(1, steps // 5),
                       device=device)


def _key(obj) -> str:
    return digest(obj, length=12)


def _trained(kind: str, data: E2EData, bc: BenchConfig, cache: Path, device: str, progress, *,
             seed: int | None = None) -> torch.nn.Module:
    """The model ``kind`` trained under ``bc`` (``seed``: another training seed than ``bc.seed``),
    from ``cache`` when a run with the same key is there. Training checkpoints into the cache
    folder (``run/``, every 5% of its steps) and a run killed before its model was saved resumes
    from its last checkpoint (bitwise the uninterrupted run for uniform time draws; a loss-aware
    DiffuSeq run warms its loss history up again, :func:`polydiff.text.train.embedding_loss_fn`)."""
    model, tcfg, steps, folder = _model_run(kind, data, bc, cache, device, seed)

    def load(d: Path) -> torch.nn.Module:
        loaded = type(model).load(d).eval()
        if kind in ("diffusion-lm", "diffuseq") and loaded.allowed_ids is None:
            from polydiff.text.train import training_rows
            loaded.restrict_vocabulary(training_rows(loaded, kind, data.train)[:, loaded.config.src_len:])
        return loaded

    def build(d: Path) -> torch.nn.Module:
        if progress:
            progress(f"train {kind} ({steps} steps)")
        train_model(model, kind, data.train, tcfg.replace(**checkpointing(d, steps)), data.attributes,
                    bc.classifier_steps, resume=True,
                    time_sampler=bc.time_sampler if kind in EMBEDDING_KINDS else "uniform")
        model.save(d)
        return model.eval()

    return cached(folder, "model.safetensors", load, build)


def run_dir(kind: str, data: E2EData, bc: BenchConfig, cache: str | Path, *, seed: int | None = None) -> Path:
    """The cache folder where the bench keeps (or would keep) the model ``kind`` trained under ``bc``."""
    return _model_run(kind, data, bc, Path(cache), "cpu", seed)[3]


def _model_run(kind: str, data: E2EData, bc: BenchConfig, cache: Path, device: str, seed: int | None):
    """``(untrained model, training config, steps, cache folder)`` of the model ``kind`` under ``bc``:
    the folder's key covers everything that shapes the trained weights."""
    with torch.random.fork_rng(devices=[]):  # the initial weights follow the key's seed, not the run's order
        torch.manual_seed(bc.seed if seed is None else seed)
        model = build_model(kind, data.tokenizer, src_len=bc.src_len, tgt_len=bc.tgt_len, emb_dim=bc.emb_dim,
                            hidden=bc.hidden, layers=bc.layers, heads=bc.heads, T=bc.T,
                            attributes=data.attributes if kind == "diffusion-lm" else None, dropout=bc.dropout)
    lr = bc.lr_masked if kind == "masked" and bc.lr_masked is not None else bc.lr
    steps = model_steps(bc, kind)
    tcfg = _train_config(bc, steps, lr, bc.ema_decay, bc.seed if seed is None else seed, device)
    parts = [kind, model.config.to_dict(), tcfg.to_dict(), bc.classifier_steps, data.tokenizer.digest,
             [(e.source, e.text) for e in data.train]]
    if kind in EMBEDDING_KINDS and bc.time_sampler != "uniform":
        parts.append({"time_sampler": bc.time_sampler})
    key = _key(parts)
    return model, tcfg, steps, cache / f"{kind}-{key}"


def _cached_weights(f: Path, module: torch.nn.Module, train) -> torch.nn.Module:
    """``module`` (in eval mode) with the weights in ``f`` when they are there; else ``train()``
    fits it and its weights are written to ``f`` atomically (a run killed mid-write leaves no
    half file under the cache name)."""
    from safetensors.torch import load_file, save_file

    if f.is_file():
        module.load_state_dict(load_file(str(f)))
        return module.eval()
    train()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    save_file(module.state_dict(), str(tmp))
    tmp.replace(f)
    return module.eval()


def _eval_classifier(data: E2EData, bc: BenchConfig, cache: Path, device: str, progress):
    """The independent control evaluator: a token CNN trained on training sentences."""
    from polydiff.core.training import Trainer
    from polydiff.text.nets import TokenCNNClassifier

    tok = data.tokenizer
    clf = TokenCNNClassifier(tok.vocab_size, len(data.attributes))
    rows = tok.encode_batch([e.text for e in data.train], bc.tgt_len, truncate=True)
    labels = attribute_labels(data.train, data.attributes)
    steps = bc.cnn_steps
    key = _key(["cnn", steps, tok.digest, data.attributes, [e.text for e in data.train]])
    cfg = TrainConfig(steps=steps, batch_size=64, lr=2e-3, ema_decay=None, seed=bc.seed + 1, device=device,
                      log_every=steps)

    def loss_fn(net, batch, g):
        return torch.nn.functional.binary_cross_entropy_with_logits(net(batch[0]), batch[1])

    def train() -> None:
        if progress:
            progress("train evaluation classifier")
        Trainer(cfg, clf, loss_fn, torch.utils.data.TensorDataset(rows, labels), net_config={"kind": "cnn"}).fit()

    return _cached_weights(cache / f"cnn-{key}.safetensors", clf, train)


def _guide(dlm, data: E2EData, bc: BenchConfig, cache: Path, device: str, progress):
    """A guide for ``dlm`` trained apart for ``bc.guide_steps`` steps on its frozen embeddings
    (:func:`~polydiff.text.train.train_guide`), cached by the embeddings, data and schedule."""
    from polydiff.text.nets import NoisyEmbeddingClassifier
    from polydiff.text.train import train_guide

    steps = bc.guide_steps
    cfg = _train_config(bc, steps, bc.lr, None, bc.seed + 2, device)
    c = dlm.config
    guide = NoisyEmbeddingClassifier(c.emb_dim, c.seq_len, len(dlm.attributes))
    key = digest({"guide": cfg.to_dict(), "attributes": dlm.attributes, "texts": [e.text for e in data.train]},
                 dlm.net.embed.weight, length=12)

    def train() -> None:
        if progress:
            progress(f"train the Diffusion-LM guide ({steps} steps)")
        train_guide(dlm, data.train, cfg, guide=guide)

    return _cached_weights(cache / f"guide-{key}.safetensors", guide, train)


def mbr_sizes(bc: BenchConfig) -> tuple[int, ...]:
    """DiffuSeq's MBR sizes in the headline groups: single samples (1) and ``bc.mbr``, each once."""
    return tuple(dict.fromkeys((1, bc.mbr)))


def _rec(task, setting, method, metric, value, hib, nfe, seconds, n, dataset: str = DATASET) -> dict:
    return record(DOMAIN, task, dataset, setting, method, metric, value, hib, nfe, seconds, n)


def _text_records(setting: str, method: str, texts: list[str], refs: list[list[str]], nfe, seconds: float,
                  tok, k: int = 1, diversity: bool = True, *, task: str = "data-to-text",
                  dataset: str = DATASET) -> list[dict]:
    """Records of one generator: ``texts`` holds ``k`` samples per source, source-major.

    Quality and distinct-n use the first sample of each source; self-BLEU (0-100) is the mean
    over sources of :func:`~polydiff.text.metrics.self_bleu` among that source's ``k`` samples
    (Gong et al. 2023, §5); tokens/s counts every sample.
    """
    if len(texts) != k * len(refs):
        raise ValueError(f"{len(texts)} texts for {len(refs)} sources x {k} samples")
    safe = [h if h.strip() else "<empty>" for h in texts]
    first = safe[::k]
    n = len(first)
    n_tokens = sum(len(tok.encode(h)) + 1 for h in safe)

    def rec(metric: str, value: float, hib: bool, ci: tuple[float, float] | None = None) -> dict:
        r = _rec(task, setting, method, metric, value, hib, nfe, seconds, n, dataset)
        if ci is not None:
            r["ci_low"], r["ci_high"] = ci
        return r

    def mean_rec(metric: str, per_source: list[float]) -> dict:
        scores = [100 * v for v in per_source]
        return rec(metric, sum(scores) / n, True, mean_interval(scores) if n > 1 else None)

    # 95% intervals over the n sources: sacreBLEU's bootstrap for corpus BLEU, the normal one of
    # the mean for the per-sentence scores
    bleu, bleu_ci = M.corpus_bleu_interval(first, refs) if n > 1 else (M.corpus_bleu(first, refs), None)
    out = [rec("BLEU", bleu, True, bleu_ci),
           mean_rec("sentence-BLEU", M.sentence_bleus(first, refs)),
           mean_rec("ROUGE-L", M.rouge_ls(first, refs))]
    if diversity:
        out += [rec(f"distinct-{m}", M.distinct_n(first, m), True) for m in (2, 4)]
        if k > 1:
            out.append(rec("self-BLEU", 100 * sum(M.self_bleu(safe[i * k:(i + 1) * k]) for i in range(n)) / n, False))
    out.append(rec("tokens/s", n_tokens / max(seconds, 1e-9), True))
    return out


def run(mode: str, out_dir: Path, device: str = "cpu", progress=None, *,
        config: BenchConfig | None = None, control: bool = True) -> list[dict]:
    """Train (or load cached) models and return docs/design.md records (see the module docstring).

    ``config`` overrides the mode's :class:`BenchConfig` (smaller runs in tests); ``control=False``
    leaves out the Diffusion-LM control records (:func:`run_control` runs them alone).
    """
    bc = _config(mode, config)
    # one thread: these small models gain nothing from two, and on a shared 2-core machine a
    # second OpenMP thread only contends (measured: 30x slower steps beside another process)
    with one_torch_thread():
        records = _run(mode, Path(out_dir), device, progress, bc)
        if control:
            records += run_control(mode, out_dir, device, progress, config=bc)
    return records


def run_control(mode: str, out_dir: Path, device: str = "cpu", progress=None, *,
                config: BenchConfig | None = None) -> list[dict]:
    """The ``control`` records alone (Diffusion-LM guided and unguided beside the AR LM)."""
    bc = _config(mode, config)
    if not bc.controls:
        return []
    with one_torch_thread():
        cache = Path(out_dir) / "cache" / "text"
        torch.manual_seed(bc.seed)
        data = prepare_e2e(cache_dir=cache)
        return training_checks(_control_records(data, bc, cache, device, progress), mode)


def _config(mode: str, config: BenchConfig | None) -> BenchConfig:
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    if config is not None and not isinstance(config, BenchConfig):
        raise TypeError(f"config must be a BenchConfig or None, got {type(config).__name__}")
    return config if config is not None else (QUICK if mode == "quick" else FULL)


def _run(mode: str, out_dir: Path, device: str, progress, bc: BenchConfig) -> list[dict]:
    cache = out_dir / "cache" / "text"
    torch.manual_seed(bc.seed)
    data = prepare_e2e(cache_dir=cache)
    by_src = references_by_source(data.test)
    sources = sorted(by_src)[: bc.n_sources]
    refs = [by_src[s] for s in sources]
    tok = data.tokenizer
    records: list[dict] = []

    # --- data-to-text ---------------------------------------------------------------------
    models = {k: _trained(k, data, bc, cache, device, progress) for k in bc.models if _available(k)}
    lik, lik_steps = likelihood_models(models, data, bc, cache, device, progress)
    records += _likelihood_records(lik, data, bc, progress, steps=lik_steps)
    records += _data_to_text(models, sources, refs, bc, tok, progress, prefix="", nfes=bc.nfe,
                             solvers=bc.solvers, k=bc.diversity_samples, mbrs=mbr_sizes(bc),
                             diffuseq_decoder=bc.diffuseq_decoder)
    if bc.sweep_nfe and bc.sweep_sources:
        m = min(bc.sweep_sources, len(sources))
        records += _data_to_text(models, sources[:m], refs[:m], bc, tok, progress, prefix=f"nfe-sweep[:{m}]-",
                                 nfes=bc.sweep_nfe, solvers=bc.sweep_solvers, k=1, mbrs=(1,))

    add_train_steps(records, bc)
    shipped = _shipped_records(bc.shipped, sources, refs, progress)
    records = training_checks(records + shipped, mode)  # quick mode: its minutes-long models check training
    sweep = [r for r in records if r["setting"].startswith("nfe-sweep")]
    if sweep or len(bc.nfe) > 1:
        for metric in ("BLEU", "ROUGE-L"):
            plot_quality_vs_nfe(sweep or records, out_dir / f"text_{metric.lower()}_vs_nfe.png", metric)
    return records


def _likelihood_records(models: dict, data: E2EData, bc: BenchConfig, progress, dataset: str = DATASET,
                        steps: dict | None = None) -> list[dict]:
    """Held-out NLL per real token (the first gate of a language model): exact for the AR
    model, the negative ELBO (an upper bound) for the masked model, on the same test pairs
    (``steps``: each kind's training steps, put on its records)."""
    from polydiff.text.train import training_rows

    out = []
    test = data.test[: bc.nll_rows] if bc.nll_rows else data.test
    for kind, method in (("ar", "ar-transformer"), ("masked", "polydiff-mdlm")):
        if kind not in models:
            continue
        if progress:
            progress(f"held-out likelihood {kind}")
        rows = training_rows(models[kind], kind, test)
        kw = {"samples": bc.nll_samples, "generator": torch.Generator().manual_seed(bc.seed)} if kind == "masked" else {}
        r, s = timed(models[kind].nll, rows, **kw)
        for metric, value in (("nll-per-token", r.per_token), ("perplexity", r.perplexity)):
            out.append(_rec("likelihood", "held-out", method, metric, value, False, None, s, r.tokens, dataset))
            if steps is not None:
                out[-1]["train_steps"] = steps[kind]
    return out


def _shipped_records(names: tuple, sources: list[str], refs: list[list[str]], progress) -> list[dict]:
    """The shipped pipelines (``pretrained/<name>``, full-mode models) at their own defaults on
    the same held-out sources: quick mode shows trained methods beside each other, not only
    its minutes-long runs."""
    from polydiff.core.pipeline_hub import shipped_pipelines
    from polydiff.text.commands import pipeline_class

    records: list[dict] = []
    for name in [n for n in names if n in shipped_pipelines()]:
        if progress:
            progress(f"decode shipped {name}")
        pipe = pipeline_class(name).from_pretrained(name)
        hyp, s = timed(pipe, sources, generator=torch.Generator().manual_seed(0))
        recs = _text_records("shipped-pipelines", f"shipped:{name}", hyp, refs, getattr(pipe, "steps", None),
                             s, pipe.tokenizer, 1, True)
        if name in SHIPPED_COUNTERPARTS:
            recs = [dict(r, counterpart=SHIPPED_COUNTERPARTS[name]) for r in recs]
        records += recs
    return records


def _data_to_text(models: dict, sources: list[str], refs: list[list[str]], bc: BenchConfig, tok, progress, *,
                  prefix: str, nfes: tuple, solvers: tuple, k: int, mbrs: tuple, task: str = "data-to-text",
                  dataset: str = DATASET, diffuseq_decoder: tuple = ()) -> list[dict]:
    """Every generator on ``sources`` at every (solver, NFE); ``k`` samples per source (``k > 1``
    adds self-BLEU); DiffuSeq with each MBR size of ``mbrs`` (1 = none). Masked diffusion has
    one sampler: it joins the first solver's groups. ``diffuseq_decoder``: one more (solver, NFE)
    group that DiffuSeq alone decodes (the AR baselines beside it)."""
    records: list[dict] = []
    diversity = not prefix  # the NFE sweep reports quality and speed only
    where = {"task": task, "dataset": dataset}
    ar_runs = []
    if "ar" in models:
        for name, temperature in (("ar-transformer-greedy", 0.0), ("ar-transformer-sample", 1.0)):
            if progress:
                progress(f"decode {prefix}{name}")
            g = torch.Generator().manual_seed(bc.seed)
            ar_runs.append((name, *timed(models["ar"].generate, sources, k, temperature=temperature, generator=g)))
    groups = [(solver, nfe) for solver in solvers for nfe in nfes]
    if diffuseq_decoder and tuple(diffuseq_decoder) not in groups:
        groups.append(tuple(diffuseq_decoder))
    for solver, nfe in groups:
        setting = decoder_setting(solver, nfe, prefix)
        for name, out, s in ar_runs:
            records += _text_records(setting, name, out, refs, None, s, tok, k, diversity, **where)
        if "diffuseq" in models:
            if progress:
                progress(f"decode diffuseq {setting}")
            for mbr in mbrs:
                g = torch.Generator().manual_seed(bc.seed)
                hyp, s = timed(models["diffuseq"].generate, sources, k, nfe, solver, mbr=mbr, generator=g,
                               rounding=bc.diffuseq_rounding)
                name = "polydiff-diffuseq" + (f"-mbr{mbr}" if mbr > 1 else "")
                options = {key: value for key, value, default in (("time_sampler", bc.time_sampler, "uniform"),
                                                                  ("rounding", bc.diffuseq_rounding, "nearest"))
                           if value != default}
                records += [dict(r, **options) for r in
                            _text_records(setting, name, hyp, refs, nfe * mbr, s, tok, k, diversity, **where)]
        if "masked" in models and solver == solvers[0] and nfe in nfes:
            if progress:
                progress(f"decode masked {setting}")
            for name, kw in (("polydiff-mdlm", {}),  # ancestral sampling (MDLM)
                             ("polydiff-mdlm-confidence-greedy", {"solver": "confidence", "temperature": 0.0})):
                g = torch.Generator().manual_seed(bc.seed)
                hyp, s = timed(models["masked"].generate, sources, k, nfe, generator=g, **kw)
                records += _text_records(setting, name, hyp, refs, nfe, s, tok, k, diversity, **where)
    return records


def plot_quality_vs_nfe(records: list[dict], path: Path, metric: str = "BLEU") -> None:
    """PNG of ``metric`` against decoding steps for every (method, solver) of data-to-text; the AR
    baselines (no decoding steps) are one flat line each, masked diffusion is its ancestral sampler."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[int, float]]] = {}
    for r in records:
        if r["task"] != "data-to-text" or r["metric"] != metric:
            continue
        head, steps = r["setting"].rsplit("-", 1)
        solver = head.split("]-")[-1]  # drop an "nfe-sweep[:N]-" prefix
        if r["method"] == "polydiff-mdlm":
            solver = "ancestral"
        name = r["method"] if r["nfe"] is None else f"{r['method']} ({solver})"
        lines.setdefault(name, []).append((int(steps.removesuffix("steps")), r["value"]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in sorted(lines.items()):
        pts = sorted(set(pts))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("decoding steps")
    ax.set_ylabel(metric)
    ax.set_title("E2E data-to-text (restaurant split)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _available(kind: str) -> bool:
    if kind != "masked":
        return True
    try:
        from polydiff.text import masked  # noqa: F401  (needs core's discrete-state process)
    except ImportError:
        return False
    return True


def lm_perplexity(lm, texts: list[str]) -> float:
    """Perplexity of ``texts`` under the AR LM ``lm`` (an empty text counts as ".")."""
    ids = lm.encode([t if t.strip() else "." for t in texts], truncate=True)
    return float(M.perplexity(lm.net, ids, lm.loss_mask(ids)))


def real_sentences(examples, n: int) -> list[str]:
    """``n`` reference sentences spread evenly over ``examples`` (the real-text floors)."""
    return [e.text for e in examples[:: max(1, len(examples) // n)]][:n]


def _sample_metrics(texts: list[str], judge, tok, seconds: float) -> list[tuple[str, float, bool]]:
    """``(metric, value, higher_is_better)`` of one sample set that no attribute changes:
    perplexity under the judge, self-BLEU among the samples (Texygen), distinct-2, tokens/s."""
    safe = [t if t.strip() else "." for t in texts]
    n_tokens = sum(len(tok.encode(t)) + 1 for t in safe)
    return [("perplexity", lm_perplexity(judge, safe), False), ("self-BLEU", 100 * M.self_bleu(safe), False),
            ("distinct-2", M.distinct_n(safe, 2), True), ("tokens/s", n_tokens / max(seconds, 1e-9), True)]


def _control_success(texts: list[str], clf, idx: int, tok, bc: BenchConfig) -> float:
    ids = tok.encode_batch([t if t.strip() else "." for t in texts], bc.tgt_len, truncate=True)
    return M.control_success(clf, ids, idx)


def _control_records(data: E2EData, bc: BenchConfig, cache: Path, device: str, progress) -> list[dict]:
    """Guided and unguided Diffusion-LM beside the AR LM's samples, for every attribute of
    ``bc.controls`` and decoder of ``bc.control_decoders``: control success under the
    independent CNN, then the attribute-free metrics of :func:`_sample_metrics`.

    Fluency is perplexity under a *judge*: an AR LM of the baseline's sizes trained with another
    seed, so that the baseline is not scored by the model that wrote its samples (Li et al. use
    a separately fine-tuned teacher LM). The judge's perplexity of ``n_control`` real training
    sentences and held-out sentences (restaurant names it never saw) are the floors beside them.
    Sample sets no attribute changes (the AR LM's, the unguided ones) are drawn and scored once."""
    dlm = _trained("diffusion-lm", data, bc, cache, device, progress)
    if bc.guide_steps:
        dlm.classifier = _guide(dlm, data, bc, cache, device, progress)
    lm = _trained("ar-lm", data, bc, cache, device, progress)
    judge = _trained("ar-lm", data, bc, cache, device, progress, seed=bc.seed + 1)
    clf = _eval_classifier(data, bc, cache, device, progress)
    tok = data.tokenizer
    n = bc.n_control
    info = {"train_steps": model_steps(bc, "diffusion-lm")}
    guided_info = {**info, "guide_steps": bc.guide_steps or bc.classifier_steps}
    guidance = dict(zip(("control_step_size", "fluency"), bc.control_guidance))

    def draw(what: str, fn, *args, **kw) -> tuple[list[str], float]:
        if progress:
            progress(f"control: {what}")
        return timed(fn, *args, generator=torch.Generator().manual_seed(bc.seed), **kw)

    # (method, texts, NFE, seconds, extra fields) shared by every attribute
    ar_texts, ar_s = draw("ar-lm samples", lm.generate, None, n)
    shared = [("ar-lm-unconditional", ar_texts, None, ar_s, {})]
    for i, (solver, nfe) in enumerate(bc.control_decoders):
        suffix = f"@{solver}-{nfe}" if i else ""
        texts, s = draw(f"unguided {solver}-{nfe}", dlm.generate, None, n, nfe, solver)
        shared.append((f"polydiff-diffusion-lm-unguided{suffix}", texts, nfe, s, info))
    scored = {m: _sample_metrics(texts, judge, tok, s) for m, texts, _, s, _ in shared}
    floors = {name: lm_perplexity(judge, real_sentences(ex, n))
              for name, ex in (("real-training-sentences", data.train), ("real-held-out-sentences", data.test))}

    out = []
    for ctrl in bc.controls:
        idx = data.attributes.index(ctrl)

        def records(method, texts, nfe, seconds, extra, metrics, ctrl=ctrl, idx=idx):
            rows = [("control-success", _control_success(texts, clf, idx, tok, bc), True), *metrics]
            return [dict(_rec("control", ctrl, method, m, v, hib, nfe, seconds, len(texts)), **extra)
                    for m, v, hib in rows]

        method, texts, nfe, s, extra = shared[0]
        out += records(method, texts, nfe, s, extra, scored[method])
        out += [_rec("control", ctrl, name, "perplexity", v, False, None, 0.0, n) for name, v in floors.items()]
        for i, (solver, nfe) in enumerate(bc.control_decoders):
            suffix = f"@{solver}-{nfe}" if i else ""
            method, texts, nfe_, s, extra = shared[1 + i]
            out += records(method, texts, nfe_, s, extra, scored[method])
            texts, s = draw(f"{ctrl} guided {solver}-{nfe}", dlm.generate, [ctrl], n, nfe, solver, **guidance)
            out += records(f"polydiff-diffusion-lm-guided{suffix}", texts, nfe, s, guided_info,
                           _sample_metrics(texts, judge, tok, s))
    return out


def config_dict(mode: str) -> dict:
    """The bench configuration of ``mode`` as JSON (written beside full-mode results)."""
    return asdict(QUICK if mode == "quick" else FULL)
