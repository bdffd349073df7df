"""Sentencepiece tokeniser trained locally on a training split.

The model is trained in memory (``sentencepiece.SentencePieceTrainer`` with a sentence
iterator and a model writer) and optionally cached as its ``.model`` protobuf (no pickle).
Special ids are fixed: ``pad=0, unk=1, bos=2, eos=3, <sep>=4, <mask>=5``; ``<sep>`` joins
source and target for DiffuSeq, ``<mask>`` is the absorbing state of masked diffusion.
Normalisation is the identity and byte fallback is on, so ``decode(encode(s)) == s`` for any
text whose whitespace is single spaces without leading/trailing blanks.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sentencepiece as spm
import torch
from polydiff.core.validate import check_choice, check_file, check_int, describe
from torch import Tensor

from .checks import check_bool, check_ids, check_texts

__all__ = ["Tokenizer", "check_model_parts", "train_tokenizer"]

PAD, UNK, BOS, EOS, SEP, MASK = 0, 1, 2, 3, 4, 5
MAX_VOCAB = 2**20


class Tokenizer:
    """A sentencepiece processor with polydiff's fixed special ids."""

    pad_id, unk_id, bos_id, eos_id, sep_id, mask_id = PAD, UNK, BOS, EOS, SEP, MASK

    def __init__(self, model_proto: bytes):
        if not isinstance(model_proto, (bytes, bytearray)):
            raise TypeError(f"model_proto must be the serialized sentencepiece model as bytes, got "
                            f"{describe(model_proto)}")
        if not model_proto:
            raise ValueError("model_proto is empty: expected a serialized sentencepiece model")
        self.model_proto = bytes(model_proto)
        try:
            self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        except RuntimeError as e:  # sentencepiece reports a bad protobuf as RuntimeError("INTERNAL: ...")
            raise ValueError(f"model_proto is not a sentencepiece model ({str(e).strip()[:120]})") from None
        if self.sp.piece_to_id("<sep>") != SEP or self.sp.piece_to_id("<mask>") != MASK:
            raise ValueError("sentencepiece model lacks polydiff's <sep>=4 / <mask>=5 pieces")

    @property
    def vocab_size(self) -> int:
        """Number of pieces, specials included."""
        return int(self.sp.get_piece_size())

    @property
    def digest(self) -> str:
        """Short SHA-256 of the model (used in cache keys)."""
        return hashlib.sha256(self.model_proto).hexdigest()[:16]

    def encode(self, text: str) -> list[int]:
        """Piece ids of ``text`` (no BOS/EOS). Raises ``ValueError`` on an empty string."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {describe(text)}")
        if not text.strip():
            raise ValueError(f"text must not be empty or blank, got {text!r}")
        return list(self.sp.encode(text))

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Text of ``ids``: stops at the first EOS, skips pad/bos/sep/mask."""
        if isinstance(ids, Tensor):
            ids = check_ids(ids, "ids", ndim=1, nonempty=False, ranged=False, long=False).tolist()
        elif isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise TypeError(f"ids must be a sequence of int token ids or a 1-D tensor, got {describe(ids)}")
        out = []
        for k, i in enumerate(ids):
            i = check_int(i, f"ids[{k}]")
            if i == EOS:
                break
            if i in (PAD, BOS, SEP, MASK):
                continue
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"ids[{k}] must be a token id in [0, {self.vocab_size}), got {i}")
            out.append(i)
        return self.sp.decode(out)

    def encode_batch(self, texts: Sequence[str], max_len: int, *, bos: bool = False,
                     eos: bool = True, truncate: bool = False) -> Tensor:
        """Encode and right-pad to ``[B, max_len]`` (long).

        Raises:
            ValueError: a text is empty, or longer than ``max_len`` (with BOS/EOS) while
                ``truncate`` is False (the message gives its length).
        """
        texts = check_texts(texts, "texts")
        max_len = check_int(max_len, "max_len")
        bos, eos = check_bool(bos, "bos"), check_bool(eos, "eos")
        truncate = check_bool(truncate, "truncate")
        if max_len < 1 + bos + eos:
            raise ValueError(f"max_len must leave room for a token besides BOS/EOS (>= {1 + bos + eos}), "
                             f"got {max_len}")
        rows = []
        for k, t in enumerate(texts):
            ids = ([BOS] if bos else []) + self.encode(t) + ([EOS] if eos else [])
            if len(ids) > max_len:
                if not truncate:
                    raise ValueError(f"text {k} has {len(ids)} tokens (with specials), more than "
                                     f"max_len={max_len}: {t[:60]!r}")
                ids = ids[: max_len - 1] + ([EOS] if eos else ids[max_len - 1: max_len])
            rows.append(ids + [PAD] * (max_len - len(ids)))
        return torch.tensor(rows, dtype=torch.long)

    def decode_batch(self, ids: Tensor) -> list[str]:
        """Decode every row of ``[B, L]``."""
        check_ids(ids, "ids", ndim=2, nonempty=False, ranged=False, long=False)
        return [self.decode(r) for r in ids]

    def save(self, path: str | Path) -> None:
        """Write the ``.model`` protobuf."""
        Path(path).write_bytes(self.model_proto)

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Read a ``.model`` written by :meth:`save`."""
        p = check_file(path, "path")
        try:
            return cls(p.read_bytes())
        except ValueError as e:
            raise ValueError(f"{p} is not a polydiff sentencepiece tokenizer model: {e}") from None


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000, *, model_type: str = "unigram",
                    cache_dir: str | Path | None = None) -> Tokenizer:
    """Train a sentencepiece model on ``texts`` (the training split only).

    Args:
        texts: training sentences.
        vocab_size: the most pieces, including the 6 specials and 256 byte-fallback pieces, in
            ``[300, 2**20]``. Sentencepiece stops earlier when ``texts`` hold fewer distinct pieces
            (a small corpus): ``Tokenizer.vocab_size`` is the actual count, which the models'
            configs must use.
        model_type: ``"unigram"`` (Kudo 2018) or ``"bpe"``.
        cache_dir: if given, the model is stored there under a hash of texts + settings and
            reused on the next call.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"texts must be an iterable of strings, not one {type(texts).__name__}")
    texts = [" ".join(t.split()) for t in check_texts(list(texts), "texts", nonempty=False)]
    if not texts or not any(texts):
        raise ValueError("texts must hold at least one non-empty text")
    check_choice(model_type, "model_type", ("unigram", "bpe"))
    vocab_size = check_int(vocab_size, "vocab_size")
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (256 byte pieces + specials), got {vocab_size}")
    if vocab_size > MAX_VOCAB:
        raise ValueError(f"vocab_size must be <= {MAX_VOCAB} (2**20 pieces), got {vocab_size}")
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path (str or os.PathLike) or None, got {describe(cache_dir)}")
        if Path(cache_dir).exists() and not Path(cache_dir).is_dir():
            raise ValueError(f"cache_dir {cache_dir} exists and is not a directory")
    key = hashlib.sha256(("\n".join(texts) + f"|{vocab_size}|{model_type}").encode()).hexdigest()[:16]
    cached = Path(cache_dir) / f"spm-{key}.model" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        return Tokenizer.load(cached)
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=buf, vocab_size=vocab_size,
            model_type=model_type, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            user_defined_symbols=["<sep>", "<mask>"], normalization_rule_name="identity",
            byte_fallback=True, character_coverage=1.0, hard_vocab_limit=False,
            num_threads=1, minloglevel=2,
        )
    except RuntimeError as e:  # sentencepiece reports bad settings as RuntimeError("INTERNAL: ...")
        detail = str(e).split("]", 1)[-1].strip()[:200]
        raise ValueError(f"sentencepiece could not train with vocab_size={vocab_size} on these texts: {detail}") \
            from None
    tok = Tokenizer(buf.getvalue())
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tok.save(cached)
    return tok


def check_model_parts(config: Any, config_cls: type, tokenizer: Any) -> None:
    """``config`` is a ``config_cls`` and ``tokenizer`` a :class:`~polydiff.text.tokenizer.Tokenizer`
    with ``config.vocab_size`` pieces."""
    if not isinstance(config, config_cls):
        raise TypeError(f"config must be a {config_cls.__name__}, got {describe(config)}")
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"tokenizer must be a polydiff Tokenizer, got {describe(tokenizer)}")
    if tokenizer.vocab_size != config.vocab_size:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} pieces but config.vocab_size is {config.vocab_size}")
