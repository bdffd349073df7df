"""`scripts/ship_pretrained.py robustness-purify` turns the robustness bench's cached MNIST
networks into a PurificationPipeline whose defaults were pre-registered on validation images and
whose card re-measures exactly at those defaults (a tiny configuration in place of the full one)."""
from __future__ import annotations

import dataclasses
import json

import pytest
from polydiff.bench import robustness as bench
from polydiff.bench.robustness_shipped import pipeline_beside_undefended
from polydiff.robustness.data import load_images
from polydiff.robustness.pipelines import PurificationPipeline

TINY = dataclasses.replace(bench.CONFIGS["quick"][0], n_train=96, clf_steps=2, dm_steps=2, dm_batch=8)
SELECTION = {"val_n": 4, "t_stars": (0.05, 0.2), "solvers": (("ddpm", 1), ("ddpm", 2)), "attack": (1, 1, 1)}
CARD = {"n_test": 4, "attack": (2, 1, 1)}


@pytest.fixture(scope="module")
def tiny_shipped(tmp_path_factory, ship_pretrained):
    root = tmp_path_factory.mktemp("ship")
    cache, into = root / "cache", root / "pretrained"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(bench.CONFIGS, "full", (TINY,))
        bench._train_all(TINY, cache, lambda s: None, ("classifier", "diffusion"))
        printed = ship_pretrained(["robustness-purify", "--cache", str(cache), "--into", str(into),
                                   "--command", "tiny run"],
                                  {"ship_robustness": {"SELECTION": SELECTION, "CARD": CARD}})
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
