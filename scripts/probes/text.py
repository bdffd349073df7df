"""Bad-input / edge-case probe of polydiff.text (public API, pipelines and the `polydiff text` command).

Prints one line per case:  CLASS | module | call | outcome
CLASS: textD (clear ValueError/TypeError/FileNotFoundError/PipelineError/SystemExit naming the argument),
       VAGUE (raw internal exception, or a message that does not name the argument/file),
       SILENT (returned although the input was wrong), OK-EDGE (legitimate edge handled correctly).
Run:  OMP_NUM_THREADS=1 TQDM_DISABLE=1 python probe.py   (any interpreter with polydiff[text] installed)
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import torch

torch.set_num_threads(1)

from polydiff.core.discrete_state import MaskedDiffusion
from polydiff.core.pipeline import PipelineError
from polydiff.text import commands as tc
from polydiff.text import metrics as tm
from polydiff.text.ar import ARBaseline, ARConfig
from polydiff.text.corpora import bible_modules, clean_osis, load_bible_pairs, load_wordnet_glosses, parse_wordnet_line
from polydiff.text.data import (attribute_vocabulary, load_amazon_reviews, load_e2e, load_lines, mr_to_string,
                                parse_control, parse_e2e_line, split_by_restaurant)
from polydiff.text.decoding import confidence_sample, uniform_draws
from polydiff.text.diffuseq import Anchor, DiffuSeq, encode_sources, mbr_select
from polydiff.text.diffusion_lm import (ControlHook, DiffusionLM, EmbeddingDiffusionConfig, nearest_token,
                                        partial_noising, round_to_tokens, embedding_diffusion_loss)
from polydiff.text.likelihood import HeldOutNLL, ar_nll, masked_elbo
from polydiff.text.masked import MaskedConfig, MaskedDiffusionLM, masked_prior
from polydiff.text.masked_objective import length_layout, masked_nelbo
from polydiff.text.nets import (ARTransformer, NoisyEmbeddingClassifier, TokenCNNClassifier, TokenDenoiser,
                                TransformerDenoiser, timestep_embedding)
from polydiff.text.pipelines import ARTextPipeline, MaskedTextPipeline, tokenizer_component, tokenizer_from
from polydiff.text.rotary import rotary_tables
from polydiff.text.synthetic import MarkovChain2
from polydiff.text.tokenizer import Tokenizer, train_tokenizer

NAN, INF = float("nan"), float("inf")
COUNTS: dict[str, int] = {}
TMP = Path(tempfile.mkdtemp(prefix="probe_text_"))

TEXTS = ["name : The Vaults | eatType : pub | food : Italian", "The Vaults is an Italian pub.",
         "name : Zizzi | area : riverside", "Zizzi is by the riverside and serves cheap food."] * 20
SOURCES = ["name : The Vaults | food : Italian", "name : Zizzi | area : riverside"]
DIRECT = (ValueError, TypeError, FileNotFoundError, PipelineError, SystemExit, FloatingPointError)


def short(x, n=150) -> str:
    s = " ".join(str(x).split())
    return s if len(s) <= n else s[:n] + "..."


def emit(cls: str, module: str, call: str, outcome: str) -> None:
    COUNTS[cls] = COUNTS.get(cls, 0) + 1
    print(f"{cls} | {module} | {call} | {short(outcome, 220)}", flush=True)


def case(module: str, call: str, fn, *, names=(), ok=None, edge: bool = False, vague_if=None,
         silent_note: str = "returned") -> None:
    """Run ``fn``.

    Bad input (default): an exception of DIRECT type whose message contains every string of ``names``
    (case-insensitive) is textD; any other exception, or a message missing them, is VAGUE; a return is
    SILENT (``silent_note`` / the value describe it).
    ``edge=True``: a legitimate input; a return passing ``ok(value)`` (default: any) is OK-EDGE; an exception
    of DIRECT type naming ``names`` is textD; anything else VAGUE (a failing ``ok`` is SILENT).
    """
    buf_out, buf_err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
            value = fn()
    except BaseException as e:  # noqa: BLE001 - every outcome is classified
        if isinstance(e, KeyboardInterrupt):
            raise
        msg = f"{type(e).__name__}: {e}"
        if isinstance(e, SystemExit) and e.code in (0, None):
            emit("OK-EDGE" if edge else "SILENT", module, call, f"exit {e.code} {buf_out.getvalue()}")
            return
        if isinstance(e, SystemExit) and isinstance(e.code, int):  # argparse: message on stderr
            msg = f"SystemExit({e.code}): {buf_err.getvalue().strip().splitlines()[-1] if buf_err.getvalue() else ''}"
        named = all(n.lower() in msg.lower() for n in names)
        if isinstance(e, DIRECT) and type(e) not in (KeyError, IndexError) and named and not (vague_if and vague_if(msg)):
            emit("textD", module, call, msg)
        else:
            emit("VAGUE", module, call, msg)
        return
    if edge:
        good = True if ok is None else bool(ok(value))
        emit("OK-EDGE" if good else "SILENT", module, call, f"returned {short(repr(value), 120)}")
    else:
        emit("SILENT", module, call, f"{silent_note}: {short(repr(value), 120)}")


# --- fixtures -------------------------------------------------------------------------------------
_TOK = {}


def tok() -> Tokenizer:
    if "t" not in _TOK:
        _TOK["t"] = train_tokenizer(TEXTS, 300)
    return _TOK["t"]


def tiny_masked(src_len=32, seq_len=48) -> MaskedDiffusionLM:
    torch.manual_seed(0)
    m = MaskedDiffusionLM(MaskedConfig(tok().vocab_size, seq_len, hidden=8, layers=1, heads=2, src_len=src_len), tok())
    with torch.no_grad():
        for p in m.net.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return m.eval()


def tiny_ar(src_len=32, seq_len=48) -> ARBaseline:
    torch.manual_seed(1)
    return ARBaseline(ARConfig(tok().vocab_size, seq_len, hidden=8, layers=1, heads=2, src_len=src_len), tok()).eval()


def tiny_dlm(attrs=("food : Italian", "area : riverside")) -> DiffusionLM:
    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10)
    return DiffusionLM(cfg, tok(), list(attrs)).eval()


def tiny_diffuseq() -> DiffuSeq:
    torch.manual_seed(0)
    cfg = EmbeddingDiffusionConfig(tok().vocab_size, 48, hidden=8, layers=1, heads=2, emb_dim=4, T=10, src_len=32)
    return DiffuSeq(cfg, tok()).eval()


def g(seed=0):
    return torch.Generator().manual_seed(seed)


V, MASK, EOS = 12, 5, 3
torch.manual_seed(0)
AR_NET = ARTransformer(V, 8, hidden=8, layers=1, heads=2).eval()
TOK_NET = TokenDenoiser(V, 8, hidden=8, layers=1, heads=2).eval()
ROWS = torch.tensor([[6, 7, 8, 3, 0, 0, 0, 0]])
ONES = torch.ones(1, 8)


def flat_logits(z, t):
    return torch.zeros(*z.shape, V)


def saved_pipe(kind="masked") -> Path:
    d = TMP / f"pipe_{kind}"
    if not d.exists():
        pipe = (MaskedTextPipeline(tiny_masked(), steps=2) if kind == "masked"
                else ARTextPipeline(tiny_ar()))
        pipe.save_pretrained(d)
    return d


def copy_pipe(kind: str, name: str) -> Path:
    d = TMP / name
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(saved_pipe(kind), d)
    return d


def edit_json(path: Path, fn) -> None:
    path.write_text(json.dumps(fn(json.loads(path.read_text()))))


def write(name: str, data: bytes | str) -> Path:
    p = TMP / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def cli(*argv):
    from polydiff.bench.cli import main
    return main(list(argv))


# =============================================================================================
M = "text.tokenizer"
case(M, "Tokenizer('abc' str)", lambda: Tokenizer("abc"), names=["model_proto"])
case(M, "Tokenizer(None)", lambda: Tokenizer(None), names=["model_proto"])
case(M, "Tokenizer.load(missing path)", lambda: Tokenizer.load(TMP / "nope.model"), names=["nope.model"])
case(M, "Tokenizer.load(a directory)", lambda: Tokenizer.load(TMP), names=[str(TMP)])
case(M, "Tokenizer.load(truncated real model, first 200 bytes)",
     lambda: Tokenizer.load(write("trunc.model", tok().model_proto[:200])), names=["trunc.model"])
case(M, "Tokenizer.load(None)", lambda: Tokenizer.load(None), names=["path"])


def _plain_spm() -> bytes:
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXTS), model_writer=buf, vocab_size=40,
                                   hard_vocab_limit=False, minloglevel=2, num_threads=1)
    return buf.getvalue()


case(M, "Tokenizer.load(sentencepiece model lacking <sep>/<mask>)",
     lambda: Tokenizer.load(write("plain.model", _plain_spm())), names=["plain.model", "<sep>"])
case(M, "tok.encode(None)", lambda: tok().encode(None), names=["text"])
case(M, "tok.encode(b'bytes')", lambda: tok().encode(b"abc"), names=["text"])
case(M, "tok.encode('')", lambda: tok().encode(""), names=["text"])
case(M, "tok.encode('\\x00\\x01 ctrl chars')", lambda: tok().encode("\x00\x01 ctrl"), edge=True,
     ok=lambda r: all(0 <= i < tok().vocab_size for i in r))
case(M, "tok.decode([])", lambda: tok().decode([]), edge=True, ok=lambda s: s == "")
case(M, "tok.decode('abc')", lambda: tok().decode("abc"), names=["ids"])
case(M, "tok.decode([True, 7])", lambda: tok().decode([True, 7]), names=["ids[0]"])
case(M, "tok.decode(np.array([7, 8]))", lambda: tok().decode(np.array([7, 8])), edge=True,
     ok=lambda s: isinstance(s, str), names=["ids"])
case(M, "tok.decode([7, 10**6])", lambda: tok().decode([7, 10**6]), names=["ids[1]"])
case(M, "tok.decode(torch 2-D [[7, 8]])", lambda: tok().decode(torch.tensor([[7, 8]])), names=["ids"])
case(M, "tok.decode(float tensor [7., 8.])", lambda: tok().decode(torch.tensor([7.0, 8.0])), names=["ids"])
case(M, "tok.decode([-1, 7])", lambda: tok().decode([-1, 7]), names=["ids[0]"])
case(M, "tok.encode_batch([], 8)", lambda: tok().encode_batch([], 8), names=["texts"])
case(M, "tok.encode_batch('one str', 8)", lambda: tok().encode_batch("a b", 8), names=["texts"])
case(M, "tok.encode_batch(['a'], 0)", lambda: tok().encode_batch(["a"], 0), names=["max_len"])
case(M, "tok.encode_batch(['a'], -5)", lambda: tok().encode_batch(["a"], -5), names=["max_len"])
case(M, "tok.encode_batch(['a'], True)", lambda: tok().encode_batch(["a"], True), names=["max_len"])
case(M, "tok.encode_batch(['a'], 8, bos='yes')", lambda: tok().encode_batch(["a"], 8, bos="yes"), names=["bos"])
case(M, "tok.encode_batch([long], 4, truncate='no')", lambda: tok().encode_batch(["a b c d e f g h i j k"], 4, truncate="no"),
     names=["truncate"], silent_note="truncate='no' taken as True (cut to 4)")
case(M, "tok.encode_batch([long text], 4, eos=False, truncate=True)",
     lambda: tok().encode_batch(["The Vaults is an Italian pub."], 4, eos=False, truncate=True), edge=True,
     ok=lambda r: r.shape == (1, 4) and not (r == EOS).any())
case(M, "tok.decode_batch(1-D tensor)", lambda: tok().decode_batch(torch.tensor([7, 8])), names=["ids"])
case(M, "tok.decode_batch(list of lists)", lambda: tok().decode_batch([[7, 8]]), names=["ids"])
case(M, "tok.decode_batch(torch.zeros(0, 4) long)", lambda: tok().decode_batch(torch.zeros(0, 4, dtype=torch.long)),
     edge=True, ok=lambda r: r == [])
case(M, "tok.save(path in missing folder)", lambda: tok().save(TMP / "no" / "dir" / "t.model"), names=["t.model"])
case(M, "train_tokenizer([], 300)", lambda: train_tokenizer([], 300), names=["texts"])
case(M, "train_tokenizer(['', '  '], 300)", lambda: train_tokenizer(["", "  "], 300), names=["texts"])
case(M, "train_tokenizer(TEXTS, 300.0)", lambda: train_tokenizer(TEXTS, 300.0), names=["vocab_size"])
case(M, "train_tokenizer(TEXTS, 10**9)", lambda: train_tokenizer(TEXTS[:4], 10**9), names=["vocab_size"],
     silent_note="hard_vocab_limit=False: asked 1e9 pieces, got a small model")
case(M, "train_tokenizer(TEXTS, model_type='word')", lambda: train_tokenizer(TEXTS, 300, model_type="word"),
     names=["model_type"])
case(M, "train_tokenizer([1, 2], 300)", lambda: train_tokenizer([1, 2], 300), names=["texts[0]"])
case(M, "train_tokenizer(generator of strings, 300)", lambda: train_tokenizer((t for t in TEXTS), 300), edge=True,
     ok=lambda t: t.vocab_size > 6)
case(M, "train_tokenizer(TEXTS, 300, cache_dir=<a file>)",
     lambda: train_tokenizer(TEXTS[:8], 301, cache_dir=write("afile", "x")), names=["cache_dir"])
case(M, "train_tokenizer(cache_dir with a garbage cached model)",
     lambda: (train_tokenizer(TEXTS[:8], 302, cache_dir=TMP / "spmcache"),
              [p.write_bytes(b"garbage") for p in (TMP / "spmcache").glob("*.model")],
              train_tokenizer(TEXTS[:8], 302, cache_dir=TMP / "spmcache"))[2], names=["spm-"])

# =============================================================================================
M = "text.data"
case(M, "parse_e2e_line(None)", lambda: parse_e2e_line(None), names=["line"])
case(M, "parse_e2e_line('name : X||a' + extra '||')", lambda: parse_e2e_line("name : X||a || b"), edge=True,
     ok=lambda e: e.text == "a || b")
case(M, "parse_e2e_line('name : X | name : Y||t') duplicate field",
     lambda: parse_e2e_line("name : X | name : Y||t ."), names=["name"],
     silent_note="duplicate MR field: the second silently overwrote the first")
case(M, "parse_e2e_line(' : X||t') empty field name", lambda: parse_e2e_line("name : X |  : Y||t ."), names=["field"],
     silent_note="empty MR field name accepted")
case(M, "mr_to_string({})", lambda: mr_to_string({}), names=["mr"])
case(M, "mr_to_string([('name','X')])", lambda: mr_to_string([("name", "X")]), names=["mr"])
case(M, "load_e2e(path=123)", lambda: load_e2e(123), names=["path"])
case(M, "load_e2e(limit=0)", lambda: load_e2e(limit=0), names=["limit"])
case(M, "load_e2e(limit=-1)", lambda: load_e2e(limit=-1), names=["limit"])
case(M, "load_e2e(empty file)", lambda: load_e2e(write("empty_e2e.txt", "")), names=["empty_e2e.txt"],
     silent_note="empty E2E file gives []")
case(M, "load_e2e(garbage bytes file)", lambda: load_e2e(write("garbage_e2e.txt", b"\xff\xfe\x00\x81garbage")),
     names=["garbage_e2e.txt"])
case(M, "load_e2e(file whose line 2 is malformed)",
     lambda: load_e2e(write("bad2_e2e.txt", "name : A||Good .\nthis line is broken\n")), names=["bad2_e2e.txt"])
case(M, "load_e2e(limit=10**9)", lambda: load_e2e(limit=10**9), edge=True, ok=lambda r: len(r) == 4672)
case(M, "load_lines(missing)", lambda: load_lines(TMP / "missing.txt"), names=["missing.txt"])
case(M, "split_by_restaurant([])", lambda: split_by_restaurant([]), names=["examples"])
case(M, "split_by_restaurant(['a', 'b']) list of str", lambda: split_by_restaurant(["a", "b"]), names=["examples"])
case(M, "split_by_restaurant(ex, test_fraction=1.0)", lambda: split_by_restaurant(load_e2e(limit=50), 1.0),
     names=["test_fraction"])
case(M, "split_by_restaurant(ex, test_fraction=0.99)", lambda: split_by_restaurant(load_e2e(limit=300), 0.99), edge=True,
     ok=lambda r: len(r[0]) > 0 and len(r[1]) > 0)
case(M, "split_by_restaurant(ex, test_fraction='0.2')", lambda: split_by_restaurant(load_e2e(limit=50), "0.2"),
     names=["test_fraction"])
case(M, "split_by_restaurant(ex, seed=1.5)", lambda: split_by_restaurant(load_e2e(limit=50), 0.2, 1.5), names=["seed"])
case(M, "split_by_restaurant(one restaurant only)",
     lambda: split_by_restaurant([parse_e2e_line("name : A||x ."), parse_e2e_line("name : A||y .")]),
     names=["restaurant"])
case(M, "attribute_vocabulary([])", lambda: attribute_vocabulary([]), edge=True, ok=lambda r: r == [])
case(M, "attribute_vocabulary(['name : X'])", lambda: attribute_vocabulary(["name : X"]), names=["examples"])
case(M, "parse_control('', vocab)", lambda: parse_control("", ["food : Chinese"]), names=["control"])
case(M, "parse_control(' : ', vocab)", lambda: parse_control(" : ", ["food : Chinese"]), names=["control"])
case(M, "parse_control(None, vocab)", lambda: parse_control(None, ["food : Chinese"]), names=["control"])
case(M, "parse_control('food : Chinese', 'food : Chinese')", lambda: parse_control("food : Chinese", "food : Chinese"),
     names=["vocabulary"])
case(M, "parse_control('food:Chinese', vocab) no spaces", lambda: parse_control("food:Chinese", ["food : Chinese"]),
     edge=True, ok=lambda r: r == "food : Chinese")
case(M, "load_amazon_reviews('valid')", lambda: load_amazon_reviews("valid"), names=["split"])
case(M, "load_amazon_reviews(limit=0)", lambda: load_amazon_reviews(limit=0), names=["limit"])

# =============================================================================================
M = "text.corpora"
case(M, "parse_wordnet_line(None)", lambda: parse_wordnet_line(None), names=["line"])
case(M, "parse_wordnet_line('')", lambda: parse_wordnet_line(""), names=["WordNet"])
case(M, "parse_wordnet_line(offset 'abc')", lambda: parse_wordnet_line("abc 03 n 01 entity 0 000 | gloss"),
     names=["offset"])
case(M, "parse_wordnet_line(w_cnt 00)", lambda: parse_wordnet_line("00001740 03 n 00 000 x | gloss"), names=["word"],
     silent_note="synset with zero words accepted")
case(M, "load_wordnet_glosses(path=missing)", lambda: load_wordnet_glosses(TMP / "nowordnet"), names=["nowordnet"])
case(M, "load_wordnet_glosses(pos=['nouns'])", lambda: load_wordnet_glosses(pos=["nouns"]), names=["pos"])
case(M, "load_wordnet_glosses(pos='noun')", lambda: load_wordnet_glosses(pos="noun"), names=["pos"])
case(M, "load_wordnet_glosses(pos=['adv','adv'], limit=None) duplicate pos",
     lambda: len(load_wordnet_glosses(pos=["adv", "adv"])), names=["pos"],
     silent_note="duplicate pos loaded twice (count)")
case(M, "load_wordnet_glosses(limit=2.0)", lambda: load_wordnet_glosses(limit=2.0), names=["limit"])
case(M, "load_wordnet_glosses(path=folder with garbage data.noun)",
     lambda: load_wordnet_glosses(write("wn/data.noun", b"garbage line without separator\n").parent, pos=["noun"]),
     names=["data.noun"])
case(M, "load_wordnet_glosses(path=folder with non-UTF-8 data.noun)",
     lambda: load_wordnet_glosses(write("wn2/data.noun", b"\xff\xfe 03 n 01 x 0 000 | g\n").parent, pos=["noun"]),
     names=["data.noun"])
case(M, "clean_osis(None)", lambda: clean_osis(None), names=["raw"])
case(M, "bible_modules(path=missing)", lambda: bible_modules(TMP / "nosword"), names=["nosword"])
case(M, "load_bible_pairs('kjv', 'kjv')", lambda: load_bible_pairs("kjv", "kjv"), names=["same"])
case(M, "load_bible_pairs('klingon')", lambda: load_bible_pairs("klingon"), names=["klingon"])
case(M, "load_bible_pairs(books='John')", lambda: load_bible_pairs(books="John"), names=["books"])
case(M, "load_bible_pairs(books=['Xyz'])", lambda: load_bible_pairs(books=["Xyz"]), names=["Xyz"])
case(M, "load_bible_pairs(limit=0)", lambda: load_bible_pairs(limit=0), names=["limit"])


def _corrupt_bible_cache(content: str):
    d = TMP / f"bcache{len(content)}"
    load_bible_pairs(books=["Jude"], cache_dir=d)
    files = sorted(d.glob("bible-*.json"))
    assert files, "no cache written"
    for f in files:
        f.write_text(content)
    return load_bible_pairs(books=["Jude"], cache_dir=d)


case(M, "load_bible_pairs(cache JSON replaced by {\"not\": \"rows\"})", lambda: _corrupt_bible_cache('{"not": "rows"}'),
     names=["bible-", "corrupt"], silent_note="dict cache iterated as rows")
case(M, "load_bible_pairs(cache JSON truncated)", lambda: _corrupt_bible_cache('[["Jude 1:1", "a'),
     names=["bible-", "corrupt"])
case(M, "load_bible_pairs(cache JSON [] (empty list))", lambda: _corrupt_bible_cache('[]'),
     names=["bible-"], silent_note="empty cache gives []")

# =============================================================================================
M = "text.nets"
case(M, "ARTransformer(10, 8, hidden=15, heads=2)", lambda: ARTransformer(10, 8, hidden=15, heads=2), names=["hidden"])
case(M, "ARTransformer(0, 8)", lambda: ARTransformer(0, 8, hidden=8, layers=1, heads=2), names=["vocab_size"])
case(M, "ARTransformer(10.5, 8)", lambda: ARTransformer(10.5, 8, hidden=8, layers=1, heads=2), names=["vocab_size"])
case(M, "TransformerDenoiser(10, 8, hidden=15, heads=2)", lambda: TransformerDenoiser(10, 8, hidden=15, heads=2),
     names=["hidden", "15"])
case(M, "TransformerDenoiser(10, 8, emb_dim=4.5)", lambda: TransformerDenoiser(10, 8, 4.5, 8, 1, 2), names=["emb_dim"])
case(M, "TokenDenoiser(10, 8, src_len=8)", lambda: TokenDenoiser(10, 8, 8, 1, 2, src_len=8), names=["src_len"])
case(M, "TokenDenoiser(10, 8, dropout=1.5)", lambda: TokenDenoiser(10, 8, 8, 1, 2, dropout=1.5), names=["dropout"])
case(M, "NoisyEmbeddingClassifier(4, 8, n_labels=0)", lambda: NoisyEmbeddingClassifier(4, 8, 0, hidden=8, layers=1, heads=2),
     names=["n_labels"])
case(M, "TokenCNNClassifier(10, 2, widths=())", lambda: TokenCNNClassifier(10, 2, hidden=8, widths=()), names=["widths"])
case(M, "TokenCNNClassifier(10, 2, pad_id=99)", lambda: TokenCNNClassifier(10, 2, hidden=8, pad_id=99), names=["pad_id"])
case(M, "AR_NET(ids as list [[1,2]])", lambda: AR_NET([[1, 2]]), names=["ids"])
case(M, "AR_NET(int32 ids)", lambda: AR_NET(torch.tensor([[1, 2]], dtype=torch.int32)), names=["torch.long"])
case(M, "AR_NET(ids [1, 0] empty row)", lambda: AR_NET(torch.zeros(1, 0, dtype=torch.long)), names=["ids"], edge=True,
     ok=lambda r: r.shape == (1, 0, V))
case(M, "AR_NET.token_nll(ids, loss_mask [1, 8] for a batch of 2)",
     lambda: AR_NET.token_nll(torch.cat([ROWS, ROWS]), ONES), names=["loss_mask"],
     silent_note="mask broadcast over the batch")
case(M, "AR_NET.token_nll(ids, NaN loss_mask)", lambda: AR_NET.token_nll(ROWS, ONES * NAN), names=["loss_mask"],
     silent_note="NaN NLL")
case(M, "AR_NET.generate(prefix, 3, eos_id=99)",
     lambda: AR_NET.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=99, generator=g()), names=["eos_id"],
     silent_note="eos_id outside the vocabulary accepted (never stops, padded with 99)")
case(M, "AR_NET.generate(prefix, 3, eos_id=3, generator=0)",
     lambda: AR_NET.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, generator=0), names=["generator"])
case(M, "AR_NET.generate(prefix, 3, eos_id=3, temperature=1e30)",
     lambda: AR_NET.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, temperature=1e30, generator=g()),
     edge=True, ok=lambda r: r.shape == (1, 3))
case(M, "AR_NET.generate(prefix, 3, eos_id=3, temperature=inf)",
     lambda: AR_NET.generate(torch.zeros(1, 1, dtype=torch.long), 3, eos_id=3, temperature=INF), names=["temperature"])
case(M, "TransformerDenoiser(x NaN, t)",
     lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.full((1, 8, 4), NAN), torch.zeros(1)), names=["x"],
     silent_note="NaN output")
case(M, "TransformerDenoiser(x long, t)",
     lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.zeros(1, 8, 4, dtype=torch.long), torch.zeros(1)), names=["x"])
case(M, "TransformerDenoiser(x, t NaN)",
     lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.zeros(1, 8, 4), torch.tensor([NAN])), names=["t"],
     silent_note="NaN time accepted")
case(M, "TransformerDenoiser(x, t=[0,1,2] for B=1)",
     lambda: TransformerDenoiser(10, 8, 4, 8, 1, 2)(torch.zeros(1, 8, 4), torch.zeros(3)), names=["t"])
case(M, "timestep_embedding(t 2-D)", lambda: timestep_embedding(torch.zeros(2, 2), 8), names=["t"])
case(M, "timestep_embedding(t, dim=0)", lambda: timestep_embedding(torch.zeros(2), 0), names=["dim"],
     silent_note="dim=0 gives an empty embedding")
case(M, "timestep_embedding(t, dim=-3)", lambda: timestep_embedding(torch.zeros(2), -3), names=["dim"])
case(M, "timestep_embedding(list [0.])", lambda: timestep_embedding([0.0], 8), names=["t"])
case(M, "NoisyEmbeddingClassifier(x longer than seq_len)",
     lambda: NoisyEmbeddingClassifier(4, 8, 2, hidden=8, layers=1, heads=2)(torch.zeros(1, 10, 4), torch.zeros(1)),
     names=["x"])
case(M, "TokenCNNClassifier(ids float)", lambda: TokenCNNClassifier(10, 2, hidden=8)(torch.zeros(1, 5)), names=["ids"])
case(M, "rotary_tables(7, head_dim=3) odd dim", lambda: rotary_tables(7, 3), names=["head dimension", "3"])
case(M, "rotary_tables(-1, 4)", lambda: rotary_tables(-1, 4), names=["length"])

# =============================================================================================
M = "text.ar"
case(M, "ARConfig(10, 8, src_len=8)", lambda: ARConfig(10, 8, hidden=8, heads=2, src_len=8), names=["src_len"])
case(M, "ARConfig(10, 8, dropout=nan)", lambda: ARConfig(10, 8, hidden=8, heads=2, dropout=NAN), names=["dropout"])
case(M, "ARConfig(10, 8, layers=0)", lambda: ARConfig(10, 8, hidden=8, heads=2, layers=0), names=["layers"])
case(M, "ARBaseline(MaskedConfig, tok)", lambda: ARBaseline(MaskedConfig(tok().vocab_size, 8, hidden=8, heads=2), tok()),
     names=["config", "ARConfig"])
case(M, "ARBaseline(ARConfig(vocab 50), tok of 300)", lambda: ARBaseline(ARConfig(50, 8, hidden=8, heads=2), tok()),
     names=["vocab_size"])
case(M, "ARBaseline(cfg, tokenizer=None)", lambda: ARBaseline(ARConfig(tok().vocab_size, 8, hidden=8, heads=2), None),
     names=["tokenizer"])
case(M, "ar.sample_ids(sources, n=0) seq2seq", lambda: tiny_ar().sample_ids(SOURCES[:1], 0, generator=g()), names=["n"],
     silent_note="n=0 ignored for a seq2seq AR")
case(M, "ar.sample_ids(sources, n=5) seq2seq", lambda: tiny_ar().sample_ids(SOURCES[:1], 5, generator=g()).shape,
     names=["n"], silent_note="n=5 ignored (one row per source)")
case(M, "ar.generate(sources, steps=0)", lambda: tiny_ar().generate(SOURCES[:1], 1, steps=0, generator=g()),
     names=["steps"], silent_note="steps=0 silently ignored (documented: steps/solver are ignored)")
case(M, "ar.generate(sources, solver='bogus')", lambda: tiny_ar().generate(SOURCES[:1], 1, solver="bogus", generator=g()),
     names=["solver"], silent_note="unknown solver silently ignored (documented as ignored)")
case(M, "ar.generate(sources, top_k=0)", lambda: tiny_ar().generate(SOURCES[:1], top_k=0, generator=g()), names=["top_k"])
case(M, "ar.generate(sources, generator=[g, g] for 1 source)",
     lambda: tiny_ar().generate(SOURCES[:1], generator=[g(), g()]), names=["generator"])
case(M, "ar.sample_ids(source too long)", lambda: tiny_ar(src_len=3).sample_ids(["The Vaults is an Italian pub by the river"]),
     names=["source"])
case(M, "ar.encode(texts, sources=None) seq2seq", lambda: tiny_ar().encode(["a b"]), names=["source"])
case(M, "ar.loss_mask(ids float)", lambda: tiny_ar().loss_mask(torch.zeros(1, 24)), names=["ids"])
case(M, "ar.loss(ids longer than seq_len)", lambda: tiny_ar().loss(torch.zeros(1, 50, dtype=torch.long)),
     names=["sequence length", "seq_len"])
case(M, "ar.nll(ids, batch_size=0)", lambda: tiny_ar().nll(torch.full((1, 48), 7), batch_size=0), names=["batch_size"])
case(M, "ARBaseline.load(missing dir)", lambda: ARBaseline.load(TMP / "no_ckpt"), names=["no_ckpt"])


def _masked_ckpt_loaded_as(cls):
    d = TMP / "masked_ckpt"
    if not d.exists():
        tiny_masked().save(d)
    return cls.load(d)


case(M, "ARBaseline.load(a MaskedDiffusionLM checkpoint)", lambda: _masked_ckpt_loaded_as(ARBaseline),
     names=["config.json"])

# =============================================================================================
M = "text.masked"
case(M, "MaskedConfig(schedule='bogus')", lambda: MaskedConfig(10, 8, hidden=8, heads=2, schedule="bogus"),
     names=["schedule"])
case(M, "MaskedDiffusionLM(MaskedConfig(schedule='bogus'), tok)",
     lambda: MaskedDiffusionLM(MaskedConfig(tok().vocab_size, 8, hidden=8, heads=2, layers=1, schedule="bogus"), tok()),
     names=["schedule"])
case(M, "masked.sample_ids(sources=None) on seq2seq", lambda: tiny_masked().sample_ids(None, 1, 1), names=["sources"])
case(M, "masked.sample_ids(['']) blank source", lambda: tiny_masked().sample_ids([""], 1, 1), names=["sources[0]"])
case(M, "masked.sample_ids(sources, steps=0)", lambda: tiny_masked().sample_ids(SOURCES[:1], 1, 0), names=["steps"])
case(M, "masked.sample_ids(sources, steps=2.0)", lambda: tiny_masked().sample_ids(SOURCES[:1], 1, 2.0), names=["steps"])
case(M, "masked.sample_ids(sources, n=3) seq2seq", lambda: tiny_masked().sample_ids(SOURCES[:1], 3, 1, generator=g()).shape,
     names=["n"], silent_note="n=3 ignored for a seq2seq masked LM")
case(M, "masked.sample_ids(sources, temperature=1e30)",
     lambda: tiny_masked().sample_ids(SOURCES[:1], 1, 1, temperature=1e30, generator=g()), edge=True,
     ok=lambda r: r.shape[0] == 1)
case(M, "masked.sample_ids(sources, solver='ddim')", lambda: tiny_masked().sample_ids(SOURCES[:1], 1, 1, solver="ddim"),
     names=["solver"])
case(M, "masked.sample_ids(sources, generator=123)", lambda: tiny_masked().sample_ids(SOURCES[:1], 1, 1, generator=123),
     names=["generator"])
case(M, "masked.sample_ids(unconditional, n=2, generator=[g])",
     lambda: tiny_masked(src_len=0).sample_ids(None, 2, 1, generator=[g()]), names=["generator"])
case(M, "masked.sample_ids(sources, truncate='yes')",
     lambda: tiny_masked(src_len=3).sample_ids(["The Vaults is an Italian pub"], 1, 1, truncate="yes", generator=g()),
     names=["truncate"], silent_note="truncate='yes' taken as True")
def _row_with_mask():
    r = torch.full((1, 48), 7)
    r[0, 36], r[0, 40], r[0, 41:] = MASK, EOS, 0
    return r


case(M, "masked.loss(ids of width seq_len-1) seq2seq", lambda: tiny_masked().loss(torch.full((1, 47), 7)), names=["ids"])
case(M, "masked.loss(ids with mask_id inside the target)", lambda: tiny_masked().loss(_row_with_mask()), names=["ids"],
     silent_note="clean rows holding <mask> scored")
case(M, "masked.loss(ids, generator=[g])", lambda: tiny_masked().loss(torch.full((1, 48), 7), generator=[g()]),
     names=["generator"])
case(M, "masked.nll(ids, samples=0)", lambda: tiny_masked().nll(_row_with_mask().clamp_min(6), samples=0), names=["samples"])
case(M, "masked.encode_pairs(sources, targets) unconditional",
     lambda: tiny_masked(src_len=0).encode_pairs(["a"], ["b"]), names=["src_len"])
case(M, "masked.encode_pairs(['a'], ['b','c'])", lambda: tiny_masked().encode_pairs(["a b"], ["b", "c"]), names=["sources"])
case(M, "masked.generate(sources, n=0)", lambda: tiny_masked().generate(SOURCES[:1], 0, 1), names=["n"])
case(M, "masked_prior(net, mask_id=99 (> vocab), ...)",
     lambda: masked_prior(TOK_NET, 99, 0, 3, torch.zeros(1, 0, dtype=torch.long), 8), names=["mask_id"])
case(M, "masked_prior(net, eos_id=-1, ...)",
     lambda: masked_prior(TOK_NET, MASK, 0, -1, torch.zeros(1, 0, dtype=torch.long), 8, generator=g()), names=["eos_id"],
     silent_note="eos_id=-1 written into the rows")
case(M, "masked_prior(net, ..., tgt_len=20 > net seq_len)",
     lambda: masked_prior(TOK_NET, MASK, 0, 3, torch.zeros(1, 0, dtype=torch.long), 20), names=["tgt_len"])
case(M, "masked_prior(net, prefix ids >= vocab)",
     lambda: masked_prior(TOK_NET, MASK, 0, 3, torch.full((1, 2), 50), 6), names=["token ids", "50"])
case(M, "masked_prior(net, prefix 1-D)", lambda: masked_prior(TOK_NET, MASK, 0, 3, torch.zeros(3, dtype=torch.long), 5),
     names=["prefix"])
case(M, "MaskedDiffusionLM.load(an ARBaseline checkpoint)", lambda: (tiny_ar().save(TMP / "ar_ckpt"),
                                                                     MaskedDiffusionLM.load(TMP / "ar_ckpt"))[1],
     names=["config.json"], silent_note="AR checkpoint loaded as a MaskedDiffusionLM")
case(M, "MaskedDiffusionLM.load(checkpoint with garbage model.safetensors)",
     lambda: (shutil.copytree(TMP / "masked_ckpt", TMP / "mc_bad", dirs_exist_ok=True),
              (TMP / "mc_bad" / "model.safetensors").write_bytes(b"garbage"),
              MaskedDiffusionLM.load(TMP / "mc_bad"))[2], names=["model.safetensors"])
case(M, "MaskedDiffusionLM.load(checkpoint with config.json = '[]')",
     lambda: (shutil.copytree(TMP / "masked_ckpt", TMP / "mc_list", dirs_exist_ok=True),
              (TMP / "mc_list" / "config.json").write_text("[]"),
              MaskedDiffusionLM.load(TMP / "mc_list"))[2], names=["config.json"])
case(M, "MaskedDiffusionLM.load(config seq_len changed 48->50)",
     lambda: (shutil.copytree(TMP / "masked_ckpt", TMP / "mc_len", dirs_exist_ok=True),
              edit_json(TMP / "mc_len" / "config.json", lambda m: {**m, "config": {**m["config"], "seq_len": 50}}),
              MaskedDiffusionLM.load(TMP / "mc_len"))[2], names=["model.safetensors"])
case(M, "MaskedDiffusionLM.load(config vocab_size wrong for the tokenizer)",
     lambda: (shutil.copytree(TMP / "masked_ckpt", TMP / "mc_voc", dirs_exist_ok=True),
              edit_json(TMP / "mc_voc" / "config.json", lambda m: {**m, "config": {**m["config"], "vocab_size": 301}}),
              MaskedDiffusionLM.load(TMP / "mc_voc"))[2], names=["config.json", "vocab_size"])


def _nan_weights_ckpt():
    from safetensors.torch import load_file, save_file
    d = TMP / "mc_nan"
    shutil.copytree(TMP / "masked_ckpt", d, dirs_exist_ok=True)
    st = load_file(str(d / "model.safetensors"))
    k = next(iter(st))
    st[k] = torch.full_like(st[k], NAN)
    save_file(st, str(d / "model.safetensors"))
    return MaskedDiffusionLM.load(d)


case(M, "MaskedDiffusionLM.load(NaN weights in model.safetensors)", _nan_weights_ckpt,
     names=["model.safetensors"], silent_note="NaN weights loaded")

# =============================================================================================
M = "text.masked_objective"
case(M, "length_layout(rows, src_len=8 (=width), eos)", lambda: length_layout(ROWS, 8, 3), names=["src_len"])
case(M, "length_layout(rows without EOS, 0, 3)", lambda: length_layout(torch.full((1, 8), 7), 0, 3), names=["eos"])
case(M, "length_layout(rows, 0, eos_id=99)", lambda: length_layout(ROWS, 0, 99), names=["EOS", "99"])
case(M, "length_layout(rows, -1, 3)", lambda: length_layout(ROWS, -1, 3), names=["src_len"])
case(M, "masked_nelbo(net, proc, rows, t NaN)",
     lambda: masked_nelbo(TOK_NET, MaskedDiffusion(V, MASK), ROWS, src_len=0, eos_id=3, t=torch.tensor([NAN], dtype=torch.float64)),
     names=["t"], silent_note="NaN time accepted")
case(M, "masked_nelbo(net, proc, rows, t=1.5 (>1))",
     lambda: masked_nelbo(TOK_NET, MaskedDiffusion(V, MASK), ROWS, src_len=0, eos_id=3, t=torch.tensor([1.5], dtype=torch.float64)),
     names=["t"], silent_note="t outside [0, 1] accepted")
case(M, "masked_nelbo(net, proc of another vocab (V=20), rows)",
     lambda: masked_nelbo(TOK_NET, MaskedDiffusion(20, MASK), ROWS, src_len=0, eos_id=3, generator=g()),
     names=["vocab"], silent_note="process/net vocab mismatch accepted")

# =============================================================================================
M = "text.decoding"
FREE = (torch.zeros(1, 6, dtype=torch.long), torch.zeros(1, 6, dtype=torch.bool))
case(M, "confidence_sample(model, x list, fixed)", lambda: confidence_sample(flat_logits, [[0] * 6], FREE[1], steps=2, mask_id=MASK),
     names=["x"])
case(M, "confidence_sample(model, x, fixed int tensor)",
     lambda: confidence_sample(flat_logits, FREE[0], FREE[1].long(), steps=2, mask_id=MASK), names=["fixed"])
case(M, "confidence_sample(model, x, fixed, steps=0)", lambda: confidence_sample(flat_logits, *FREE, steps=0, mask_id=MASK),
     names=["steps"])
case(M, "confidence_sample(model, x all fixed)",
     lambda: confidence_sample(flat_logits, torch.full((1, 6), 7), torch.ones(1, 6, dtype=torch.bool), steps=2, mask_id=MASK),
     edge=True, ok=lambda r: bool((r == 7).all()))
case(M, "confidence_sample(model, x, fixed, mask_id=V+3 (outside logits))",
     lambda: confidence_sample(flat_logits, *FREE, steps=2, mask_id=V + 3), names=["mask_id"])
case(M, "confidence_sample(model returning +inf logits)",
     lambda: confidence_sample(lambda z, t: torch.full((*z.shape, V), INF), *FREE, steps=2, mask_id=MASK, generator=g()),
     names=["logits"], silent_note="inf logits decoded")
case(M, "confidence_sample(model returning a list)",
     lambda: confidence_sample(lambda z, t: [[0.0]], *FREE, steps=2, mask_id=MASK), names=["model"])
case(M, "confidence_sample(..., steps=10**6)", lambda: confidence_sample(flat_logits, *FREE, steps=10**6, mask_id=MASK,
                                                                        generator=g()),
     edge=True, ok=lambda r: not (r == MASK).any())
case(M, "confidence_sample(..., generator=[g,g] for B=1)",
     lambda: confidence_sample(flat_logits, *FREE, steps=2, mask_id=MASK, temperature=1.0, generator=[g(), g()]),
     names=["generator"])
case(M, "uniform_draws((0, 3), None)", lambda: uniform_draws((0, 3), None), edge=True, ok=lambda r: r.shape == (0, 3))
case(M, "uniform_draws((2, -1), None)", lambda: uniform_draws((2, -1), None), names=["shape"])

# =============================================================================================
M = "text.likelihood"
case(M, "ar_nll(net, rows, mask all zero)", lambda: ar_nll(AR_NET, ROWS, torch.zeros(1, 8)), names=["loss_mask"])
case(M, "ar_nll(net, rows, mask [1, 7] wrong shape)", lambda: ar_nll(AR_NET, ROWS, torch.ones(1, 7)), names=["loss_mask"])
case(M, "ar_nll(net, rows, mask as list)", lambda: ar_nll(AR_NET, ROWS, [[1] * 8]), names=["loss_mask"])
case(M, "ar_nll(net, rows width 9 > seq_len 8)", lambda: ar_nll(AR_NET, torch.full((1, 9), 6), torch.ones(1, 9)),
     names=["ids"])
case(M, "ar_nll(net=TokenDenoiser (no token_nll))", lambda: ar_nll(TOK_NET, ROWS, ONES), names=["net"])
case(M, "ar_nll(net, rows width 1)", lambda: ar_nll(AR_NET, torch.full((1, 1), 6), torch.ones(1, 1)), names=["loss_mask"])
case(M, "masked_elbo(net, process=None, ...)", lambda: masked_elbo(TOK_NET, None, ROWS, src_len=0, eos_id=3), names=["process"])
case(M, "masked_elbo(rows holding the mask id)",
     lambda: masked_elbo(TOK_NET, MaskedDiffusion(V, MASK), torch.tensor([[6, MASK, 8, 3, 0, 0, 0, 0]]), src_len=0, eos_id=3,
                         samples=1, generator=g()), names=["ids"], silent_note="mask id inside clean rows scored")
case(M, "masked_elbo(rows, src_len=0, eos_id=3, generator=0)",
     lambda: masked_elbo(TOK_NET, MaskedDiffusion(V, MASK), ROWS, src_len=0, eos_id=3, generator=0), names=["generator"])
case(M, "masked_elbo(row without EOS)",
     lambda: masked_elbo(TOK_NET, MaskedDiffusion(V, MASK), torch.full((1, 8), 7), src_len=0, eos_id=3, samples=1),
     names=["eos"])
case(M, "HeldOutNLL(0.0, 0, 0).per_token", lambda: HeldOutNLL(0.0, 0, 0).per_token, names=["tokens"])
case(M, "HeldOutNLL(1e30, 1, 1).perplexity", lambda: HeldOutNLL(1e30, 1, 1).perplexity, names=["perplexity"])

# =============================================================================================
M = "text.diffusion_lm"
case(M, "EmbeddingDiffusionConfig(schedule='bogus') -> DiffusionLM",
     lambda: DiffusionLM(EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10,
                                                  schedule="bogus"), tok()), names=["schedule"])
case(M, "EmbeddingDiffusionConfig(T=1)", lambda: DiffusionLM(EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1,
                                                                                       heads=2, emb_dim=4, T=1), tok())
     .sample_ids(1, 1, generator=g()), edge=True, ok=lambda r: r.shape == (1, 8), names=["EmbeddingDiffusionConfig.T"])
case(M, "DiffusionLM(cfg, tok, attributes='food : Italian') str", lambda: DiffusionLM(
    EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2, emb_dim=4, T=10), tok(), "food : Italian").attributes,
     names=["attributes"], silent_note="a str split into one attribute per character")
case(M, "DiffusionLM(cfg, tok, attributes=['food : Italian', 'food : Italian']) dup",
     lambda: tiny_dlm(("food : Italian", "food : Italian")).attributes, names=["attributes"],
     silent_note="duplicate attributes accepted")
case(M, "dlm.sample_ids(1, steps=0)", lambda: tiny_dlm().sample_ids(1, 0, generator=g()), names=["steps"])
case(M, "dlm.sample_ids(1, steps=2.5)", lambda: tiny_dlm().sample_ids(1, 2.5, generator=g()), names=["steps"])
case(M, "dlm.sample_ids(1, steps=50 > T=10)", lambda: tiny_dlm().sample_ids(1, 50, generator=g()), names=["steps"])
case(M, "dlm.sample_ids(1, solver=None)", lambda: tiny_dlm().sample_ids(1, 2, None), names=["solver"])
case(M, "dlm.sample_ids(1, clamp=1)", lambda: tiny_dlm().sample_ids(1, 2, clamp=1), names=["clamp"])
case(M, "dlm.sample_ids(1, control=3)", lambda: tiny_dlm().sample_ids(1, 2, control=3, generator=g()), names=["control"])
case(M, "dlm.sample_ids(1, control on a model without attributes)",
     lambda: tiny_dlm(()).sample_ids(1, 2, control="food : Italian"), names=["control"])
case(M, "dlm.sample_ids(1, control, control_steps=0)",
     lambda: tiny_dlm().sample_ids(1, 2, control="food : Italian", control_steps=0), names=["control_steps"])
case(M, "dlm.sample_ids(1, control, control_step_size=inf)",
     lambda: tiny_dlm().sample_ids(1, 2, control="food : Italian", control_step_size=INF), names=["control_step_size"])
case(M, "dlm.sample_ids(1, control, control_step_size=1e30)",
     lambda: tiny_dlm().sample_ids(1, 2, control="food : Italian", control_step_size=1e30, generator=g()),
     names=["control_step_size"], silent_note="huge step size: sampled")
case(M, "dlm.sample_ids(1, infill numpy array)", lambda: tiny_dlm().sample_ids(1, 2, infill=np.full((1, 8), -1)),
     names=["infill"])
case(M, "dlm.sample_ids(1, infill all -1)", lambda: tiny_dlm().sample_ids(1, 2, infill=torch.full((1, 8), -1), generator=g()),
     edge=True, ok=lambda r: r.shape == (1, 8))
case(M, "dlm.sample_ids(2, generator=[g])", lambda: tiny_dlm().sample_ids(2, 2, generator=[g()]), names=["generator"])
case(M, "dlm.generate(['food : Italian', 7])", lambda: tiny_dlm().generate(["food : Italian", 7], 1, 1, generator=g()),
     names=["control"])
case(M, "dlm.generate(controls={'food : Italian'}) set",
     lambda: tiny_dlm().generate({"food : Italian"}, 1, 1, generator=g()), names=["controls"])
case(M, "dlm.loss(ids longer than seq_len)", lambda: tiny_dlm().loss(torch.full((1, 12), 7)), names=["sequence length", "seq_len"])
case(M, "dlm.loss(ids float)", lambda: tiny_dlm().loss(torch.zeros(1, 8)), names=["ids"])
case(M, "dlm.classifier_loss(ids, labels NaN)",
     lambda: tiny_dlm().classifier_loss(torch.full((1, 8), 7), torch.full((1, 2), NAN)), names=["labels"])
case(M, "dlm.classifier_loss(ids, labels [1, 3] wrong K)",
     lambda: tiny_dlm().classifier_loss(torch.full((1, 8), 7), torch.ones(1, 3)), names=["labels"])
case(M, "dlm.restrict_vocabulary(rows with one id)", lambda: tiny_dlm().restrict_vocabulary(torch.full((2, 8), 7)),
     names=["rows"])
case(M, "dlm.restrict_vocabulary(rows float)", lambda: tiny_dlm().restrict_vocabulary(torch.zeros(2, 8)), names=["rows"])
case(M, "round_to_tokens(x [1, 3, 4], weight [10, 5])", lambda: round_to_tokens(torch.zeros(1, 3, 4), torch.zeros(10, 5)),
     names=["dim"])
case(M, "round_to_tokens(x, weight NaN)", lambda: round_to_tokens(torch.zeros(1, 3, 4), torch.full((10, 4), NAN)),
     names=["weight"])
case(M, "round_to_tokens(x 1e30, weight)", lambda: round_to_tokens(torch.full((1, 3, 4), 1e30), torch.randn(10, 4)),
     names=["x"], silent_note="1e30 embeddings (d2 overflow to inf) rounded")
case(M, "round_to_tokens(x 2-D)", lambda: round_to_tokens(torch.zeros(3, 4), torch.randn(10, 4)), names=["x"])
case(M, "nearest_token(x, weight [0, 4])", lambda: nearest_token(torch.zeros(2, 4), torch.zeros(0, 4)), names=["weight"])
case(M, "partial_noising(x_t, x0, mask NaN)",
     lambda: partial_noising(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), torch.full((1, 3), NAN)), names=["noise_mask"],
     silent_note="NaN mask treated as 1")
case(M, "partial_noising(x_t, x0, mask list)", lambda: partial_noising(torch.zeros(1, 3, 4), torch.ones(1, 3, 4), [[1, 0, 1]]),
     names=["noise_mask"])
case(M, "embedding_diffusion_loss(net, proc, ids, noise_mask=0.5s)",
     lambda: embedding_diffusion_loss(tiny_dlm().net, tiny_dlm().process, torch.full((1, 8), 7),
                                      noise_mask=torch.full((1, 8), 0.5)), names=["noise_mask"])
case(M, "ControlHook(clf, label float tensor, proc)",
     lambda: ControlHook(tiny_dlm().classifier, torch.tensor([0.0]), tiny_dlm().process), names=["label"])
case(M, "ControlHook(clf, label [5] >= n_labels)",
     lambda: ControlHook(tiny_dlm().classifier, torch.tensor([5]), tiny_dlm().process), names=["label"])
case(M, "DiffusionLM.load(a DiffuSeq checkpoint)",
     lambda: (tiny_diffuseq().save(TMP / "dseq_ckpt"), DiffusionLM.load(TMP / "dseq_ckpt"))[1], names=["attributes"])
case(M, "DiffusionLM.load(config allowed_ids=[-1, 3])",
     lambda: (tiny_dlm().save(TMP / "dlm_ck"),
              edit_json(TMP / "dlm_ck" / "config.json", lambda m: {**m, "allowed_ids": [-1, 3]}),
              DiffusionLM.load(TMP / "dlm_ck"))[2], names=["allowed_ids"])
case(M, "DiffusionLM.load(config T='10' string)",
     lambda: (tiny_dlm().save(TMP / "dlm_ck2"),
              edit_json(TMP / "dlm_ck2" / "config.json", lambda m: {**m, "config": {**m["config"], "T": "10"}}),
              DiffusionLM.load(TMP / "dlm_ck2"))[2], names=["T", "config.json"])
case(M, "DiffusionLM.load(truncated tokenizer.model)",
     lambda: (tiny_dlm().save(TMP / "dlm_ck3"),
              (TMP / "dlm_ck3" / "tokenizer.model").write_bytes(tok().model_proto[:100]),
              DiffusionLM.load(TMP / "dlm_ck3"))[2], names=["tokenizer.model"])
case(M, "DiffusionLM.load(path=123)", lambda: DiffusionLM.load(123), names=["directory"])

# =============================================================================================
M = "text.diffuseq"
case(M, "DiffuSeq(cfg src_len=1)", lambda: DiffuSeq(EmbeddingDiffusionConfig(tok().vocab_size, 8, hidden=8, layers=1, heads=2,
                                                                           emb_dim=4, T=10, src_len=1), tok()), names=["src_len"])
case(M, "encode_sources(tok, ['a'], src_len=1)", lambda: encode_sources(tok(), ["a b"], 1), names=["src_len"])
case(M, "encode_sources(tok, ['a'], src_len=2.0)", lambda: encode_sources(tok(), ["a b"], 2.0), names=["src_len"])
case(M, "dseq.sample_ids(sources, steps=0)", lambda: tiny_diffuseq().sample_ids(SOURCES[:1], 0), names=["steps"])
case(M, "dseq.sample_ids([], steps=1)", lambda: tiny_diffuseq().sample_ids([], 1), names=["sources"])
case(M, "dseq.sample_ids(sources, clamp='no')", lambda: tiny_diffuseq().sample_ids(SOURCES[:1], 1, clamp="no", generator=g()),
     names=["clamp"], silent_note="clamp='no' taken as True")
case(M, "dseq.generate(sources, mbr=0)", lambda: tiny_diffuseq().generate(SOURCES[:1], mbr=0), names=["mbr"])
case(M, "dseq.generate(sources, n=1, mbr=2, generator=[g, g])",
     lambda: tiny_diffuseq().generate(SOURCES[:1], 1, 1, mbr=2, generator=[g(), g()]), edge=True,
     ok=lambda r: len(r) == 1, names=["generator"])
case(M, "dseq.loss(ids width 40 != seq_len 48)", lambda: tiny_diffuseq().loss(torch.full((1, 40), 7)), names=["ids"])
case(M, "dseq.encode_pairs(sources, targets='abc' str)", lambda: tiny_diffuseq().encode_pairs(["x", "y", "z"], "abc"),
     names=["targets"])
case(M, "Anchor(values [1,3,4], mask [1,4])", lambda: Anchor(torch.zeros(1, 3, 4), torch.ones(1, 4)), names=["mask"])
case(M, "Anchor(values NaN, mask)", lambda: Anchor(torch.full((1, 3, 4), NAN), torch.ones(1, 3))(torch.zeros(1, 3, 4), 0.5),
     names=["values"], silent_note="NaN anchor values imposed")
case(M, "mbr_select([])", lambda: mbr_select([]), names=["candidates"])
case(M, "mbr_select(['', ''])", lambda: mbr_select(["", ""]), edge=True, ok=lambda r: r in (0, 1))
case(M, "mbr_select('abc')", lambda: mbr_select("abc"), names=["candidates"])

# =============================================================================================
M = "text.metrics"
case(M, "corpus_bleu(['a'], ['a']) refs as list of str", lambda: tm.corpus_bleu(["a b"], ["a b"]), names=["refs[0]"])
case(M, "corpus_bleu([], [])", lambda: tm.corpus_bleu([], []), names=["hyp"])
case(M, "corpus_bleu(['a'], [['a'], ['b']]) length mismatch", lambda: tm.corpus_bleu(["a"], [["a"], ["b"]]), names=["hypotheses"])
case(M, "corpus_bleu(['a'], [[]])", lambda: tm.corpus_bleu(["a"], [[]]), names=["refs[0]"])
case(M, "corpus_bleu('abc', [['a'],['b'],['c']]) str hyps", lambda: tm.corpus_bleu("abc", [["a"], ["b"], ["c"]]),
     names=["hyps"], silent_note="a str of hypotheses scored per character")
case(M, "corpus_bleu([''], [['']]) empty strings", lambda: tm.corpus_bleu([""], [[""]]), edge=True,
     ok=lambda r: 0 <= r <= 100)
case(M, "sentence_bleu('a b', [['a','b']]) str hyp", lambda: tm.sentence_bleu("a b", [["a", "b"]]), names=["hyp"])
case(M, "sentence_bleu(['a'], [['a']], k=inf)", lambda: tm.sentence_bleu(["a"], [["a"]], k=INF), names=["k"])
case(M, "sentence_bleu(['a','b'], [['a','c']], k=1e-300)", lambda: tm.sentence_bleu(["a", "b"], [["a", "c"]], k=1e-300),
     edge=True, ok=lambda r: 0 <= r <= 1)
case(M, "sentence_bleu([1, 2], [[1, 2]]) int tokens", lambda: tm.sentence_bleu([1, 2], [[1, 2]]), names=["hyp"],
     silent_note="non-string tokens scored")
case(M, "sentence_bleu(['a'], [['a']], max_n=10**6)", lambda: tm.sentence_bleu(["a", "b"], [["a", "b"]], max_n=1000),
     edge=True, ok=lambda r: 0 <= r <= 1)
case(M, "mean_sentence_bleu(['a'], [['a']]*2)", lambda: tm.mean_sentence_bleu(["a"], [["a"], ["a"]]), names=["hypotheses"])
case(M, "rouge_l([None], [['a']])", lambda: tm.rouge_l([None], [["a"]]), names=["hyps[0]"])
case(M, "rouge_l(['a'], [['a', None]])", lambda: tm.rouge_l(["a"], [["a", None]]), names=["refs[0]"])
case(M, "self_bleu(['only one'])", lambda: tm.self_bleu(["only one"]), names=["texts"])
case(M, "self_bleu(['', ''])", lambda: tm.self_bleu(["", ""]), edge=True, ok=lambda r: 0 <= r <= 1)
case(M, "distinct_n(['a b'], 0)", lambda: tm.distinct_n(["a b"], 0), names=["n"])
case(M, "distinct_n(['a b'], 5) n > every text", lambda: tm.distinct_n(["a b"], 5), edge=True, ok=lambda r: r == 0.0)
case(M, "distinct_n('a b c', 1) str", lambda: tm.distinct_n("a b c", 1), names=["texts"])
case(M, "control_success(clf, ids, label=-1)",
     lambda: tm.control_success(TokenCNNClassifier(V, 3, hidden=8), ROWS, -1), names=["label"])
case(M, "control_success(clf, ids, label=7 >= K=3)",
     lambda: tm.control_success(TokenCNNClassifier(V, 3, hidden=8), ROWS, 7), names=["label"])
case(M, "control_success(clf, ids, label tensor [0, 1] for B=1)",
     lambda: tm.control_success(TokenCNNClassifier(V, 3, hidden=8), ROWS, torch.tensor([0, 1])), names=["label"])
case(M, "control_success(clf, ids [0, 8])",
     lambda: tm.control_success(TokenCNNClassifier(V, 3, hidden=8), torch.zeros(0, 8, dtype=torch.long), 0), names=["ids"])
case(M, "control_success(clf returning NaN logits, ids, 0)",
     lambda: tm.control_success(lambda ids: torch.full((len(ids), 2), NAN), ROWS, 0), names=["logits"],
     silent_note="NaN logits -> success 0.0")
case(M, "perplexity(lm, ids, mask float 0.5)", lambda: tm.perplexity(AR_NET, ROWS, ONES * 0.5), names=["loss_mask"])
case(M, "perplexity(lm=None, ids, mask)", lambda: tm.perplexity(None, ROWS, ONES), names=["lm"])
case(M, "perplexity(lm whose NLL is 1e30)",
     lambda: tm.perplexity(type("L", (), {"token_nll": lambda self, i, m: torch.full((len(i),), 1e30)})(), ROWS, ONES),
     names=["perplexity"])

# =============================================================================================
M = "text.synthetic"
case(M, "MarkovChain2.random(1)", lambda: MarkovChain2.random(1), names=["K"])
case(M, "MarkovChain2.random(3, concentration=0)", lambda: MarkovChain2.random(3, 0), names=["concentration"])
case(M, "MarkovChain2.random(3, concentration=nan)", lambda: MarkovChain2.random(3, NAN), names=["concentration"])
case(M, "MarkovChain2.random(3, seed=-1)", lambda: MarkovChain2.random(3, seed=-1), names=["seed"])
case(M, "MarkovChain2(np ones/3 [3,3,3])", lambda: MarkovChain2(np.ones((3, 3, 3)) / 3), edge=True, ok=lambda m: m.K == 3)
case(M, "MarkovChain2(P with NaN)", lambda: MarkovChain2(torch.full((3, 3, 3), NAN)), names=["transition"])
case(M, "MarkovChain2(P rows summing to 2)", lambda: MarkovChain2(torch.ones(3, 3, 3) * 2 / 3), names=["transition"])
case(M, "MarkovChain2(P [3,3,4])", lambda: MarkovChain2(torch.ones(3, 3, 4) / 4), names=["transition"])
case(M, "MarkovChain2('abc')", lambda: MarkovChain2("abc"), names=["transition"])
case(M, "mc.sequence_entropy(1)", lambda: MarkovChain2.random(3).sequence_entropy(1), names=["length"])
case(M, "mc.log_prob(x [2, 1])", lambda: MarkovChain2.random(3).log_prob(torch.zeros(2, 1, dtype=torch.long)), names=["x"])
case(M, "mc.log_prob(x float)", lambda: MarkovChain2.random(3).log_prob(torch.zeros(2, 4)), names=["x"])
case(M, "mc.posterior_marginals(z with id 7 (not state nor mask))",
     lambda: MarkovChain2.random(3).posterior_marginals(torch.tensor([[0, 7, 1]]), 9), names=["z"])
case(M, "mc.posterior_marginals(all masked)", lambda: MarkovChain2.random(3).posterior_marginals(torch.full((1, 4), 9), 9),
     edge=True, ok=lambda r: torch.allclose(r.sum(-1), torch.ones(1, 4, dtype=torch.float64)))
case(M, "mc.posterior_marginals(impossible visible pair under a sparse P)",
     lambda: MarkovChain2(torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])).posterior_marginals(
         torch.tensor([[1, 1, 9]]), 9), names=["z"], silent_note="zero-probability evidence")
case(M, "mc.sample(0, 4)", lambda: MarkovChain2.random(3).sample(0, 4), names=["n"])
case(M, "mc.sample(2, 4, generator=5)", lambda: MarkovChain2.random(3).sample(2, 4, generator=5), names=["generator"])

# =============================================================================================
M = "text.pipelines"
case(M, "MaskedTextPipeline(ARBaseline)", lambda: MaskedTextPipeline(tiny_ar()), names=["model"])
case(M, "ARTextPipeline(MaskedDiffusionLM)", lambda: ARTextPipeline(tiny_masked()), names=["model"])
case(M, "MaskedTextPipeline(unconditional model)", lambda: MaskedTextPipeline(tiny_masked(src_len=0)), names=["src_len"])
case(M, "MaskedTextPipeline(model, steps=0)", lambda: MaskedTextPipeline(tiny_masked(), steps=0), names=["steps"])
case(M, "MaskedTextPipeline(model, solver='ddim')", lambda: MaskedTextPipeline(tiny_masked(), solver="ddim"), names=["solver"])
case(M, "MaskedTextPipeline(model, temperature=-1)", lambda: MaskedTextPipeline(tiny_masked(), temperature=-1), names=["temperature"])
case(M, "MaskedTextPipeline(model, temperature=nan)", lambda: MaskedTextPipeline(tiny_masked(), temperature=NAN), names=["temperature"])
case(M, "MaskedTextPipeline(model, truncate=1)", lambda: MaskedTextPipeline(tiny_masked(), truncate=1), names=["truncate"])
case(M, "ARTextPipeline(model, top_k=10**6)", lambda: ARTextPipeline(tiny_ar(), top_k=10**6), names=["top_k"])
case(M, "ARTextPipeline(model, top_k=2.0)", lambda: ARTextPipeline(tiny_ar(), top_k=2.0), names=["top_k"])
case(M, "ARTextPipeline(model, card='x')", lambda: ARTextPipeline(tiny_ar(), card="x"), names=["card"],
     silent_note="card='x' stored")
case(M, "masked pipe('one source str')", lambda: MaskedTextPipeline(tiny_masked(), steps=1)("name : Zizzi"), names=["sources"])
case(M, "masked pipe([])", lambda: MaskedTextPipeline(tiny_masked(), steps=1)([]), names=["sources"])
case(M, "masked pipe([''])", lambda: MaskedTextPipeline(tiny_masked(), steps=1)([""]), names=["sources[0]"])
case(M, "masked pipe(sources, steps=0)", lambda: MaskedTextPipeline(tiny_masked(), steps=1)(SOURCES[:1], steps=0), names=["steps"])
case(M, "masked pipe(sources, temperature=inf)",
     lambda: MaskedTextPipeline(tiny_masked(), steps=1)(SOURCES[:1], temperature=INF), names=["temperature"])
case(M, "masked pipe(sources, generator=0)", lambda: MaskedTextPipeline(tiny_masked(), steps=1)(SOURCES[:1], generator=0),
     names=["generator"])
case(M, "masked pipe(2 sources, generator=[g])",
     lambda: MaskedTextPipeline(tiny_masked(), steps=1)(SOURCES, generator=[g()]), names=["generator"])
case(M, "masked pipe(np.array of sources)",
     lambda: MaskedTextPipeline(tiny_masked(), steps=1)(np.array(SOURCES[:1]), generator=g()), names=["sources"])
case(M, "masked pipe(source too long)", lambda: MaskedTextPipeline(tiny_masked(src_len=3), steps=1)(
    ["The Vaults is an Italian pub"]), names=["source"])
case(M, "ar pipe(sources, top_k=0)", lambda: ARTextPipeline(tiny_ar())(SOURCES[:1], top_k=0), names=["top_k"])
case(M, "ar pipe(sources, top_k=10**6)", lambda: ARTextPipeline(tiny_ar())(SOURCES[:1], top_k=10**6), names=["top_k"])
case(M, "ar pipe(sources, truncate='no')", lambda: ARTextPipeline(tiny_ar(src_len=3))(["The Vaults is an Italian pub"],
                                                                                       truncate="no", generator=g()),
     names=["truncate"], silent_note="truncate='no' taken as True")
case(M, "masked pipe(sources, truncate='no')",
     lambda: MaskedTextPipeline(tiny_masked(src_len=3), steps=1)(["The Vaults is an Italian pub"], truncate="no",
                                                                 generator=g()),
     names=["truncate"], silent_note="truncate='no' taken as True")
case(M, "MaskedTextPipeline.from_pretrained(missing)", lambda: MaskedTextPipeline.from_pretrained(TMP / "nopipe"),
     names=["nopipe"])
case(M, "MaskedTextPipeline.from_pretrained(an ARTextPipeline folder)",
     lambda: MaskedTextPipeline.from_pretrained(saved_pipe("ar")), names=["ARTextPipeline"])
case(M, "ARTextPipeline.from_pretrained(a MaskedTextPipeline folder)",
     lambda: ARTextPipeline.from_pretrained(saved_pipe("masked")), names=["MaskedTextPipeline"])


def _pipe_edit(kind, name, rel, fn=None, data=None):
    d = copy_pipe(kind, name)
    if fn is not None:
        edit_json(d / rel, fn)
    else:
        (d / rel).write_bytes(data)
    return d


def _rehash(d: Path):
    """Recompute the index's sha256/bytes after a deliberate edit (a valid-looking but wrong folder)."""
    import hashlib
    idx_file = next(p for p in d.iterdir() if p.is_file() and p.suffix == ".json")
    idx = json.loads(idx_file.read_text())
    for f in idx["files"]:
        data = (d / f).read_bytes()
        idx["files"][f] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} \
            if isinstance(idx["files"][f], dict) else idx["files"][f]
    idx_file.write_text(json.dumps(idx))
    return d


case(M, "from_pretrained(sampler/config.json steps=0, index re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_steps", "sampler/config.json",
                                                                   lambda c: {**c, "steps": 0}))), names=["steps", "sampler"])
case(M, "from_pretrained(sampler/config.json missing 'solver', re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_nosolver", "sampler/config.json",
                                                                   lambda c: {k: v for k, v in c.items() if k != "solver"}))),
     names=["solver"])
case(M, "from_pretrained(process/config.json t_eps=1.5, re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_teps", "process/config.json",
                                                                   lambda c: {**c, "t_eps": 1.5}))),
     names=["t_eps"], silent_note="t_eps=1.5 (outside (0, 1)) loaded")
case(M, "from_pretrained(tokenizer/config.json special_ids changed, re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_spec", "tokenizer/config.json",
                                                                   lambda c: {**c, "special_ids": {**c["special_ids"], "eos": 9}}))),
     names=["special ids"])
case(M, "from_pretrained(denoiser/config.json hidden 8->16, re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_hidden", "denoiser/config.json",
                                                                   lambda c: {**c, "hidden": 16}))), names=["denoiser"])
case(M, "from_pretrained(ar transformer/config.json missing 'heads', re-hashed)",
     lambda: ARTextPipeline.from_pretrained(_rehash(_pipe_edit("ar", "p_heads", "transformer/config.json",
                                                               lambda c: {k: v for k, v in c.items() if k != "heads"}))),
     names=["heads"])
case(M, "from_pretrained(garbage tokenizer weights, not re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_pipe_edit("masked", "p_tokw", "tokenizer/weights.safetensors", data=b"junk")),
     names=["tokenizer"])
case(M, "from_pretrained(garbage tokenizer weights, re-hashed)",
     lambda: MaskedTextPipeline.from_pretrained(_rehash(_pipe_edit("masked", "p_tokw2", "tokenizer/weights.safetensors",
                                                                   data=b"junk"))), names=["tokenizer"])
case(M, "from_pretrained(path=None)", lambda: MaskedTextPipeline.from_pretrained(None), names=["path"])
case(M, "from_run(missing dir)", lambda: MaskedTextPipeline.from_run(TMP / "norun"), names=["norun"])
case(M, "MaskedTextPipeline.from_run(an AR run dir)", lambda: MaskedTextPipeline.from_run(TMP / "ar_ckpt"), names=["ar_ckpt"],
     silent_note="an AR run loaded as a masked pipeline")
case(M, "ARTextPipeline.from_run(a masked run dir)", lambda: ARTextPipeline.from_run(TMP / "masked_ckpt"), names=["masked_ckpt"],
     silent_note="a masked run loaded as an AR pipeline")
case(M, "save_pretrained(onto an existing regular file)",
     lambda: MaskedTextPipeline(tiny_masked(), steps=1).save_pretrained(write("afile2", "x")), names=["afile2"])
case(M, "tokenizer_from(Component class 'BPE')",
     lambda: tokenizer_from(type(tokenizer_component(tok()))({"class": "BPE"}, {})), names=["class"])
case(M, "pipe.source_tokens('')", lambda: MaskedTextPipeline(tiny_masked(), steps=1).source_tokens(""), names=["text"])

# =============================================================================================
M = "text.commands"
SRC = write("cmd/sources.txt", "\n".join(SOURCES) + "\n")
OUT = TMP / "cmd" / "out.txt"
MP = str(saved_pipe("masked"))
AP = str(saved_pipe("ar"))
case(M, "polydiff text (no flags)", lambda: cli("text"), names=["--input"])
case(M, "polydiff text --input missing", lambda: cli("text", "--model", MP, "--input", str(TMP / "nosrc.txt"), "--output", str(OUT)),
     names=["--input", "nosrc.txt"])
case(M, "polydiff text --input <a directory>", lambda: cli("text", "--model", MP, "--input", str(TMP), "--output", str(OUT)),
     names=["--input"])
case(M, "polydiff text --input garbage bytes", lambda: cli("text", "--model", MP, "--input",
                                                           str(write("cmd/bin.txt", b"\xff\xfe\x00garbage")), "--output", str(OUT)),
     names=["--input"])
case(M, "polydiff text --input empty file", lambda: (cli("text", "--model", MP, "--input", str(write("cmd/empty.txt", "")),
                                                         "--output", str(OUT), "--steps", "1"), OUT.read_text())[1],
     edge=True, ok=lambda s: s == "")
case(M, "polydiff text --output into missing folder",
     lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(TMP / "no" / "o.txt")), names=["--output"])
case(M, "polydiff text --output <a directory>", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(TMP)),
     names=["--output"])
case(M, "polydiff text --model missing", lambda: cli("text", "--model", str(TMP / "nomodel"), "--input", str(SRC), "--output",
                                                     str(OUT)), names=["--model"])
case(M, "polydiff text --model <a DiffusionLM checkpoint dir>",
     lambda: cli("text", "--model", str(TMP / "dlm_ck"), "--input", str(SRC), "--output", str(OUT)), names=["--model"])
case(M, "polydiff text --batch-size 0", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                    "--batch-size", "0"), names=["--batch-size"])
case(M, "polydiff text --batch-size 2.5", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                      "--batch-size", "2.5"), names=["--batch-size"])
case(M, "polydiff text --temperature nan", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                       "--temperature", "nan"), names=["--temperature"])
case(M, "polydiff text --temperature -1", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                      "--temperature", "-1"), names=["--temperature"])
case(M, "polydiff text --steps 0", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                               "--steps", "0"), names=["--steps"])
case(M, "polydiff text --solver ddim", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                   "--solver", "ddim"), names=["--solver"])
case(M, "polydiff text --seed -1", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                               "--seed", "-1"), names=["--seed"])
case(M, "polydiff text --seed 2**70", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                  "--seed", str(2**70), "--steps", "1"), names=["--seed"], edge=True)
case(M, "polydiff text --device cuda:7", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                     "--device", "cuda:7"), names=["--device"])
case(M, "polydiff text --device tpu", lambda: cli("text", "--model", MP, "--input", str(SRC), "--output", str(OUT),
                                                  "--device", "tpu"), names=["--device"])
case(M, "polydiff text (AR pipeline) --steps 3", lambda: cli("text", "--model", AP, "--input", str(SRC), "--output", str(OUT),
                                                             "--steps", "3"), names=["--steps"])
def _short_src_pipe() -> Path:
    d = TMP / "pipe_short"
    if not d.exists():
        MaskedTextPipeline(tiny_masked(src_len=16, seq_len=24), steps=1).save_pretrained(d)
    return d


case(M, "polydiff text --input with a too-long source line",
     lambda: cli("text", "--model", str(_short_src_pipe()), "--input",
                 str(write("cmd/long.txt", "name : Zizzi\nThe Vaults is an Italian pub by the riverside\n")), "--output",
                 str(OUT)), names=["--input", "line 2"])
case(M, "polydiff text --input with blank lines + CRLF", lambda: (cli("text", "--model", MP, "--input",
                                                                      str(write("cmd/crlf.txt", "name : Zizzi\r\n\r\n  \r\neatType : pub\r\n")),
                                                                      "--output", str(OUT), "--steps", "1"),
                                                                  OUT.read_text().split("\n"))[1],
     edge=True, ok=lambda lines: len(lines) == 5 and lines[1] == "" and lines[2] == "" and lines[4] == "")
case(M, "read_sources(None)", lambda: tc.read_sources(None), names=["path"], vague_if=lambda m: "PathLike object, not" in m)
case(M, "line_generators(-1, [0])", lambda: tc.line_generators(-1, [0]), names=["seed"])
case(M, "line_generators(1.5, [0])", lambda: tc.line_generators(1.5, [0]), names=["seed"])
case(M, "write_lines(path, ['a', 3])", lambda: tc.write_lines(TMP / "wl.txt", ["a", 3]), names=["lines"])
case(M, "write_lines(path, 'abc') str", lambda: (tc.write_lines(TMP / "wl2.txt", "abc"), (TMP / "wl2.txt").read_text())[1],
     names=["lines"], silent_note="a str written one character per line")
case(M, "write_lines(path, ['a\\nb'])", lambda: (tc.write_lines(TMP / "wl3.txt", ["a\nb"]), (TMP / "wl3.txt").read_text())[1],
     names=["lines"], silent_note="line with a newline written as two lines")
case(M, "pipeline_class(None) (documented fallback)", lambda: tc.pipeline_class(None), names=["model"], edge=True)
case(M, "as_line(None)", lambda: tc.as_line(None), names=["text"])

shutil.rmtree(TMP, ignore_errors=True)
print("COUNTS " + " ".join(f"{k}={v}" for k, v in sorted(COUNTS.items())), flush=True)
