"""polydiff.text's entry in the benchmark suite (E2E, restaurant split).

Tasks and methods (all trained here, same tokenizer, same sizes, same number of steps):

- ``data-to-text`` (MR -> sentence): DiffuSeq without / with MBR, masked diffusion (MDLM),
  and the autoregressive transformer baseline. Metrics: sacreBLEU, sentence BLEU (method 4),
  ROUGE-L, distinct-2 and tokens/s. ``setting`` names the decoding budget; the AR numbers are
  repeated in each budget's group (measured once).
- ``control`` (Diffusion-LM, one ``setting`` per attribute): guided vs unguided sampling;
  control success under an independently trained token CNN, perplexity under a held-out AR LM.

``run(mode, out_dir)`` caches trained weights under ``out_dir/cache/<kind>-<hash>`` (hash of
the model/training config and the data), so a second run only evaluates.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from polydiff.core.training import TrainConfig

from . import metrics as M
from .train import E2EData, attribute_labels, build_model, prepare_e2e, train_model

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
    ema_decay: float = 0.995
    classifier_steps: int = 100
    cnn_steps: int = 300
    n_sources: int = 40
    nfe: tuple = (20,)
    solvers: tuple = ("ddim",)
    mbr: int = 4
    n_control: int = 24
    controls: tuple = ("area : riverside", "food : Chinese")
    control_nfe: int = 20
    models: tuple = ("diffuseq", "masked", "ar")
    seed: int = 0
    extra: dict = field(default_factory=dict)


QUICK = BenchConfig(steps=500, batch_size=16, lr=3e-3, ema_decay=0.99, classifier_steps=300, cnn_steps=300,
                    n_sources=30, nfe=(10,), mbr=3, n_control=24, control_nfe=20)
FULL = BenchConfig(hidden=96, layers=3, heads=4, steps=1500, batch_size=32, lr=1e-3, classifier_steps=500,
                   n_sources=100, nfe=(100, 20, 10), solvers=("ddim", "dpmpp_2m"), mbr=4, n_control=48,
                   controls=("area : riverside", "food : Chinese", "family friendly : yes"),
                   control_nfe=50, cnn_steps=750)


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _trained(kind: str, data: E2EData, bc: BenchConfig, cache: Path, device: str, progress) -> torch.nn.Module:
    model = build_model(kind, data.tokenizer, src_len=bc.src_len, tgt_len=bc.tgt_len, emb_dim=bc.emb_dim,
                        hidden=bc.hidden, layers=bc.layers, heads=bc.heads, T=bc.T,
                        attributes=data.attributes if kind == "diffusion-lm" else None)
    tcfg = TrainConfig(steps=bc.steps, batch_size=bc.batch_size, lr=bc.lr, warmup_steps=bc.steps // 10,
                       lr_schedule="cosine", ema_decay=bc.ema_decay, seed=bc.seed, log_every=max(1, bc.steps // 5),
                       device=device)
    key = _key([kind, model.config.to_dict(), tcfg.to_dict(), bc.classifier_steps, data.tokenizer.digest,
                [(e.source, e.text) for e in data.train]])
    d = cache / f"{kind}-{key}"
    if (d / "model.safetensors").is_file():
        model = type(model).load(d).eval()
        if kind in ("diffusion-lm", "diffuseq") and model.allowed_ids is None:
            from .train import training_rows
            model.restrict_vocabulary(training_rows(model, kind, data.train)[:, model.config.src_len:])
        return model
    if progress:
        progress(f"train {kind} ({bc.steps} steps)")
    train_model(model, kind, data.train, tcfg, data.attributes, bc.classifier_steps)
    model.save(d)
    return model.eval()


def _eval_classifier(data: E2EData, bc: BenchConfig, cache: Path, device: str, progress):
    """The independent control evaluator: a token CNN trained on training sentences."""
    from polydiff.core.training import Trainer
    from safetensors.torch import load_file, save_file

    from .nets import TokenCNNClassifier

    tok = data.tokenizer
    clf = TokenCNNClassifier(tok.vocab_size, len(data.attributes))
    rows = tok.encode_batch([e.text for e in data.train], bc.tgt_len, truncate=True)
    labels = attribute_labels(data.train, data.attributes)
    steps = bc.cnn_steps
    key = _key(["cnn", steps, tok.digest, data.attributes, [e.text for e in data.train]])
    f = cache / f"cnn-{key}.safetensors"
    if f.is_file():
        clf.load_state_dict(load_file(str(f)))
        return clf.eval()
    if progress:
        progress("train evaluation classifier")
    cfg = TrainConfig(steps=steps, batch_size=64, lr=2e-3, ema_decay=None, seed=bc.seed + 1, device=device,
                      log_every=steps)

    def loss_fn(net, batch, g):
        return torch.nn.functional.binary_cross_entropy_with_logits(net(batch[0]), batch[1])

    Trainer(cfg, clf, loss_fn, torch.utils.data.TensorDataset(rows, labels), net_config={"kind": "cnn"}).fit()
    cache.mkdir(parents=True, exist_ok=True)
    save_file(clf.state_dict(), str(f))
    return clf.eval()


def _rec(task, setting, method, metric, value, hib, nfe, seconds, n) -> dict:
    return {"domain": DOMAIN, "task": task, "dataset": DATASET, "setting": setting, "method": method,
            "metric": metric, "value": float(value), "higher_is_better": hib, "nfe": nfe,
            "seconds": float(seconds), "n": int(n)}


def _text_records(setting: str, method: str, hyps: list[str], refs: list[list[str]], nfe, seconds: float,
                  tok) -> list[dict]:
    n = len(hyps)
    safe = [h if h.strip() else "<empty>" for h in hyps]
    n_tokens = sum(len(tok.encode(h)) + 1 for h in safe)
    return [
        _rec("data-to-text", setting, method, "BLEU", M.corpus_bleu(safe, refs), True, nfe, seconds, n),
        _rec("data-to-text", setting, method, "sentence-BLEU", 100 * M.mean_sentence_bleu(safe, refs), True,
             nfe, seconds, n),
        _rec("data-to-text", setting, method, "ROUGE-L", 100 * M.rouge_l(safe, refs), True, nfe, seconds, n),
        _rec("data-to-text", setting, method, "distinct-2", M.distinct_n(safe, 2), True, nfe, seconds, n),
        _rec("data-to-text", setting, method, "tokens/s", n_tokens / max(seconds, 1e-9), True, nfe, seconds, n),
    ]


def _timed(fn: Callable, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def run(mode: str, out_dir: Path, device: str = "cpu", progress=None, *,
        config: BenchConfig | None = None) -> list[dict]:
    """Train (or load cached) models and return DESIGN.md records (see the module docstring).

    ``config`` overrides the mode's :class:`BenchConfig` (smaller runs in tests).
    """
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    bc = config if config is not None else (QUICK if mode == "quick" else FULL)
    # one thread: these small models gain nothing from two, and on a shared 2-core machine a
    # second OpenMP thread only contends (measured: 30x slower steps beside another process)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(mode, Path(out_dir), device, progress, bc)
    finally:
        torch.set_num_threads(threads)


def _run(mode: str, out_dir: Path, device: str, progress, bc: BenchConfig) -> list[dict]:
    cache = out_dir / "cache" / "text"
    torch.manual_seed(bc.seed)
    data = prepare_e2e(cache_dir=cache)
    by_src: dict[str, list[str]] = {}
    for e in data.test:
        by_src.setdefault(e.compact_source, []).append(e.text)
    sources = sorted(by_src)[: bc.n_sources]
    refs = [by_src[s] for s in sources]
    tok = data.tokenizer
    records: list[dict] = []

    # --- data-to-text ---------------------------------------------------------------------
    models = {k: _trained(k, data, bc, cache, device, progress) for k in bc.models if _available(k)}
    if "ar" in models:
        if progress:
            progress("decode ar")
        g = torch.Generator().manual_seed(bc.seed)
        ar_out, ar_s = _timed(models["ar"].generate, sources, 1, temperature=0.0, generator=g)
    for solver in bc.solvers:
        for nfe in bc.nfe:
            setting = f"{solver}-{nfe}steps"
            if "ar" in models:
                records += _text_records(setting, "ar-transformer-greedy", ar_out, refs, None, ar_s, tok)
            if "diffuseq" in models:
                if progress:
                    progress(f"decode diffuseq {setting}")
                for mbr in (1, bc.mbr):
                    g = torch.Generator().manual_seed(bc.seed)
                    hyp, s = _timed(models["diffuseq"].generate, sources, 1, nfe, solver, mbr=mbr, generator=g)
                    name = "polydiff-diffuseq" + (f"-mbr{mbr}" if mbr > 1 else "")
                    records += _text_records(setting, name, hyp, refs, nfe * mbr, s, tok)
            if "masked" in models and solver == bc.solvers[0]:
                if progress:
                    progress(f"decode masked {setting}")
                g = torch.Generator().manual_seed(bc.seed)
                hyp, s = _timed(models["masked"].generate, sources, 1, nfe, generator=g)
                setting = f"{solver}-{nfe}steps"  # grouped with the same decoding budget
                records += _text_records(setting, "polydiff-mdlm", hyp, refs, nfe, s, tok)

    # --- control (Diffusion-LM) -------------------------------------------------------------
    if bc.controls:
        records += _control_records(data, bc, cache, device, progress)
    if len(bc.nfe) > 1:
        plot_quality_vs_nfe(records, out_dir / "text_bleu_vs_nfe.png")
    return records


def plot_quality_vs_nfe(records: list[dict], path: Path, metric: str = "BLEU") -> None:
    """PNG of ``metric`` against decoding steps for every (method, solver) of data-to-text."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[int, float]]] = {}
    for r in records:
        if r["task"] != "data-to-text" or r["metric"] != metric:
            continue
        solver, steps = r["setting"].rsplit("-", 1)
        lines.setdefault(f"{r['method']} ({solver})", []).append((int(steps.removesuffix("steps")), r["value"]))
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
        from . import masked  # noqa: F401  (needs core's discrete-state process)
    except ImportError:
        return False
    return True


def _control_records(data: E2EData, bc: BenchConfig, cache: Path, device: str, progress) -> list[dict]:
    dlm = _trained("diffusion-lm", data, bc, cache, device, progress)
    lm = _trained("ar-lm", data, bc, cache, device, progress)
    clf = _eval_classifier(data, bc, cache, device, progress)
    tok = data.tokenizer
    out = []
    if progress:
        progress("control: ar-lm samples")
    g = torch.Generator().manual_seed(bc.seed)
    ar_texts, ar_s = _timed(lm.generate, None, bc.n_control, generator=g)
    ar_safe = [t if t.strip() else "." for t in ar_texts]
    ar_ids = tok.encode_batch(ar_safe, bc.tgt_len, truncate=True)
    ar_lm_ids = lm.encode(ar_safe, truncate=True)
    ar_ppl = M.perplexity(lm.net, ar_lm_ids, lm.loss_mask(ar_lm_ids))
    for ctrl in bc.controls:
        idx = data.attributes.index(ctrl)
        n = len(ar_texts)
        out += [_rec("control", ctrl, "ar-lm-unconditional", "control-success",
                     M.control_success(clf, ar_ids, idx), True, None, ar_s, n),
                _rec("control", ctrl, "ar-lm-unconditional", "perplexity", ar_ppl, False, None, ar_s, n)]
        idx = data.attributes.index(ctrl)
        for guided in (False, True):
            if progress:
                progress(f"control {ctrl} {'guided' if guided else 'unguided'}")
            g = torch.Generator().manual_seed(bc.seed)
            texts, s = _timed(dlm.generate, [ctrl] if guided else None, bc.n_control, bc.control_nfe,
                                  "ddim", generator=g)
            safe = [t if t.strip() else "." for t in texts]
            ids = tok.encode_batch(safe, bc.tgt_len, truncate=True)
            lm_ids = lm.encode(safe, truncate=True)
            method = "polydiff-diffusion-lm-" + ("guided" if guided else "unguided")
            n = len(texts)
            out += [
                _rec("control", ctrl, method, "control-success", M.control_success(clf, ids, idx), True,
                     bc.control_nfe, s, n),
                _rec("control", ctrl, method, "perplexity", M.perplexity(lm.net, lm_ids, lm.loss_mask(lm_ids)),
                     False, bc.control_nfe, s, n),
            ]
    return out


def config_dict(mode: str) -> dict:
    """The bench configuration of ``mode`` as JSON (written beside full-mode results)."""
    return asdict(QUICK if mode == "quick" else FULL)
