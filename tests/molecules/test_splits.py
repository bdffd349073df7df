"""The random QM9 split: seeded, drawn from the whole size range, disjoint by index and by graph."""
import pytest
from polydiff.molecules.splits import graph_key, random_qm9_split


@pytest.fixture(scope="module")
def two_seeds():
    return random_qm9_split(300, 20, 200, seed=11), random_qm9_split(300, 20, 200, seed=12)


def _names(mols):
    return [m.GetProp("_Name") for m in mols]


def test_parts_are_disjoint_by_index_and_by_graph(two_seeds):
    s = two_seeds[0]
    assert (len(s.train), len(s.val), len(s.test)) == (300, 20, 200)
    names = [set(_names(getattr(s, p))) for p in ("train", "val", "test")]
    assert sum(map(len, names)) == 520 and len(set.union(*names)) == 520
    graphs = [{graph_key(m) for m in getattr(s, p)} for p in ("train", "val", "test")]
    assert not (graphs[0] & graphs[1]) and not (graphs[0] & graphs[2]) and not (graphs[1] & graphs[2])
    for m in s.train + s.val + s.test:
        assert 1 <= m.GetNumHeavyAtoms() <= 9 and m.GetNumConformers() == 1


def test_random_not_file_order_and_seeded(two_seeds):
    a, b = two_seeds
    idx = sorted(int(n.split("_")[1]) for n in _names(a.test))
    # QM9 is sorted by size: the first ~22,000 rows have at most 8 heavy atoms. A uniform draw of
    # 200 from 130,831 molecules spans the file and holds mostly 9-heavy-atom molecules (83 %).
    assert idx[0] < 20000 and idx[-1] > 110000
    hist = a.describe()["test"]["heavy_atoms"]
    assert hist.get(9, 0) > 140 and sum(hist.values()) == 200
    assert len(set(_names(a.test)) & set(_names(b.test))) < 10  # another seed, another test set
    again = random_qm9_split(5, 0, 10, seed=11)
    assert _names(again.test) == _names(a.test)[:10]  # same seed: the same permutation
    assert a.label == "qm9-dft-random-heavy1-9-seed11" and a.describe()["pool"] == a.pool > 130000


def test_size_range_and_bad_input():
    s = random_qm9_split(20, 0, 10, seed=0, min_heavy_atoms=5, max_heavy_atoms=6)
    assert {m.GetNumHeavyAtoms() for m in s.train + s.test} <= {5, 6}
    assert s.label == "qm9-dft-random-heavy5-6-seed0"
    with pytest.raises(ValueError, match="n_test must be a non-negative int"):
        random_qm9_split(1, 0, -1)
    with pytest.raises(ValueError, match="min_heavy_atoms <= max_heavy_atoms"):
        random_qm9_split(1, 0, 1, min_heavy_atoms=5, max_heavy_atoms=4)
    with pytest.raises(ValueError, match="seed"):
        random_qm9_split(1, 0, 1, seed=-2)
    with pytest.raises(ValueError, match="fewer than the 10 requested"):
        random_qm9_split(8, 0, 2, min_heavy_atoms=1, max_heavy_atoms=1)
