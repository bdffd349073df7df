"""Finished attacks are kept on disk: an interrupted full-mode evaluation resumes where it stopped,
and the robustness entry runs one dataset at a time as a part."""
import dataclasses
import json

import pytest
import torch
from polydiff.bench import robustness as bench
from polydiff.bench.robustness_cache import cached_evaluate, model_description
from polydiff.robustness.attacks import evaluate, make_attack
from torch import nn


def _linear_result():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    table = {"pgd": lambda m, s: make_attack("pgd", m, eps=0.1, steps=3, seed=s)}
    return model, (lambda: evaluate(model, x, y, table, (0, 1), batch_size=4))


def test_a_kept_result_reads_back_equal_and_is_not_recomputed(tmp_path):
    model, run = _linear_result()
    key = {"what": "attack", "model": model_description(model), "attack": "pgd 3", "images": [0, 6]}
    calls = []

    def counted():
        calls.append(1)
        return run()

    first = cached_evaluate(tmp_path, key, counted)
    again = cached_evaluate(tmp_path, dict(reversed(list(key.items()))), counted)  # key order is irrelevant
    assert len(calls) == 1 and len(list(tmp_path.glob("attack-*.json"))) == 1
    assert (again["clean"], again["robust"], again["per_attack"]) == (first["clean"], first["robust"],
                                                                       first["per_attack"])
    assert torch.equal(again["correct"], first["correct"]) and again["correct"].dtype == torch.bool
    assert torch.equal(again["clean_correct"], first["clean_correct"]) and again["seconds"] == first["seconds"]
    cached_evaluate(tmp_path, {**key, "attack": "pgd 6"}, counted)  # another attack: computed
    assert len(calls) == 2 and len(list(tmp_path.glob("attack-*.json"))) == 2


def test_an_interrupted_attack_writes_nothing_and_a_foreign_file_is_refused(tmp_path):
    _, run = _linear_result()
    key = {"what": "attack", "images": [0, 6]}

    def killed():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_evaluate(tmp_path, key, killed)
    assert list(tmp_path.iterdir()) == []
    cached_evaluate(tmp_path, key, run)
    (path,) = tmp_path.glob("attack-*.json")
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "key": {**key, "images": [6, 12]}}))
    with pytest.raises(ValueError, match="holds the result of"):
        cached_evaluate(tmp_path, key, run)
    for bad in ({}, {"what": ""}, ["what"]):
        with pytest.raises(ValueError, match="key must be"):
            cached_evaluate(tmp_path, bad, run)
    with pytest.raises(TypeError, match="run must be"):
        cached_evaluate(tmp_path, key, None)


def test_model_description_tells_purifier_configurations_apart():
    from polydiff.robustness import nets
    from polydiff.robustness.purify import PurifiedClassifier, Purifier
    dm, clf = nets.denoiser(base=8), nets.classifier(8)

    def purified(**kw):
        return PurifiedClassifier(Purifier(dm, t_star=0.1, solver="ddpm", image_shape=(1, 28, 28), **kw), clf)

    seen = [model_description(purified(steps=5)), model_description(purified(steps=10)),
            model_description(purified(steps=5, gradient="bpda")), model_description(clf)]
    assert len({json.dumps(d, sort_keys=True) for d in seen}) == 4
    assert seen[0] == model_description(purified(steps=5))
    with pytest.raises(TypeError, match="model must be"):
        model_description("clf")


def test_an_interrupted_bench_run_resumes_at_the_first_unfinished_attack(micro, tmp_path, monkeypatch):
    """A run killed at its fourth attack keeps the three finished ones: the next run computes
    only the rest, and its records equal an uninterrupted run's."""
    real = bench.evaluate
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "evaluate", counted)
    whole = bench.run("quick", tmp_path / "whole")
    total, calls[:] = len(calls), []
    cache = tmp_path / "whole" / "cache"  # the same networks (training is cached and seeded)
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "cache").symlink_to(cache, target_is_directory=True)

    def killed_at_fourth(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        return counted(*args, **kwargs)

    monkeypatch.setattr(bench, "evaluate", killed_at_fourth)
    with pytest.raises(KeyboardInterrupt):
        bench.run("quick", tmp_path / "cut")
    assert len(list((tmp_path / "cut" / "attacks").glob("*.json"))) == 3
    monkeypatch.setattr(bench, "evaluate", counted)
    calls[:] = []
    resumed = bench.run("quick", tmp_path / "cut")
    assert total > 3 and len(calls) == total - 3

    def attacked(records):
        return [{k: r[k] for k in ("setting", "method", "metric", "value", "correct")}
                for r in records if r["metric"].endswith("accuracy")]

    assert attacked(resumed) == attacked(whole)


def test_one_dataset_runs_alone_as_a_part(micro, tmp_path, capsys, monkeypatch):
    """``--parts mnist`` evaluates that dataset alone; with ``attack_chunk`` its attacks are kept
    in pieces of that many images and pooled into records over all of them."""
    monkeypatch.setitem(bench.CONFIGS, "quick", (dataclasses.replace(micro, attack_chunk=3),))
    out = tmp_path / "part.json"
    assert bench.main(["--quick", "--parts", "mnist", "--json", str(out), "--out", str(tmp_path / "o"),
                       "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    assert doc["domain"] == "robustness" and doc["records"]
    assert {r["dataset"] for r in doc["records"]} == {"mnist-test"}
    kept = [json.loads(f.read_text())["key"] for f in (tmp_path / "o" / "robustness" / "attacks").glob("*.json")]
    # the groups of n_test = 4 images in pieces 0:3 and 3:4, the paper group's 2 images whole
    assert {tuple(k["chunk"]) for k in kept if k["images"][2] == micro.n_test} == {(0, 3), (3, 4)}
    assert all("chunk" not in k for k in kept if k["images"][2] == micro.paper_n)
    attacked = [r for r in doc["records"] if r["metric"] == "robust_accuracy"]
    assert attacked and all(len(r["correct"]) == r["n"] for r in attacked)
    assert {r["n"] for r in attacked} == {micro.n_test, micro.paper_n}
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--parts", "cifar", "--json", str(out)])
    assert "parts must name some of" in capsys.readouterr().err
    with pytest.raises(ValueError, match="parts must name some of"):
        bench.run("quick", tmp_path, parts=("cifar",))


def test_chunks_pool_into_the_whole_sets_result(tmp_path):
    """Under a deterministic attack (FGSM) the pooled chunks equal one call on all images: the
    worst case is per example, and the pooled intervals are recomputed from the pooled counts."""
    import torchattacks
    from polydiff.bench.robustness_cache import chunked_evaluate
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(40, 1, 4, 4)
    with torch.no_grad():
        y = model(x).argmax(-1)  # every image clean-correct, the attacks remove the small margins
    table = {"FGSM 0.05": lambda m, s: torchattacks.FGSM(m, eps=0.05),
             "FGSM 0.2": lambda m, s: torchattacks.FGSM(m, eps=0.2)}

    def run(i, j):
        return evaluate(model, x[i:j], y[i:j], table, (0,), batch_size=j - i, cascade=True)

    whole = run(0, 40)
    ks = [whole[k].k for k in ("clean",)] + [a.k for a in whole["per_attack"].values()]
    assert ks[0] > ks[1] > ks[2] > 0  # each attack removes examples: the pooling is exercised
    pooled = chunked_evaluate(tmp_path, {"what": "attack"}, run, 40, chunk=16)
    assert len(list(tmp_path.glob("attack-*.json"))) == 3  # 0:16, 16:32, 32:40
    assert (pooled["clean"], pooled["robust"], pooled["per_attack"]) == (whole["clean"], whole["robust"],
                                                                         whole["per_attack"])
    assert torch.equal(pooled["correct"], whole["correct"])
    assert torch.equal(pooled["clean_correct"], whole["clean_correct"])
    assert chunked_evaluate(None, {"what": "attack"}, run, 40, chunk=16)["robust"] == whole["robust"]
    for bad in ({"n": 0}, {"chunk": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            chunked_evaluate(None, {"what": "attack"}, run, **{"n": 40, "chunk": 16, **bad})
