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
