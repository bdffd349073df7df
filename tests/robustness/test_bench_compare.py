"""Paired comparisons and inherited validity of the robustness bench's records, on fake records."""
import pytest
from polydiff.bench import robustness_compare as cmp
from polydiff.robustness.metrics import paired_difference

SETTING = "Linf eps=0.3, adaptive attack (full gradients + EOT)"


def _rec(method: str, correct: str, *, metric: str = "robust_accuracy", setting: str = SETTING,
         dataset: str = "mnist-test", problems: tuple[str, ...] = (), **extra) -> dict:
    return {"dataset": dataset, "setting": setting, "method": method, "metric": metric, "n": len(correct),
            "value": correct.count("1") / len(correct), "correct": correct, "valid": not problems,
            "problems": list(problems), **extra}


def test_pair_with_baseline_counts_discordant_images():
    # purifier right where the baseline fails on 3 images, wrong where it holds on 1: +2/8
    adv = _rec(cmp.ADV_TRAINED, "11000011")
    diffpure = _rec("polydiff-diffpure t*=0.1 ddpm-5", "11111001")
    undefended = _rec(cmp.UNDEFENDED, "00000000")
    elsewhere = _rec("polydiff-diffpure t*=0.1 ddpm-5", "1111", setting="another setting")
    records = [undefended, adv, diffpure, elsewhere]
    cmp.pair_with_baseline(records)
    assert (diffpure["method_only"], diffpure["baseline_only"]) == (3, 1)
    assert diffpure["minus_baseline"] == pytest.approx(2 / 8) == pytest.approx(diffpure["value"] - adv["value"])
    truth = paired_difference(cmp.outcomes("11111001"), cmp.outcomes("11000011"))
    assert diffpure["minus_baseline_ci"] == [truth.low, truth.high]
    assert diffpure["baseline"] == cmp.ADV_TRAINED
    # the baselines themselves and records without a baseline in their setting are left alone
    assert not any("minus_baseline" in r or "baseline" in r for r in (undefended, adv, elsewhere))


def test_pair_with_baseline_refuses_different_images():
    records = [_rec(cmp.ADV_TRAINED, "1100"), _rec("polydiff-diffpure", "110")]
    with pytest.raises(ValueError, match="cannot pair 'polydiff-diffpure' with the baseline"):
        cmp.pair_with_baseline(records)
    with pytest.raises(TypeError, match="records must be a list"):
        cmp.pair_with_baseline(({"metric": "robust_accuracy"},))
    with pytest.raises(ValueError, match="baseline must be a method name"):
        cmp.pair_with_baseline([], baseline="")
    with pytest.raises(ValueError, match="correct must be a non-empty string of '0'/'1'"):
        cmp.outcomes("10x")


def test_pair_with_full_gradient_says_how_much_weaker_bpda_is():
    full = _rec("polydiff-diffpure t*=0.1 ddpm-5", "1000", setting="full")
    bpda = _rec("polydiff-diffpure t*=0.1 ddpm-5", "1110", setting="sanity")
    cmp.pair_with_full_gradient([full, bpda], bpda, full)
    assert (bpda["minus_full_gradient"], bpda["bpda_only"], bpda["full_only"]) == (0.5, 2, 0)
    with pytest.raises(ValueError, match="full must be a robust-accuracy record of records"):
        cmp.pair_with_full_gradient([bpda], bpda, full)


def _purifier(correct: str, clean: str = "1111", **kw) -> list[dict]:
    method = "polydiff-diffpure t*=0.1 ddpm-5"
    return [_rec(method, clean, metric="clean_accuracy", classifier=cmp.UNDEFENDED, **kw),
            _rec(method, correct, classifier=cmp.UNDEFENDED, **kw)]


def test_an_invalid_baseline_invalidates_the_rows_compared_with_it():
    weak = "baseline below published strength: robust accuracy 6.3% is below its target 80.0%"
    masked = "gradient masking: Square lowered robust accuracy from 19.8% to 6.3% after the gradient attacks"
    adv = [_rec(cmp.ADV_TRAINED, "1111", metric="clean_accuracy", problems=(weak, masked)),
           _rec(cmp.ADV_TRAINED, "1000", problems=(weak, masked))]
    clf = [_rec(cmp.UNDEFENDED, "1111", metric="clean_accuracy"), _rec(cmp.UNDEFENDED, "0000")]
    diffpure = _purifier("1100")
    other_data = [dict(r, dataset="fashion-mnist-test") for r in _purifier("1100")]
    records = [*clf, *adv, *diffpure, *other_data]
    cmp.pair_with_baseline(records)
    cmp.propagate_invalidity(records)
    # the purifier's clean and robust rows both carry the baseline's two problems
    for r in diffpure:
        assert r["valid"] is False
        assert r["problems"] == [f"compared with {cmp.ADV_TRAINED!r}, which is invalid: {weak}; {masked}"]
    # the baseline's own problems are not duplicated; the valid classifier and the other dataset stay valid
    assert all(r["problems"] == [weak, masked] for r in adv)
    assert all(r["valid"] and not r["problems"] for r in [*clf, *other_data])
    cmp.propagate_invalidity(records)  # idempotent
    assert all(len(r["problems"]) == 1 for r in diffpure)


def test_a_weak_classifier_invalidates_the_purifiers_built_on_it():
    low = "baseline below published strength: clean accuracy 97.9% is below its target 99.0%"
    clf = [_rec(cmp.UNDEFENDED, "1110", metric="clean_accuracy", problems=(low,), setting="a"),
           _rec(cmp.UNDEFENDED, "0000", problems=(low,), setting="a")]
    diffpure = _purifier("1100", setting="b")  # any setting of the same dataset: the same classifier
    adv = [_rec(cmp.ADV_TRAINED, "1100", setting="b")]
    records = [*clf, *adv, *diffpure]
    cmp.pair_with_baseline(records)
    cmp.propagate_invalidity(records)
    assert all(r["problems"] == [f"its classifier {cmp.UNDEFENDED!r}, which is invalid: {low}"]
               and r["valid"] is False for r in diffpure)
    assert adv[0]["valid"] and not adv[0]["problems"]
    with pytest.raises(TypeError, match="records must be a list of record dicts"):
        cmp.propagate_invalidity([1, 2])
