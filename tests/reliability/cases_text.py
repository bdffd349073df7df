"""Catalogue cases of polydiff.text."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import MISSING, Case, polydiff_cli


def _text_cases() -> list[Case]:
    import functools
    import json
    import tempfile

    from polydiff.core.discrete_state import MaskedDiffusion
    from polydiff.text import metrics as tm
    from polydiff.text.ar import ARConfig
    from polydiff.text.corpora import load_bible_pairs, parse_wordnet_line
    from polydiff.text.data import load_e2e, parse_control, parse_e2e_line, split_by_restaurant
    from polydiff.text.decoding import confidence_sample
    from polydiff.text.diffuseq import mbr_select
    from polydiff.text.diffusion_lm import DiffusionLM, EmbeddingDiffusionConfig, round_to_tokens
    from polydiff.text.likelihood import ar_nll, masked_elbo
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM, length_layout, masked_prior
    from polydiff.text.nets import ARTransformer, TokenDenoiser
    from polydiff.text.synthetic import MarkovChain2
    from polydiff.text.tokenizer import Tokenizer, train_tokenizer

    @functools.cache
    def tok() -> Tokenizer:
        return train_tokenizer([e.text for e in load_e2e(limit=200)], 400)

    def file_with(name: str, data: bytes) -> Path:
        p = Path(tempfile.mkdtemp()) / name
        p.write_bytes(data)
        return p

    def saved(model, edit) -> Path:
        """A checkpoint folder of ``model`` whose config.json is replaced by ``edit(meta)``."""
        d = Path(tempfile.mkdtemp()) / "ckpt"
        model.save(d)
        meta = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps(edit(meta)))
        return d

    def drop(d: dict, key: str) -> dict:
        return {k: v for k, v in d.items() if k != key}

    def masked_lm() -> MaskedDiffusionLM:
        return MaskedDiffusionLM(MaskedConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2), tok())

    def dlm() -> DiffusionLM:
        cfg = EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10)
        return DiffusionLM(cfg, tok(), ["food : Chinese", "area : riverside"])

    V, MASK = 10, 5
    ar = ARTransformer(V, 8, hidden=8, layers=1, heads=2)
    masked_net = TokenDenoiser(V, 8, hidden=8, layers=1, heads=2)
    rows = torch.tensor([[6, 7, 8, 3, 0, 0, 0, 0]])
    ones = torch.ones(1, 8)

    def flat_logits(z, t):
        return torch.zeros(*z.shape, V)

    free = torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool)
    return [
        Case("text.parse_e2e_line", "no '||' separator", lambda: parse_e2e_line("name : X | food : Y"), ValueError,
             "separator"),
        Case("text.parse_e2e_line", "empty sentence", lambda: parse_e2e_line("name : X||   "), ValueError,
             "empty sentence"),
        Case("text.parse_e2e_line", "MR without a name", lambda: parse_e2e_line("food : Y||A sentence ."),
             ValueError, "'name'"),
        Case("text.parse_e2e_line", "empty line", lambda: parse_e2e_line(""), ValueError, "separator"),
        Case("text.parse_e2e_line", "MR field without a value", lambda: parse_e2e_line("name : X | food||Text ."),
             ValueError, "not 'field : value'"),
        Case("text.load_e2e", "E2E training file not downloaded", lambda: load_e2e(MISSING / "src1_train.txt"),
             FileNotFoundError, "e2e-dataset"),
        Case("text.load_e2e", "float limit (would truncate)", lambda: load_e2e(limit=2.5), TypeError,
             "limit must be an integer"),
        Case("text.split_by_restaurant", "NaN test_fraction",
             lambda: split_by_restaurant(load_e2e(limit=50), float("nan")), ValueError, "test_fraction"),
        Case("text.parse_control", "unknown control attribute",
             lambda: parse_control("food : Martian", ["food : Chinese", "area : riverside"]), ValueError,
             "unknown control attribute.*known values"),
        Case("text.Tokenizer.load", "file that is not a sentencepiece model (was a sentencepiece RuntimeError)",
             lambda: Tokenizer.load(file_with("garbage.model", b"not a model")), ValueError,
             r"garbage\.model is not a polydiff sentencepiece tokenizer model"),
        Case("text.Tokenizer.load", "empty file",
             lambda: Tokenizer.load(file_with("empty.model", b"")), ValueError, r"empty\.model .*empty"),
        Case("text.train_tokenizer", "vocab_size below the characters needed (was a sentencepiece RuntimeError)",
             lambda: train_tokenizer([e.text for e in load_e2e(limit=200)], 300), ValueError,
             "vocab_size=300.*Vocabulary size is smaller than required_chars"),
        Case("text.Tokenizer.decode", "float token ids (were truncated)", lambda: tok().decode([7.9, 8.2]),
             TypeError, r"ids\[0\] must be an integer"),
        Case("text.Tokenizer.encode_batch", "float max_len", lambda: tok().encode_batch(["a b"], 10.5), TypeError,
             "max_len must be an integer"),
        Case("text.MaskedDiffusionLM.load", "config.json missing a required key (was TypeError)",
             lambda: MaskedDiffusionLM.load(saved(masked_lm(), lambda m: {"config": drop(m["config"], "seq_len")})),
             ValueError, r"config\.json.*lacks the key\(s\) \['seq_len'\]"),
        Case("text.DiffusionLM.load", "config.json missing a key with a default (T silently became 2000)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": drop(m["config"], "T")})),
             ValueError, r"config\.json.*lacks the key\(s\) \['T'\]"),
        Case("text.DiffusionLM.load", "config.json without 'attributes' (was KeyError)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {"config": m["config"]})), ValueError,
             r"config\.json lacks the key 'attributes'"),
        Case("text.DiffusionLM.load", "config.json with an unknown config key",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": {**m["config"], "depth": 3}})),
             ValueError, r"config\.json.*unknown EmbeddingDiffusionConfig key\(s\) \['depth'\]"),
        Case("text.ARConfig", "float vocab_size (was accepted)", lambda: ARConfig(10.5, 8), TypeError,
             "vocab_size must be an integer"),
        Case("text.ARConfig", "hidden not divisible by heads (was a torch AssertionError)",
             lambda: ARConfig(10, 8, hidden=15, heads=2), ValueError, "hidden must be divisible by.*heads"),
        Case("text.MaskedDiffusionLM.sample_ids", "float n", lambda: masked_lm().sample_ids(None, 1.5, 2),
             TypeError, "n must be an integer"),
        Case("text.masked_prior", "NaN temperature",
             lambda: masked_prior(masked_net, MASK, 0, 3, torch.zeros(1, 0, dtype=torch.long), 8,
                                  temperature=float("nan")), ValueError, "temperature must be a finite"),
        Case("text.confidence_sample", "bool steps (was accepted as 1)",
             lambda: confidence_sample(flat_logits, *free, steps=True, mask_id=MASK), TypeError,
             "steps must be an integer"),
        Case("text.confidence_sample", "temperature below 0",
             lambda: confidence_sample(flat_logits, *free, steps=2, mask_id=MASK, temperature=-0.5), ValueError,
             r"temperature must lie in \[0, inf\)"),
        Case("text.confidence_sample", "model returns logits of the wrong shape (was silently decoded)",
             lambda: confidence_sample(lambda z, t: torch.zeros(1, 6), *free, steps=2, mask_id=MASK), ValueError,
             r"model\(z, t\) must return logits \[B, L, V\]"),
        Case("text.ARTransformer.generate", "top_k = 0 (was a torch size error)",
             lambda: ar.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, top_k=0), ValueError,
             r"top_k must be an integer in \[1, 10\]"),
        Case("text.ARTransformer.generate", "NaN temperature (was a multinomial RuntimeError)",
             lambda: ar.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, temperature=float("nan")),
             ValueError, "temperature must be a finite"),
        Case("text.ar_nll", "loss mask with a 2 (counted twice)", lambda: ar_nll(ar, rows, 2 * ones), ValueError,
             "loss_mask must hold only 0 and 1"),
        Case("text.ar_nll", "NaN loss mask", lambda: ar_nll(ar, rows, ones * float("nan")), ValueError,
             "loss_mask contains"),
        Case("text.ar_nll", "float token ids", lambda: ar_nll(ar, rows.float(), ones), TypeError,
             "ids must be an integer tensor"),
        Case("text.masked_elbo", "token ids outside the vocabulary",
             lambda: masked_elbo(masked_net, MaskedDiffusion(V, MASK), rows + V, src_len=0, eos_id=3), ValueError,
             r"ids must hold token ids in \[0, 10\)"),
        Case("text.masked_elbo", "bool batch_size (was accepted)",
             lambda: masked_elbo(masked_net, MaskedDiffusion(V, MASK), rows, src_len=0, eos_id=3, batch_size=True),
             TypeError, "batch_size must be an integer"),
        Case("text.length_layout", "float src_len (was a slice TypeError)", lambda: length_layout(rows, 0.5, 3),
             TypeError, "src_len must be an integer"),
        Case("text.DiffusionLM.sample_ids", "NaN fluency (was silently sampled)",
             lambda: dlm().sample_ids(1, 2, control="food : Chinese", fluency=float("nan")), ValueError,
             "fluency must be a finite"),
        Case("text.DiffusionLM.generate", "empty controls list (returned [])", lambda: dlm().generate([], 1, 2),
             ValueError, "controls must be a non-empty list"),
        Case("text.round_to_tokens", "NaN embeddings (rounded to token 0)",
             lambda: round_to_tokens(torch.full((1, 3, 4), float("nan")), torch.randn(10, 4)), ValueError,
             "x contains"),
        Case("text.mbr_select", "non-string candidates (was AttributeError)", lambda: mbr_select([1, 2]),
             TypeError, r"candidates\[0\] must be a str"),
        Case("text.corpus_bleu", "non-string hypothesis", lambda: tm.corpus_bleu([1], [["a"]]), TypeError,
             r"hyps\[0\] must be a str"),
        Case("text.corpus_bleu_interval", "one bootstrap resample (no interval)",
             lambda: tm.corpus_bleu_interval(["a b"], [["a b"]], n_bootstrap=1), ValueError, "n_bootstrap"),
        Case("text.sentence_bleu", "k = 0 (was ZeroDivisionError)",
             lambda: tm.sentence_bleu(["a", "b"], [["c", "b"]], k=0), ValueError, r"k must lie in \(0, inf\)"),
        Case("text.sentence_bleu", "max_n = 0 (returned 1.0)", lambda: tm.sentence_bleu(["a"], [["b"]], max_n=0),
             ValueError, "max_n must be an integer >= 1"),
        Case("text.distinct_n", "float n", lambda: tm.distinct_n(["a b"], 1.5), TypeError, "n must be an integer"),
        Case("text.control_success", "float label (was a torch gather RuntimeError)",
             lambda: tm.control_success(torch.nn.Sequential(torch.nn.Embedding(V, 2), torch.nn.Flatten(1),
                                                            torch.nn.Linear(16, 3)), rows, 1.5),
             TypeError, "label must be an integer"),
        Case("text.control_success", "ids outside the classifier's vocabulary (was IndexError)",
             lambda: tm.control_success(torch.nn.Sequential(torch.nn.Embedding(V, 2), torch.nn.Flatten(1),
                                                            torch.nn.Linear(16, 3)), rows + V, 1),
             ValueError, r"ids must hold token ids in \[0, 10\)"),
        Case("text.perplexity", "negative loss mask (was a finite perplexity)", lambda: tm.perplexity(ar, rows, -ones),
             ValueError, "loss_mask must hold only 0 and 1"),
        Case("text.parse_wordnet_line", "word count beyond the line (was IndexError)",
             lambda: parse_wordnet_line("00001740 03 n ff entity 0 003 | gloss"), ValueError,
             "malformed offset or word list"),
        Case("text.load_bible_pairs", "float limit", lambda: load_bible_pairs(limit=2.5), TypeError,
             "limit must be an integer"),
        Case("text.MarkovChain2.posterior_marginals", "mask_id that is a state (silently hidden)",
             lambda: MarkovChain2.random(3).posterior_marginals(torch.tensor([[0, 1, 2]]), 1), ValueError,
             "mask_id must not be a state id"),
        Case("text.MarkovChain2.log_prob", "state outside [0, K) (was IndexError / wrapped)",
             lambda: MarkovChain2.random(3).log_prob(torch.tensor([[0, -1, 1]])), ValueError,
             r"x must hold token ids in \[0, 3\)"),
    ] + _text_cases_31(tok, file_with, saved, masked_lm, dlm)


def _text_cases_31(tok, file_with, saved, masked_lm, dlm) -> list[Case]:
    """Second reliability round (#31): what an independent probe of polydiff.text found vague or silent."""
    from polydiff.core.discrete_state import MaskedDiffusion
    from polydiff.text import commands as tc
    from polydiff.text import metrics as tm
    from polydiff.text.ar import ARBaseline, ARConfig
    from polydiff.text.corpora import load_wordnet_glosses, parse_wordnet_line
    from polydiff.text.data import load_e2e, parse_e2e_line, split_by_restaurant
    from polydiff.text.decoding import confidence_sample
    from polydiff.text.diffuseq import Anchor, encode_sources
    from polydiff.text.diffusion_lm import (
        DiffusionLM,
        EmbeddingDiffusionConfig,
        partial_noising,
        round_to_tokens,
    )
    from polydiff.text.likelihood import HeldOutNLL, ar_nll
    from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM, masked_nelbo, masked_prior
    from polydiff.text.nets import (
        ARTransformer,
        TokenCNNClassifier,
        TokenDenoiser,
        TransformerDenoiser,
        timestep_embedding,
    )
    from polydiff.text.pipelines import ARTextPipeline
    from polydiff.text.synthetic import MarkovChain2

    V, MASK, NAN = 10, 5, float("nan")
    ar_net = ARTransformer(V, 8, hidden=8, layers=1, heads=2)
    tok_net = TokenDenoiser(V, 8, hidden=8, layers=1, heads=2)
    rows = torch.tensor([[6, 7, 8, 3, 0, 0, 0, 0]])
    free = torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool)
    long_source = "The Vaults is an Italian pub by the riverside"

    def ar_s2s() -> ARBaseline:
        return ARBaseline(ARConfig(tok().vocab_size, 16, hidden=8, layers=1, heads=2, src_len=8), tok())

    def nan_weights(model):
        from safetensors.torch import load_file, save_file
        d = saved(model, lambda m: m)
        st = load_file(str(d / "model.safetensors"))
        k = next(iter(st))
        st[k] = torch.full_like(st[k], NAN)
        save_file(st, str(d / "model.safetensors"))
        return d

    def wordnet_folder(data: bytes) -> Path:
        return file_with("data.noun", data).parent

    def dlm_cfg():
        return EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10)

    return [
        Case("text.parse_e2e_line", "duplicate MR field (the second overwrote the first)",
             lambda: parse_e2e_line("name : X | name : Y||t ."), ValueError, "field 'name' appears twice"),
        Case("text.load_e2e", "malformed line 2 (the error named neither file nor line)",
             lambda: load_e2e(file_with("bad_e2e.txt", b"name : A||Good .\nthis line is broken\n")), ValueError,
             r"bad_e2e\.txt, line 2: .*separator"),
        Case("text.load_e2e", "file that is not UTF-8 (was UnicodeDecodeError)",
             lambda: load_e2e(file_with("bin_e2e.txt", b"\xff\xfe\x00garbage")), ValueError,
             r"bin_e2e\.txt: line 1 is not UTF-8"),
        Case("text.load_e2e", "empty file (returned [])", lambda: load_e2e(file_with("empty_e2e.txt", b"")),
             ValueError, r"empty_e2e\.txt holds no"),
        Case("text.split_by_restaurant", "list of str (was AttributeError)", lambda: split_by_restaurant(["a", "b"]),
             TypeError, r"examples\[0\] must be an E2EExample"),
        Case("text.parse_wordnet_line", "synset with zero words (was accepted)",
             lambda: parse_wordnet_line("00001740 03 n 00 000 x | gloss"), ValueError, "synset with no words"),
        Case("text.load_wordnet_glosses", "malformed data file line (named neither file nor line)",
             lambda: load_wordnet_glosses(wordnet_folder(b"garbage line without separator\n"), pos=["noun"]),
             ValueError, r"data\.noun, line 1: .*separator"),
        Case("text.load_wordnet_glosses", "repeated pos (loaded twice)",
             lambda: load_wordnet_glosses(pos=["adv", "adv"]), ValueError, "pos must not repeat"),
        Case("text.Tokenizer.encode_batch", "truncate='no' (taken as True)",
             lambda: tok().encode_batch(["a b c"], 8, truncate="no"), TypeError, "truncate must be True or False"),
        Case("text.train_tokenizer", "vocab_size 10**9 (silently a small model)",
             lambda: train_tokenizer_huge(), ValueError, r"vocab_size must be <= 1048576"),
        Case("text.ARTransformer", "vocab_size 0 (built an empty embedding)",
             lambda: ARTransformer(0, 8, hidden=8, layers=1, heads=2), ValueError, "vocab_size must be an integer >= 1"),
        Case("text.ARTransformer", "hidden not divisible by heads (was a torch AssertionError)",
             lambda: ARTransformer(10, 8, hidden=15, heads=2), ValueError, "hidden must be divisible by heads=2"),
        Case("text.TokenCNNClassifier", "pad_id outside the vocabulary (was a torch AssertionError)",
             lambda: TokenCNNClassifier(10, 2, hidden=8, pad_id=99), ValueError, r"pad_id must be an integer in \[0, 9\]"),
        Case("text.ARTransformer.token_nll", "loss_mask of one row for two (was broadcast)",
             lambda: ar_net.token_nll(torch.cat([rows, rows]), torch.ones(1, 8)), ValueError,
             r"loss_mask must have shape \(2, 8\)"),
        Case("text.ARTransformer.generate", "eos_id outside the vocabulary (never stopped)",
             lambda: ar_net.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=99), ValueError,
             r"eos_id must be an integer in \[0, 9\]"),
        Case("text.TransformerDenoiser", "NaN x (NaN output)",
             lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.full((1, 8, 4), NAN), torch.zeros(1)), ValueError,
             "x contains"),
        Case("text.timestep_embedding", "dim=0 (an empty embedding)", lambda: timestep_embedding(torch.zeros(2), 0),
             ValueError, "dim must be an integer >= 1"),
        Case("text.ARBaseline.generate", "unknown solver (silently ignored)",
             lambda: ar_s2s().generate(["name : Zizzi"], solver="bogus"), ValueError, "solver must be None"),
        Case("text.encode_sources", "source too long (the message named the tokenizer's 'text 0 ... max_len')",
             lambda: encode_sources(tok(), ["name : Zizzi", long_source], 3), ValueError,
             r"sources\[0\] has \d+ tokens; with <sep> more than src_len=3"),
        Case("text.MaskedDiffusionLM.loss", "rows holding the <mask> id (core's message named x)",
             lambda: masked_lm().loss(torch.tensor([[6, MASK, 8, 3, 0, 0, 0, 0]])), ValueError,
             r"ids must be clean token rows without the <mask> id"),
        Case("text.masked_prior", "mask_id outside the net's vocabulary (blamed the model's ids)",
             lambda: masked_prior(tok_net, 99, 0, 3, torch.zeros(1, 0, dtype=torch.long), 8), ValueError,
             r"mask_id must be an integer in \[0, 9\]"),
        Case("text.masked_prior", "tgt_len longer than the net (message named sequence length)",
             lambda: masked_prior(tok_net, MASK, 0, 3, torch.zeros(1, 0, dtype=torch.long), 20), ValueError,
             "tgt_len must leave"),
        Case("text.masked_nelbo", "process of another vocabulary (blamed the model's logits)",
             lambda: masked_nelbo(tok_net, MaskedDiffusion(20, MASK), rows, src_len=0, eos_id=3), ValueError,
             "process.vocab_size=20 differs from the net's vocab_size=10"),
        Case("text.MaskedConfig", "unknown schedule (was accepted until the model was built)",
             lambda: MaskedConfig(10, 8, hidden=8, heads=2, schedule="bogus"), ValueError,
             "MaskedConfig.schedule must be one of"),
        Case("text.MaskedDiffusionLM.load", "config vocab_size that does not fit the tokenizer (named no file)",
             lambda: MaskedDiffusionLM.load(saved(masked_lm(), lambda m: {
                 **m, "config": {**m["config"], "vocab_size": m["config"]["vocab_size"] + 2}})), ValueError,
             r"config\.json does not fit .*tokenizer\.model: tokenizer has \d+ pieces but config\.vocab_size"),
        Case("text.MaskedDiffusionLM.load", "NaN weights (were loaded)", lambda: MaskedDiffusionLM.load(
            nan_weights(masked_lm())), ValueError, r"model\.safetensors holds non-finite"),
        Case("text.DiffusionLM.load", "config T as a string (named no file)",
             lambda: DiffusionLM.load(saved(dlm(), lambda m: {**m, "config": {**m["config"], "T": "10"}})),
             TypeError, r"config\.json.*EmbeddingDiffusionConfig\.T must be an integer"),
        Case("text.DiffusionLM", "attributes as one str (one attribute per character)",
             lambda: DiffusionLM(dlm_cfg(), tok(), "food : Italian"), TypeError, "attributes must be a list"),
        Case("text.DiffusionLM", "repeated attribute", lambda: DiffusionLM(dlm_cfg(), tok(), ["a : b", "a : b"]),
             ValueError, "attributes must be distinct"),
        Case("text.DiffusionLM.sample_ids", "control_step_size 1e30 (core's message named x)",
             lambda: dlm().sample_ids(1, 2, control="food : Chinese", control_step_size=1e30), ValueError,
             r"control_step_size=1e\+30 is too large"),
        Case("text.round_to_tokens", "1e30 embeddings (distances overflowed, rounded to 0)",
             lambda: round_to_tokens(torch.full((1, 3, 4), 1e30), torch.randn(10, 4)), ValueError,
             "is too large: the squared distances overflow"),
        Case("text.partial_noising", "NaN noise_mask (taken as 1)",
             lambda: partial_noising(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), torch.full((1, 3), NAN)), ValueError,
             "noise_mask contains"),
        Case("text.Anchor", "NaN anchor values (imposed)",
             lambda: Anchor(torch.full((1, 3, 4), NAN), torch.ones(1, 3)), ValueError, "values contains"),
        Case("text.confidence_sample", "model returning +inf logits (decoded)",
             lambda: confidence_sample(lambda z, t: torch.full((*z.shape, V), float("inf")), *free, steps=2,
                                       mask_id=MASK), FloatingPointError, r"NaN or \+inf logits"),
        Case("text.HeldOutNLL", "zero tokens (per_token was ZeroDivisionError)", lambda: HeldOutNLL(0.0, 0, 0),
             ValueError, "HeldOutNLL.tokens must be an integer >= 1"),
        Case("text.HeldOutNLL.perplexity", "overflow (was OverflowError)", lambda: HeldOutNLL(1e30, 1, 1).perplexity,
             ValueError, r"perplexity = exp\(1e\+30 nats per token\) overflows"),
        Case("text.ar_nll", "net without token_nll (was AttributeError)", lambda: ar_nll(tok_net, rows, torch.ones(1, 8)),
             TypeError, "net must be an autoregressive model"),
        Case("text.sentence_bleu", "int tokens (scored)", lambda: tm.sentence_bleu([1, 2], [[1, 2]]), TypeError,
             r"hyp\[0\] must be a str token"),
        Case("text.sentence_bleu", "k = 1e-300 (a score of 1e224)",
             lambda: tm.sentence_bleu(["a", "b"], [["a", "c"]], k=1e-300), ValueError, "k=1e-300 is too small"),
        Case("text.control_success", "classifier returning NaN logits (success 0.0)",
             lambda: tm.control_success(lambda ids: torch.full((len(ids), 2), NAN), rows, 0), ValueError,
             r"classifier\(ids\) logits contains"),
        Case("text.perplexity", "lm=None (was AttributeError)", lambda: tm.perplexity(None, rows, torch.ones(1, 8)),
             TypeError, "lm must be an autoregressive model"),
        Case("text.MarkovChain2.posterior_marginals", "evidence of probability zero (NaN marginals)",
             lambda: MarkovChain2(torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]]))
             .posterior_marginals(torch.tensor([[1, 1, 9]]), 9), ValueError, "probability zero"),
        Case("text.ARTextPipeline", "card that is not a ModelCard (stored)", lambda: ARTextPipeline(ar_s2s(), card="x"),
             TypeError, "card must be a polydiff.core.pipeline.ModelCard"),
        Case("text.commands.write_lines", "one str (written one character per line)",
             lambda: tc.write_lines(file_with("w.txt", b""), "abc"), TypeError, "lines must be a list of str"),
        Case("text.commands.write_lines", "a line with a line break (written as two lines)",
             lambda: tc.write_lines(file_with("w.txt", b""), ["a\nb"]), ValueError, r"lines\[0\] holds a line break"),
        Case("text.commands.line_generators", "float seed (was accepted)", lambda: tc.line_generators(1.5, [0]),
             TypeError, "seed must be an integer"),
        Case("polydiff text", "--device tpu (was a torch RuntimeError)",
             lambda: polydiff_cli("text", "--model", "m", "--input", "i", "--output", "o", "--device", "tpu"),
             SystemExit, "--device must name a torch device type.*'tpu'"),
    ]


def train_tokenizer_huge():
    from polydiff.text.tokenizer import train_tokenizer
    return train_tokenizer(["a b", "c d"], 10**9)
