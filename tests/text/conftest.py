import pytest
from polydiff.text.data import attribute_vocabulary, load_e2e, split_by_restaurant
from polydiff.text.tokenizer import train_tokenizer


@pytest.fixture(scope="session")
def e2e_split():
    return split_by_restaurant(load_e2e())


@pytest.fixture(scope="session")
def tok(e2e_split, tmp_path_factory):
    train, _ = e2e_split
    return train_tokenizer([e.text for e in train] + [e.compact_source for e in train], 1000,
                           cache_dir=tmp_path_factory.mktemp("spm"))


@pytest.fixture(scope="session")
def attributes(e2e_split):
    return attribute_vocabulary(e2e_split[0])


