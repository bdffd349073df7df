"""`scripts/ship_pretrained.py robustness-purify` turns the robustness bench's cached MNIST (or
Fashion-MNIST) networks into a PurificationPipeline whose defaults were pre-registered on validation images and
whose card re-measures exactly at those defaults (a tiny configuration in place of the full one)."""
from __future__ import annotations

import dataclasses
import json

import pytest
from polydiff.bench import robustness as bench
from polydiff.bench.robustness_shipped import pipeline_beside_undefended
from polydiff.robustness.data import load_images
from polydiff.robustness.pipelines import PurificationPipeline

TINY = dataclasses.replace(bench.CONFIGS["quick"][0], n_train=96, clf_steps=2, dm_steps=2, dm_batch=8,
                           t_stars=(0.05, 0.2))
SELECTION = {"val_n": 4, "solvers": (("ddpm", 1), ("ddpm", 2)), "attack": (1, 1, 1)}
CARD = {"n_test": 4, "attack": (2, 1, 1)}


def _ship(root, ship_pretrained, cfg, *flags):
    cache, into = root / "cache", root / "pretrained"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(bench.CONFIGS, "full", (cfg,))
        bench._train_all(cfg, cache, lambda s: None, ("classifier", "diffusion"))
        printed = ship_pretrained(["robustness-purify", "--cache", str(cache), "--into", str(into),
                                   "--command", "tiny run", *flags],
                                  {"ship_robustness": {"SELECTION": SELECTION, "CARD": CARD}})
    return into, cache, printed


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory, ship_pretrained):
    into, cache, printed = _ship(tmp_path_factory.mktemp("ship"), ship_pretrained, TINY)
    return into / "mnist-diffpure", cache, printed


def test_the_defaults_are_the_validation_choice(tiny_shipped):
    folder, cache, printed = tiny_shipped
    pipe = PurificationPipeline.from_pretrained(folder)
    (choice_file,) = cache.glob("shipped-preregistered-*.json")
    choice = json.loads(choice_file.read_text())
    assert (pipe.t_star, pipe.solver, pipe.steps) == (choice["t_star"], choice["solver"], choice["steps"])
    assert len(choice["candidates"]) == 4 and choice["about"]["val_images"] == 4
    assert f"pre-registered: t*={pipe.t_star} ddpm-{pipe.steps}" in printed


def test_the_card_is_what_the_pipeline_scores_at_its_defaults(tiny_shipped, one_thread):
    folder, _, _ = tiny_shipped
    pipe = PurificationPipeline.from_pretrained(folder)
    card = pipe.card
    assert card.training_command == "tiny run" and "first 96 images" in card.data
    x, y = load_images("mnist", "test", CARD["n_test"])
    runs = pipeline_beside_undefended(pipe, x, y, CARD["attack"])
    clean, robust = card.metrics
    assert (clean["value"], clean["baseline_value"]) == (runs["pipeline"]["clean"].value,
                                                         runs["undefended"]["clean"].value)
    assert (robust["value"], robust["baseline_value"]) == (runs["pipeline"]["robust"].value,
                                                           runs["undefended"]["robust"].value)
    assert robust["paired_difference"]["value"] == runs["difference"].value
    assert "upper bound" in card.notes and pipe.eot_iter == CARD["attack"][1]


def test_fashion_uses_its_own_configuration(tmp_path, ship_pretrained):
    """``--dataset fashion``: the Fashion-MNIST configuration's networks, t*s and eps, its own name."""
    cfg = dataclasses.replace(TINY, dataset="fashion", eps=0.1, t_stars=(0.1,))
    into, cache, printed = _ship(tmp_path, ship_pretrained, cfg, "--dataset", "fashion")
    assert "pre-registered: t*=0.1" in printed
    pipe = PurificationPipeline.from_pretrained(into / "fashion-diffpure")
    (choice_file,) = cache.glob("shipped-preregistered-*.json")
    choice = json.loads(choice_file.read_text())
    assert choice["about"]["dataset"] == "fashion" and {c["t_star"] for c in choice["candidates"]} == {0.1}
    assert choice["about"]["eps"] == 0.1 and pipe.t_star == 0.1
    assert "Fashion-MNIST train, the first 96 images" in pipe.card.data
    assert "L-inf eps=0.1" in pipe.card.metrics[1]["metric"] and "Fashion-MNIST test" in pipe.card.metrics[1]["dataset"]
