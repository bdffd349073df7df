import copy
import json

import pytest
import torch
from polydiff.vision import bench
from polydiff.vision.nets import UNet
from polydiff.vision.train import load_trained, main, train


def test_cli_trains_and_checkpoint_loads(tmp_path):
    out = tmp_path / "run"
    assert main(["--task", "generate", "--dataset", "digits", "--steps", "2", "--batch-size", "8",
                 "--base", "8", "--mults", "1", "2", "--attention-levels", "1", "--out", str(out)]) == 0
    net, _process, extra = load_trained(out)
    assert isinstance(net, UNet) and net.config.num_classes == 10 and extra["task"] == "generate"
    assert not list(out.rglob("*.pt")) and list(out.rglob("*.safetensors"))
    y = net(torch.zeros(2, 1, 8, 8), torch.tensor([1.0, 2.0]), y=torch.tensor([0, 10]))
    assert y.shape == (2, 1, 8, 8)


def test_train_rejects_bad_data():
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        train("generate", torch.full((4, 1, 8, 8), 2.0), torch.zeros(4, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="labels"):
        train("generate", torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="task"):
        train("colourise", torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), steps=1)


@pytest.mark.slow  # ~40 s: trains five tiny networks twice through the bench entry
def test_bench_records_pair_with_baselines_and_cache(tmp_path, monkeypatch):
    tiny = copy.deepcopy(bench.CONFIGS["quick"])
    tiny.update(n_train=64, batch=16, n_gen_per_class=2, n_eval=4, sample_steps=2, scales=(0.0, 2.0),
                net={"base": 8, "mults": (1, 2), "attention_levels": ()},
                steps={k: 2 for k in [*tiny["steps"], "segment"]})
    tiny["inpaint"] = dict(tiny["inpaint"], steps=2, jump_length=1, resample=2)
    tiny["anomaly"] = dict(tiny["anomaly"], steps=2, n=4)
    tiny["segment"] = dict(bench.SEGMENT_SMALL, labelled=(2,), n_models=1, epochs=1, baseline_steps=2,
                           datasets=("mni152", "nuclei"))
    tiny["lesions"] = {"size": 32, "t_star": 100, "steps": 2, "simplex": {"octaves": 2}}
    monkeypatch.setitem(bench.CONFIGS, "quick", tiny)
    stages = []
    recs = bench.run("quick", tmp_path, progress=stages.append)
    groups = {}
    for r in recs:
        assert r["domain"] == "vision" and isinstance(r["value"], float)
        groups.setdefault((r["task"], r["dataset"], r["setting"], r["metric"]), set()).add(r["method"])
    assert {"generate", "inpaint", "superres", "anomaly", "segment"} <= {k[0] for k in groups}
    for key, methods in groups.items():  # every polydiff number has a baseline beside it
        assert any(not m.startswith("polydiff") for m in methods) or len(methods) > 1, key
    assert (tmp_path / "superres.png").exists() and (tmp_path / "inpaint_center.png").exists()
    assert (tmp_path / "anomaly_brain.png").exists() and (tmp_path / "segment_mni152.png").exists()
    assert stages[-1] == "done"
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    recs2 = bench.run("quick", tmp_path)  # second run: only evaluates
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached
    assert len(recs2) == len(recs)
    json.dumps(recs)
