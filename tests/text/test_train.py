"""The training script end to end (tiny sizes): safetensors + JSON out, loadable, generates."""
import json

import pytest
import torch
from polydiff.text.diffusion_lm import DiffusionLM
from polydiff.text.train import main


def test_train_script_writes_a_loadable_diffusion_lm(tmp_path):
    out = tmp_path / "dlm"
    main(["--model", "diffusion-lm", "--steps", "2", "--batch-size", "4", "--hidden", "16", "--layers", "1",
          "--T", "50", "--classifier-steps", "2", "--tgt-len", "64", "--out", str(out)])
    assert {"model.safetensors", "config.json", "tokenizer.model"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "config.json").read_text())
    assert meta["config"]["emb_dim"] == 16 and "food : Chinese" in meta["attributes"]
    m = DiffusionLM.load(out).eval()
    texts = m.generate(["food : Chinese"], 2, steps=2, generator=torch.Generator().manual_seed(0))
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_train_script_rejects_unknown_model(tmp_path):
    with pytest.raises(SystemExit):
        main(["--model", "gpt5", "--out", str(tmp_path)])


def test_bench_models_have_about_the_same_parameter_count(tok):
    """The AR baseline is compared at the diffusion models' size (issue: same parameter count)."""
    from polydiff.bench.text import FULL as bc
    from polydiff.text.train import build_model

    counts = {}
    for kind in ("diffuseq", "masked", "ar", "diffusion-lm", "ar-lm"):
        m = build_model(kind, tok, src_len=bc.src_len, tgt_len=bc.tgt_len, emb_dim=bc.emb_dim, hidden=bc.hidden,
                        layers=bc.layers, heads=bc.heads, T=bc.T, attributes=["food : Chinese"])
        counts[kind] = sum(p.numel() for p in m.net.parameters())
    assert max(counts.values()) / min(counts.values()) < 1.2, counts


def test_train_script_trains_diffuseq_with_loss_aware_times_and_refuses_the_flag_elsewhere(tmp_path, capsys,
                                                                                           monkeypatch):
    from polydiff.text import train
    from polydiff.text.diffuseq import DiffuSeq

    made = []

    def spy(process, src_len, time_sampler="uniform"):
        made.append(real(process, src_len, time_sampler))
        return made[-1]

    real = train.embedding_loss_fn
    monkeypatch.setattr(train, "embedding_loss_fn", spy)
    out = tmp_path / "dseq"
    main(["--model", "diffuseq", "--steps", "2", "--batch-size", "4", "--hidden", "16", "--layers", "1",
          "--T", "50", "--src-len", "32", "--tgt-len", "32", "--time-sampler", "lossaware", "--out", str(out)])
    assert DiffuSeq.load(out).config.T == 50
    # the flag reached the loss: its sampler saw the 2 steps x 4 draws
    assert len(made) == 1 and int(made[0].sampler._counts.sum()) == 8
    with pytest.raises(SystemExit):
        main(["--model", "masked", "--time-sampler", "lossaware", "--out", str(tmp_path / "m")])
    assert "--time-sampler lossaware applies to diffusion-lm, diffuseq, not --model masked" in capsys.readouterr().err
