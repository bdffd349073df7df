"""The other text corpora of polydiff's data list: WordNet glosses and verse-aligned Bibles.

- **WordNet 3.0** (Miller 1995; Princeton licence): every synset of the ``data.{noun,verb,
  adj,adv}`` database files as (words, definition, usage examples), for word -> definition
  generation. Parsed directly from the files of Debian's ``wordnet-base`` (format: the
  ``wndb(5WN)`` manual page).
- **KJV / World English Bible / Reina-Valera 1909** (public domain), verse-aligned from the
  SWORD modules of Debian's ``sword-text-kjv``, ``sword-text-web`` and ``sword-text-sparv``
  (read with ``pysword``), for seq2seq paraphrase / style transfer (archaic -> modern English,
  or translation). Extraction takes about a minute per module: the pairs are cached as JSON.

Both loaders take a ``path`` argument (the WordNet ``dict`` folder, the SWORD data folder
holding ``mods.d``) and otherwise look in ``<sys.prefix>/share/...`` (where polydiff's setup
unpacks the Debian packages) and ``/usr/share/...``; a missing corpus raises
``FileNotFoundError`` naming the folders searched and how to install it.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from polydiff.core.validate import check_int, describe

__all__ = [
    "BIBLE_MODULES",
    "VersePair",
    "WordNetGloss",
    "bible_modules",
    "clean_osis",
    "load_bible_pairs",
    "load_wordnet_glosses",
    "parse_wordnet_line",
]

WORDNET_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
# short names -> SWORD module names of the Debian packages
BIBLE_MODULES = {"kjv": "engKJV2006eb", "web": "engWEB2015eb", "rv1909": "spaRV1909eb"}


def _search_dirs(path: str | Path | None, leaf: str) -> list[Path]:
    if path is not None:
        return [Path(path)]
    return [Path(sys.prefix) / "share" / leaf, Path("/usr/share") / leaf]


# --- WordNet -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WordNetGloss:
    """One WordNet synset.

    Attributes:
        words: its lemmas, underscores turned into spaces, adjective markers (``(a)``) removed.
        pos: ``n``, ``v``, ``a``, ``s`` (satellite adjective) or ``r``.
        definition: the gloss without its examples.
        examples: the quoted usage examples of the gloss (may be empty).
        offset: the synset's byte offset in its data file (WordNet's synset id).
    """

    words: tuple[str, ...]
    pos: str
    definition: str
    examples: tuple[str, ...]
    offset: int


_QUOTED = re.compile(r'"([^"]*)"')


def parse_wordnet_line(line: str) -> WordNetGloss:
    """Parse one synset line of a ``data.<pos>`` file (``wndb(5WN)``):
    ``offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [ptr]... [frames] | gloss``."""
    if not isinstance(line, str):
        raise TypeError(f"line must be a str (one synset line of a WordNet data file), got {describe(line)}")
    if "|" not in line:
        raise ValueError(f"WordNet data line has no '|' gloss separator: {line[:80]!r}")
    head, gloss = line.split("|", 1)
    f = head.split()
    if len(f) < 6:
        raise ValueError(f"WordNet data line is too short: {line[:80]!r}")
    try:
        w_cnt, offset = int(f[3], 16), int(f[0])
        words = tuple(re.sub(r"\([a-z]+\)$", "", f[4 + 2 * i]).replace("_", " ") for i in range(w_cnt))
    except (ValueError, IndexError):
        raise ValueError(f"WordNet data line has a malformed offset or word list: {line[:80]!r}") from None
    if w_cnt < 1:
        raise ValueError(f"WordNet data line has a synset with no words (word count {f[3]!r}): {line[:80]!r}")
    gloss = gloss.strip()
    examples = tuple(e.strip() for e in _QUOTED.findall(gloss) if e.strip())
    definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
    return WordNetGloss(words, f[2], definition, examples, offset)


def load_wordnet_glosses(path: str | Path | None = None, pos: Sequence[str] = ("noun", "verb", "adj", "adv"),
                         limit: int | None = None) -> list[WordNetGloss]:
    """WordNet synsets with their glosses (117,659 in WordNet 3.0) from ``data.<pos>`` files.

    Args:
        path: the folder holding ``data.noun`` etc.; ``None`` searches ``<sys.prefix>/share/wordnet``
            and ``/usr/share/wordnet`` (Debian's ``wordnet-base``).
        pos: which files, any of ``noun``, ``verb``, ``adj``, ``adv``.
        limit: keep the first ``limit`` synsets (``None``: all).
    """
    if isinstance(pos, str) or not pos or any(p not in WORDNET_POS for p in pos):
        raise ValueError(f"pos must be a non-empty list of {list(WORDNET_POS)}, got {pos!r}")
    if len(set(pos)) != len(pos):
        raise ValueError(f"pos must not repeat a part of speech, got {list(pos)!r}")
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    dirs = _search_dirs(path, "wordnet")
    folder = next((d for d in dirs if all((d / f"data.{p}").is_file() for p in pos)), None)
    if folder is None:
        raise FileNotFoundError(
            f"WordNet data files data.{{{','.join(pos)}}} not found in {[str(d) for d in dirs]}; install "
            "Debian's wordnet-base (apt-get install wordnet-base, or apt-get download wordnet-base && "
            "dpkg-deb -x into <venv>) or pass path= to a WordNet 'dict' folder")
    out: list[WordNetGloss] = []
    for p in pos:
        file = folder / f"data.{p}"
        with open(file, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValueError(f"{file}, line {number}: not UTF-8 text ({e.reason})") from None
                if line.startswith("  "):  # the licence header
                    continue
                try:
                    out.append(parse_wordnet_line(line))
                except ValueError as e:
                    raise ValueError(f"{file}, line {number}: {e}") from None
                if limit is not None and len(out) >= limit:
                    return out
    return out


# --- Bible (SWORD modules) ---------------------------------------------------------------------
@dataclass(frozen=True)
class VersePair:
    """One verse in two translations: ``ref`` like ``"John 11:35"`` (OSIS book abbreviation)."""

    ref: str
    source: str
    target: str


_NOTE = re.compile(r"<note\b.*?</note>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE_PUNCT = re.compile(r" ([.,;:!?’”)])")


def clean_osis(raw: str) -> str:
    """Verse text from OSIS markup: footnotes dropped (they sit between words, so they become a
    space: pysword's own cleaner glues ``God<note/>created`` into ``Godcreated``), tags removed,
    whitespace collapsed."""
    if not isinstance(raw, str):
        raise TypeError(f"raw must be a str of OSIS markup, got {describe(raw)}")
    text = _TAG.sub("", _NOTE.sub(" ", raw)).replace("¶", " ")
    return _SPACE_PUNCT.sub(r"\1", " ".join(text.split()))


def bible_modules(path: str | Path | None = None) -> tuple[Path, list[str]]:
    """The SWORD data folder found (``path`` or the default folders) and its module names."""
    dirs = _search_dirs(path, "sword")
    for d in dirs:
        confs = sorted((d / "mods.d").glob("*.conf")) if (d / "mods.d").is_dir() else []
        if confs:
            names = []
            for c in confs:  # the module name is the conf's first [section]
                lines = c.read_text(encoding="utf-8", errors="replace").splitlines()
                names += [ln.strip()[1:-1] for ln in lines if ln.strip().startswith("[")][:1]
            return d, names
    raise FileNotFoundError(
        f"no SWORD modules (mods.d/*.conf) in {[str(x) for x in dirs]}; install Debian's sword-text-kjv "
        "sword-text-web sword-text-sparv (apt-get install, or apt-get download && dpkg-deb -x into "
        "<venv>, copying usr/share/sword to <venv>/share/sword) or pass path= to a SWORD data folder")


def _module_verses(folder: Path, module: str, books: Sequence[str] | None) -> dict[str, str]:
    try:
        from pysword.modules import SwordModules
    except ImportError as e:
        raise ImportError("the Bible loader reads SWORD modules with pysword: pip install pysword") from e
    library = SwordModules(str(folder))
    if module not in library.parse_modules():
        raise FileNotFoundError(f"SWORD module {module!r} has a conf but no readable data under {folder}")
    bible = library.get_bible_from_module(module)
    structure = bible.get_structure().get_books()
    verses: dict[str, str] = {}
    for book in structure.get("ot", []) + structure.get("nt", []):
        if books is not None and book.osis_name not in books:
            continue
        refs = [f"{book.osis_name} {c + 1}:{v + 1}" for c, n in enumerate(book.chapter_lengths) for v in range(n)]
        texts = bible.get_iter(books=[book.name], clean=False)
        for ref, raw in zip(refs, texts):
            verses[ref] = clean_osis(raw)
    return verses


def load_bible_pairs(source: str = "kjv", target: str = "web", *, path: str | Path | None = None,
                     books: Sequence[str] | None = None, cache_dir: str | Path | None = None,
                     limit: int | None = None) -> list[VersePair]:
    """Verse-aligned pairs of two Bible translations (default KJV -> World English Bible).

    Verses are matched by reference (OSIS book, chapter, verse) in canonical order; a verse
    empty in either translation (versification differences: WEB follows NRSVA, KJV and
    Reina-Valera follow KJV) has no pair. The full KJV/WEB alignment holds about 31,000 verses.

    Args:
        source, target: ``"kjv"``, ``"web"``, ``"rv1909"`` or a SWORD module name.
        path: SWORD data folder (holding ``mods.d``); ``None`` searches ``<sys.prefix>/share/sword``
            and ``/usr/share/sword``.
        books: OSIS abbreviations to keep (``["Gen", "John"]``); ``None``: the whole Bible.
        cache_dir: where extracted pairs are cached as JSON (extraction: about a minute per
            module); ``None``: no cache.
        limit: keep the first ``limit`` pairs.
    """
    if limit is not None:
        limit = check_int(limit, "limit", low=1)
    if books is not None and (isinstance(books, str) or not books):
        raise ValueError(f"books must be a non-empty list of OSIS abbreviations like ['Gen'], got {books!r}")
    folder, names = bible_modules(path)
    mods = []
    for m in (source, target):
        name = BIBLE_MODULES.get(m, m)
        if name not in names:
            raise ValueError(f"unknown Bible module {m!r}; available under {folder}: {names} "
                             f"(short names: {sorted(BIBLE_MODULES)})")
        mods.append(name)
    if mods[0] == mods[1]:
        raise ValueError(f"source and target are the same module {mods[0]!r}")
    key = hashlib.sha256(json.dumps([str(folder.resolve()), mods, sorted(books) if books else None])
                         .encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"bible-{mods[0]}-{mods[1]}-{key}.json" if cache_dir is not None else None
    if cache is not None and cache.is_file():
        try:
            rows = json.loads(cache.read_text(encoding="utf-8"))
            if not isinstance(rows, list) or not rows:
                raise ValueError(f"expected a non-empty JSON list of [ref, source, target] rows, got "
                                 f"{'an empty list' if rows == [] else type(rows).__name__}")
            for k, r in enumerate(rows):
                if not (isinstance(r, list) and len(r) == 3 and all(isinstance(x, str) for x in r)):
                    raise ValueError(f"row {k} is not [ref, source, target] strings: {str(r)[:60]}")
        except (ValueError, TypeError, UnicodeDecodeError) as e:
            raise ValueError(f"cached verse pairs {cache} are corrupt ({e}); delete the file to rebuild it") from None
    else:
        src, tgt = (_module_verses(folder, m, books) for m in mods)
        rows = [[ref, s, tgt[ref]] for ref, s in src.items() if s and tgt.get(ref)]
        if not rows:
            raise ValueError(f"no aligned verses between {mods[0]} and {mods[1]} for books={books}")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")  # renamed into place: a killed run leaves no half cache
            tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache)
    pairs = [VersePair(*r) for r in rows]
    return pairs[:limit] if limit is not None else pairs
