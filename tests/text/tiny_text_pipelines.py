"""Tiny text pipelines shared by test_pipeline.py and test_commands.py (a module name no other
test folder uses: tests import it by name)."""
from __future__ import annotations

import torch
from polydiff.text.ar import ARBaseline, ARConfig
from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM
from polydiff.text.pipelines import ARTextPipeline, MaskedTextPipeline
from polydiff.text.tokenizer import Tokenizer, train_tokenizer

TEXTS = ["name : The Vaults | eatType : pub | food : Italian", "The Vaults is an Italian pub.",
         "name : Zizzi | area : riverside", "Zizzi is by the riverside and serves cheap food."] * 20
SOURCES = ["name : The Vaults | food : Italian", "name : Zizzi | area : riverside", "eatType : pub"]


def small_tokenizer() -> Tokenizer:
    """A sentencepiece model of ~300 pieces trained on :data:`TEXTS` (milliseconds)."""
    return train_tokenizer(TEXTS, 300)


def tiny_model(tok, seed: int = 0) -> MaskedDiffusionLM:
    torch.manual_seed(seed)
    model = MaskedDiffusionLM(MaskedConfig(tok.vocab_size, 64, hidden=16, layers=1, heads=2, src_len=32), tok)
    with torch.no_grad():  # the zero-initialised length head would make every text empty
        for p in model.net.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return model


def tiny_pipe(tok, **defaults) -> MaskedTextPipeline:
    kw = {"solver": "confidence", "steps": 4, "temperature": 1.0, **defaults}
    return MaskedTextPipeline(tiny_model(tok), **kw)


def tiny_ar_pipe(tok, **defaults) -> ARTextPipeline:
    torch.manual_seed(1)
    model = ARBaseline(ARConfig(tok.vocab_size, 64, hidden=16, layers=1, heads=2, src_len=32), tok)
    with torch.no_grad():  # a flatter next-token distribution: EOS comes later
        for p in model.net.parameters():
            p.mul_(0.3)
    return ARTextPipeline(model, **{"temperature": 1.0, "top_k": 50, **defaults})
