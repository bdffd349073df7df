import numpy as np
import pytest
import torch
from polydiff.bench.vision_anomaly import METHODS, fashion_one_vs_rest
from polydiff.vision.data import load_fashion_mnist
from sklearn.metrics import roc_auc_score

AC = {"normal_class": 1, "t_star": 250, "steps": 2, "n": 8, "simplex": {"octaves": 2, "frequency": 2.0, "decay": 0.8}}
NET = {"base": 8, "mults": (1, 2), "attention_levels": ()}


def test_fashion_one_vs_rest_reports_the_class_mean_with_each_class_beside_it(tmp_path):
    recs = fashion_one_vs_rest(AC, (0, 6), 2, tmp_path, "cpu", {"batch_size": 8, "seed": 0}, NET, n_train=32)
    assert [r["method"] for r in recs] == list(METHODS)
    x_tr, y_tr = load_fashion_mnist("train")
    x_te, y_te = load_fashion_mnist("test")
    for r in recs:
        assert r["setting"] == "one-vs-rest-mean-classes06" and r["n"] == 16 and set(r["per_class"]) == {"0", "6"}
        assert r["value"] == pytest.approx(np.mean(list(r["per_class"].values())))
    template = recs[0]["per_class"]
    for c in (0, 6):  # the template baseline against sklearn on the distance to the class's mean image
        xa = torch.cat([x_te[y_te == c][:8], x_te[y_te != c][:8]])
        d = ((xa - x_tr[y_tr == c].mean(0)) ** 2).flatten(1).mean(1)
        assert template[str(c)] == pytest.approx(roc_auc_score([0] * 8 + [1] * 8, d.numpy()))


@pytest.mark.parametrize("classes", [(), (0, 0), (10,), (-1,)])
def test_fashion_one_vs_rest_names_bad_classes(tmp_path, classes):
    with pytest.raises(ValueError, match="classes must be distinct Fashion-MNIST classes"):
        fashion_one_vs_rest(AC, classes, 2, tmp_path, "cpu", {"batch_size": 8, "seed": 0}, NET, n_train=32)
