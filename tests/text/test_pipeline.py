"""MaskedTextPipeline and ARTextPipeline: save/load round trip, half precision, files named in errors,
a training run as a pipeline, constructor checks."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch
from polydiff.core.pipeline import INDEX, ModelCard, PipelineError
from polydiff.text.ar import ARBaseline, ARConfig
from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM
from polydiff.text.pipelines import ARTextPipeline, MaskedTextPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_text_pipelines import SOURCES, small_tokenizer, tiny_ar_pipe, tiny_model, tiny_pipe


@pytest.fixture(scope="module")
def small_tok():
    return small_tokenizer()


def _gens(n: int = 3) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in range(n)]


def _rewrite(folder, name: str, blob: bytes) -> None:
    """Replace one file and its checksum in the index (a consistent but different pipeline)."""
    (folder / name).write_bytes(blob)
    idx = json.loads((folder / INDEX).read_text())
    idx["files"][name] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (folder / INDEX).write_text(json.dumps(idx))


@pytest.mark.parametrize("solver", ["confidence", "ancestral"])
def test_round_trip_gives_identical_texts(tmp_path, small_tok, solver, one_thread):
    pipe = tiny_pipe(small_tok, solver=solver)
    card = ModelCard(training_command="polydiff train text --model masked --steps 2", data="tiny")
    pipe.save_pretrained(tmp_path / "p", card=card)
    loaded = MaskedTextPipeline.from_pretrained(tmp_path / "p")
    a, b = pipe(SOURCES, generator=_gens()), loaded(SOURCES, generator=_gens())
    assert a == b and len(a) == 3 and all(a) and len(set(a)) > 1
    assert (loaded.solver, loaded.steps, loaded.temperature, loaded.truncate) == (solver, 4, 1.0, False)
    assert loaded.card == card and not loaded.model.training
    assert loaded.tokenizer.model_proto == small_tok.model_proto
    idx = json.loads((tmp_path / "p" / INDEX).read_text())
    assert set(idx["components"]) == {"tokenizer", "denoiser", "process", "sampler"}
    assert not list(tmp_path.glob("p/**/*.pkl")) and not list(tmp_path.glob("p/**/*.pt"))
    # call-time overrides still work after loading; per-source generators make a text
    # independent of the batch it is decoded in
    c = loaded(SOURCES, steps=2, temperature=0.5, generator=_gens())
    assert c == pipe(SOURCES, steps=2, temperature=0.5, generator=_gens())
    assert loaded(SOURCES[1:], steps=2, temperature=0.5, generator=_gens()[1:]) == c[1:]


def test_half_precision_equals_the_rounded_network(tmp_path, small_tok, one_thread):
    pipe = tiny_pipe(small_tok)
    pipe.save_pretrained(tmp_path / "h", dtype=torch.float16)
    loaded = MaskedTextPipeline.from_pretrained(tmp_path / "h")
    rounded = tiny_pipe(small_tok)
    rounded.model.net.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                       for k, v in rounded.model.net.state_dict().items()})
    assert loaded(SOURCES, generator=_gens()) == rounded(SOURCES, generator=_gens())
    assert loaded.tokenizer.model_proto == small_tok.model_proto  # uint8, never cast


def test_missing_and_corrupt_files_are_named(tmp_path, small_tok):
    tiny_pipe(small_tok).save_pretrained(tmp_path / "p")
    w = tmp_path / "p" / "denoiser" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-10])
    with pytest.raises(PipelineError, match=r"denoiser/weights\.safetensors: corrupt"):
        MaskedTextPipeline.from_pretrained(tmp_path / "p")
    tiny_pipe(small_tok).save_pretrained(tmp_path / "q")
    (tmp_path / "q" / "tokenizer" / "weights.safetensors").unlink()
    with pytest.raises(PipelineError, match=r"tokenizer/weights\.safetensors: file is missing"):
        MaskedTextPipeline.from_pretrained(tmp_path / "q")


def test_inconsistent_components_name_the_file(tmp_path, small_tok):
    from polydiff.core.training.serialize import tensors_to_bytes

    p = tmp_path / "p"
    tiny_pipe(small_tok).save_pretrained(p)
    cfg = json.loads((p / "denoiser" / "config.json").read_text())
    _rewrite(p, "denoiser/config.json", json.dumps({**cfg, "hidden": 32}).encode())
    with pytest.raises(PipelineError, match=r"denoiser/weights\.safetensors: .*shape mismatch"):
        MaskedTextPipeline.from_pretrained(p)
    _rewrite(p, "denoiser/config.json", json.dumps({**cfg, "width": 3}).encode())
    with pytest.raises(PipelineError, match=r"denoiser/config\.json: unknown MaskedConfig key\(s\) \['width'\]"):
        MaskedTextPipeline.from_pretrained(p)
    _rewrite(p, "denoiser/config.json", json.dumps(cfg).encode())
    _rewrite(p, "tokenizer/weights.safetensors",
             tensors_to_bytes({"model_proto": torch.arange(50, dtype=torch.uint8)}))
    with pytest.raises(PipelineError, match=r"tokenizer/weights\.safetensors: model_proto is not a sentencepiece"):
        MaskedTextPipeline.from_pretrained(p)
    tiny_pipe(small_tok).save_pretrained(p)
    s = json.loads((p / "sampler" / "config.json").read_text())
    _rewrite(p, "sampler/config.json", json.dumps({**s, "solver": "ddim"}).encode())
    with pytest.raises(PipelineError, match=r"sampler/config\.json: .*solver.*ddim"):
        MaskedTextPipeline.from_pretrained(p)
    tiny_pipe(small_tok).save_pretrained(p)
    proc = json.loads((p / "process" / "config.json").read_text())
    _rewrite(p, "process/config.json", json.dumps({**proc, "mask_id": 4}).encode())
    with pytest.raises(PipelineError, match=r"process/config\.json: .*does not match"):
        MaskedTextPipeline.from_pretrained(p)


def test_from_training_run(tmp_path, small_tok, one_thread):
    from polydiff.core.training import TrainConfig
    from polydiff.text.data import E2EExample
    from polydiff.text.train import train_model

    ex = [E2EExample({"name": "The Vaults", "eatType": "pub"}, "The Vaults is a pub."),
          E2EExample({"name": "Zizzi", "area": "riverside"}, "Zizzi is by the riverside.")] * 4
    model = tiny_model(small_tok)
    cfg = TrainConfig(steps=2, batch_size=4, lr=1e-3, seed=0, ema_decay=0.9)
    train_model(model, "masked", ex, cfg)
    model.save(tmp_path / "run")
    pipe = MaskedTextPipeline.from_run(tmp_path / "run", steps=3)
    assert pipe.steps == 3 and pipe.solver == "confidence"
    for k, v in model.net.state_dict().items():
        assert torch.equal(pipe.model.net.state_dict()[k], v)
    pipe.save_pretrained(tmp_path / "p")
    again = MaskedTextPipeline.from_pretrained(tmp_path / "p")
    assert pipe(SOURCES, temperature=1.0, generator=_gens()) == again(SOURCES, temperature=1.0, generator=_gens())
    ARBaseline(ARConfig(small_tok.vocab_size, 32, hidden=16, layers=1, heads=2, src_len=16),
               small_tok).save(tmp_path / "ar")
    with pytest.raises(ValueError, match="ar: not a masked-diffusion run.*schedule"):
        MaskedTextPipeline.from_run(tmp_path / "ar")


def test_bad_arguments_are_rejected(small_tok):
    model = tiny_model(small_tok)
    with pytest.raises(TypeError, match="model must be a polydiff.text.masked.MaskedDiffusionLM"):
        MaskedTextPipeline(torch.nn.Linear(1, 1))
    lm = MaskedDiffusionLM(MaskedConfig(small_tok.vocab_size, 16, hidden=16, layers=1, heads=2), small_tok)
    with pytest.raises(ValueError, match="model must be seq2seq"):
        MaskedTextPipeline(lm)
    with pytest.raises(ValueError, match="solver"):
        MaskedTextPipeline(model, solver="ddim")
    with pytest.raises(ValueError, match="steps"):
        MaskedTextPipeline(model, steps=0)
    with pytest.raises(ValueError, match="temperature"):
        MaskedTextPipeline(model, temperature=-1.0)
    with pytest.raises(TypeError, match="truncate must be a bool"):
        MaskedTextPipeline(model, truncate="yes")
    pipe = MaskedTextPipeline(model)
    with pytest.raises(ValueError, match=r"sources\[1\] must be a non-empty text"):
        pipe(["eatType : pub", " "])
    with pytest.raises(ValueError, match=r"sources\[0\] has \d+ tokens; with <sep> more than src_len=32"):
        pipe([" ".join(["Zizzi"] * 40)])
    assert len(pipe([" ".join(["Zizzi"] * 40)], truncate=True, steps=2)) == 1


def test_ar_round_trip_and_per_source_generators(tmp_path, small_tok, one_thread):
    pipe = tiny_ar_pipe(small_tok)
    pipe.save_pretrained(tmp_path / "ar", dtype=torch.float16)
    loaded = ARTextPipeline.from_pretrained(tmp_path / "ar")
    rounded = tiny_ar_pipe(small_tok)
    rounded.model.net.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                       for k, v in rounded.model.net.state_dict().items()})
    a = loaded(SOURCES, generator=_gens())
    assert a == rounded(SOURCES, generator=_gens()) and all(a) and len(set(a)) == 3
    assert (loaded.temperature, loaded.top_k, loaded.truncate) == (1.0, 50, False)
    assert set(json.loads((tmp_path / "ar" / INDEX).read_text())["components"]) == {
        "tokenizer", "transformer", "sampler"}
    assert loaded(SOURCES[1:], generator=_gens()[1:]) == a[1:]  # a row's text ignores the others
    assert loaded(SOURCES, temperature=0.0) == loaded(SOURCES[::-1], temperature=0.0)[::-1]
    with pytest.raises(PipelineError, match="holds a polydiff.text.pipelines:ARTextPipeline, not a "
                                            "polydiff.text.pipelines:MaskedTextPipeline"):
        MaskedTextPipeline.from_pretrained(tmp_path / "ar")
    with pytest.raises(ValueError, match="top_k must be <= the vocabulary size"):
        ARTextPipeline(pipe.model, top_k=10**6)
    with pytest.raises(TypeError, match="model must be a polydiff.text.ar.ARBaseline"):
        ARTextPipeline(tiny_model(small_tok))
