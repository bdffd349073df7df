"""WordNet glosses and verse-aligned Bibles: parsing, counts of the installed data, clear errors."""
import pytest
from polydiff.text.corpora import (
    clean_osis,
    load_bible_pairs,
    load_wordnet_glosses,
    parse_wordnet_line,
)


def _installed(loader, what: str):
    try:
        return loader()
    except FileNotFoundError:
        pytest.skip(f"{what} is not installed here (see polydiff.text.corpora)")


def test_wordnet_line_parses_words_definition_and_examples():
    # the synset line of WordNet 3.0's data.adj for "long" (abridged pointers), satellite markers
    line = ('01437963 00 a 02 long(a) 0 lengthy 0 001 ! 01441539 a 0101 | primarily temporal sense; '
            'being or indicating a relatively great duration; "a long life"; "a long boring speech"  \n')
    g = parse_wordnet_line(line)
    assert g.words == ("long", "lengthy") and g.pos == "a" and g.offset == 1437963
    assert g.definition == "primarily temporal sense; being or indicating a relatively great duration"
    assert g.examples == ("a long life", "a long boring speech")
    with pytest.raises(ValueError, match="gloss separator"):
        parse_wordnet_line("01437963 00 a 01 long 0 000")


def test_installed_wordnet_has_every_synset_and_example():
    glosses = _installed(load_wordnet_glosses, "Debian's wordnet-base")
    # WordNet 3.0: 117,659 synsets and 48,339 quoted usage examples (counts of the data files)
    assert len(glosses) == 117659
    assert sum(len(g.examples) for g in glosses) == 48339
    dog = next(g for g in glosses if g.words[:2] == ("dog", "domestic dog"))
    assert dog.pos == "n" and dog.definition.startswith("a member of the genus Canis")
    assert dog.examples == ("the dog barked all night",)
    assert len(load_wordnet_glosses(pos=["adv"], limit=5)) == 5


def test_osis_cleaning_keeps_words_apart_where_a_footnote_was():
    raw = ('<w lemma="strong:H7225">beginning</w>, <w lemma="strong:H0430">God</w><note placement="foot">'
           '<reference type="annotateRef">1:1 </reference>The Hebrew word rendered “God”.</note>'
           '<w lemma="strong:H1254">created</w> the earth<note>x</note>. <div eID="gen25" type="x-p"/>')
    assert clean_osis(raw) == "beginning, God created the earth."


def test_installed_bibles_align_by_verse():
    pairs = _installed(lambda: load_bible_pairs("kjv", "web", books=["Jude"]), "Debian's sword-text-kjv/-web")
    assert [p.ref for p in pairs] == [f"Jude 1:{v}" for v in range(1, 26)]  # Jude has 25 verses
    assert pairs[-1].source == ("To the only wise God our Saviour, be glory and majesty, dominion and power, "
                                "both now and ever. Amen.")
    assert pairs[-1].target.startswith("to God our Savior, who alone is wise")
    assert load_bible_pairs("kjv", "rv1909", books=["Jude"], limit=1)[0].target.startswith("JUDAS")


@pytest.mark.slow
def test_whole_bible_alignment_is_cached(tmp_path):
    pairs = _installed(lambda: load_bible_pairs(cache_dir=tmp_path), "Debian's sword-text-kjv/-web")
    assert 30000 < len(pairs) <= 31102  # KJV versification: 31,102 verses
    assert load_bible_pairs(cache_dir=tmp_path) == pairs
    assert len(list(tmp_path.glob("bible-*.json"))) == 1


def test_missing_corpora_and_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        load_wordnet_glosses(tmp_path)
    with pytest.raises(FileNotFoundError, match="sword-text-kjv"):
        load_bible_pairs(path=tmp_path)
    with pytest.raises(ValueError, match="pos must be"):
        load_wordnet_glosses(tmp_path, pos=["nouns"])
    with pytest.raises(ValueError, match="books must be"):
        load_bible_pairs(books="Gen")
    (tmp_path / "mods.d").mkdir()
    (tmp_path / "mods.d" / "kjv.conf").write_text("## comment\n[engKJV2006eb]\nModDrv=zText\n")
    with pytest.raises(ValueError, match="unknown Bible module 'klingon'.*engKJV2006eb"):
        load_bible_pairs("kjv", "klingon", path=tmp_path)
