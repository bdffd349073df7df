"""Quick mode's records of the shipped DiffPure pipeline (bench/robustness_shipped.py): the
pipeline and its classifier undefended under the same attack, paired, with counterparts in the
full bench."""
import pytest
import torch
from polydiff.bench import robustness as bench
from polydiff.bench.robustness_shipped import pipeline_beside_undefended, shipped_records
from polydiff.bench.schema import counterpart_problem, record_problems
from polydiff.core import VP
from polydiff.core.pipeline_hub import PRETRAINED_ENV
from polydiff.robustness.data import load_images
from polydiff.robustness.nets import Classifier, ClassifierConfig, UNet, UNetConfig
from polydiff.robustness.pipelines import PurificationPipeline


def _pipe(constant_class: int | None = None) -> PurificationPipeline:
    torch.manual_seed(0)
    den = UNet(UNetConfig(in_channels=1, base=8, mults=(1, 2), attention_levels=(), groups=4, time_scale=1000.0))
    clf = Classifier(ClassifierConfig(in_channels=1, num_classes=10, width=8))
    if constant_class is not None:  # logits that ignore the image: no attack can change them
        with torch.no_grad():
            for p in clf.parameters():
                p.zero_()
            last = [m for m in clf.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.bias[constant_class] = 1.0
    return PurificationPipeline(den, clf, VP(), t_star=0.1, solver="ddpm", steps=2)


def test_a_model_no_attack_can_move_reads_its_exact_accuracy_on_both_sides(one_thread):
    x, y = load_images("mnist", "test", 8)
    truth = float((y == 1).float().mean())
    runs = pipeline_beside_undefended(_pipe(constant_class=1), x, y, (2, 2, 1))
    for key in ("pipeline", "undefended"):
        assert runs[key]["clean"].value == runs[key]["robust"].value == pytest.approx(truth)
    d = runs["difference"]
    assert (d.value, d.a_only, d.b_only) == (0.0, 0, 0) and d.low < 0 < d.high
    assert "2 EOT draws per step" in runs["labels"]["pipeline"]
    assert "no EOT" in runs["labels"]["undefended"]


def test_the_paired_difference_pairs_the_same_images(one_thread):
    x, y = load_images("mnist", "test", 6)
    runs = pipeline_beside_undefended(_pipe(), x, y, (1, 1, 1))
    ours, theirs, d = runs["pipeline"], runs["undefended"], runs["difference"]
    assert d.value == pytest.approx(ours["robust"].value - theirs["robust"].value)
    assert d.a_only == int((ours["correct"] & ~theirs["correct"]).sum())
    for res in (ours, theirs):
        assert not (res["correct"] & ~res["clean_correct"]).any()  # robust implies clean


def test_quick_records_name_their_full_bench_rows(tmp_path, monkeypatch, one_thread):
    _pipe(constant_class=1).save_pretrained(tmp_path / "diffpure-test")
    monkeypatch.setenv(PRETRAINED_ENV, str(tmp_path))
    recs = shipped_records({"name": "diffpure-test", "n_test": 5, "attack": (1, 1, 1)}, lambda s: None)
    assert [(r["method"], r["metric"]) for r in recs] == [
        ("shipped:diffpure-test", "clean_accuracy"), ("shipped:diffpure-test", "robust_accuracy"),
        (bench.UNDEFENDED, "clean_accuracy"), (bench.UNDEFENDED, "robust_accuracy")]
    assert all(not record_problems(r, domain="robustness") for r in recs)
    assert all(not counterpart_problem(r["counterpart"]) for r in recs)
    assert {r["counterpart"]["method"] for r in recs} == {bench.PREREGISTERED, bench.UNDEFENDED}
    assert {r["counterpart"]["setting"] for r in recs} == {f"Linf eps=0.3, {bench.ADAPTIVE}"}
    # a constant classifier is far below the published strength of an MNIST classifier: flagged
    assert all(r["valid"] is False and r["problems"] for r in recs if r["method"] == bench.UNDEFENDED)
    assert recs[1]["minus_baseline"] == 0.0 and recs[1]["baseline"] == bench.UNDEFENDED
    assert shipped_records({"name": "no-such-pipeline", "n_test": 5, "attack": (1, 1, 1)}, print) == []
