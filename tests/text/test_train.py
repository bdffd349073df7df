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
