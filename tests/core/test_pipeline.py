"""The pipeline format: round trip, half precision, errors naming the file, names, the Hub."""

from __future__ import annotations

import json
import pickle

import polydiff.core as pc
import pytest
import torch
from polydiff.core.pipeline import INDEX, Component, ModelCard, Pipeline, PipelineError
from polydiff.core.pipeline_hub import PRETRAINED_ENV, resolve_pipeline, shipped_pipelines
from torch import nn


class ToyPipeline(Pipeline):
    """A 2-d eps network, a VP process and DPM-Solver++ defaults."""

    component_names = ("net", "process", "sampler")

    def __init__(self, net: nn.Module, process, steps: int = 8):
        self.net, self.process, self.steps = net.eval(), process, steps

    @torch.no_grad()
    def __call__(self, n: int, generator: torch.Generator) -> torch.Tensor:
        x_T = self.process.prior_sample((n, 2), generator=generator)
        return pc.sample(lambda x, t: self.net(torch.cat([x, t.reshape(-1, 1).expand(len(x), 1)], 1)),
                         self.process, x_T, steps=self.steps, solver="dpmpp_2m", prediction="eps")

    def components(self):
        return {"net": Component({"width": 16}, self.net.state_dict()),
                "process": Component(self.process.config()),
                "sampler": Component({"solver": "dpmpp_2m", "steps": self.steps})}

    @classmethod
    def from_components(cls, components, device):
        net = _net(components["net"].config["width"], seed=99)  # other init: weights must load
        net.load_state_dict(components["net"].tensors)
        return cls(net.to(device), pc.process_from_config(components["process"].config),
                   components["sampler"].config["steps"])


def _net(width: int = 16, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, width), nn.SiLU(), nn.Linear(width, 2))


CARD = ModelCard(training_command="python train.py --steps 1", data="toy",
                 metrics=[{"task": "t", "dataset": "d", "metric": "RMSE", "value": 0.1,
                           "baseline": "b", "baseline_value": 0.2}])


@pytest.fixture
def saved(tmp_path):
    pipe = ToyPipeline(_net(), pc.VP())
    pipe.save_pretrained(tmp_path / "toy", card=CARD)
    return pipe, tmp_path / "toy"


def test_layout_index_and_model_card(saved):
    _, path = saved
    assert sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) == [
        "net/config.json", "net/weights.safetensors", INDEX, "process/config.json",
        "sampler/config.json"]
    index = json.loads((path / INDEX).read_text())
    assert index["class"].endswith(":ToyPipeline") and index["format"] == 1
    assert {"polydiff_version", "commit", "card", "files"} <= set(index)
    assert index["card"]["metrics"][0]["baseline_value"] == 0.2
    assert index["card"]["training_command"] == "python train.py --steps 1"


def test_round_trip_gives_identical_samples(saved, one_thread):
    pipe, path = saved
    loaded = ToyPipeline.from_pretrained(path)
    a = pipe(5, torch.Generator().manual_seed(3))
    b = loaded(5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert loaded.card == CARD and loaded.steps == 8


def test_half_precision_stores_fp16_and_equals_the_rounded_pipeline(tmp_path, one_thread):
    pipe = ToyPipeline(_net(), pc.VP())
    full = pipe.save_pretrained(tmp_path / "full")
    half = pipe.save_pretrained(tmp_path / "half", dtype=torch.float16)
    from safetensors.torch import load_file
    stored = load_file(str(half / "net" / "weights.safetensors"))
    assert {v.dtype for v in stored.values()} == {torch.float16}
    assert {v.dtype for v in load_file(str(full / "net" / "weights.safetensors")).values()} == {
        torch.float32}
    loaded = ToyPipeline.from_pretrained(half)
    rounded = _net()
    rounded.load_state_dict({k: v.half().float() for k, v in pipe.net.state_dict().items()})
    truth = ToyPipeline(rounded, pc.VP())
    g = lambda: torch.Generator().manual_seed(0)
    assert torch.equal(loaded(4, g()), truth(4, g()))
    assert loaded.net[0].weight.dtype == torch.float32


def test_missing_file_is_named(saved):
    _, path = saved
    (path / "net" / "weights.safetensors").unlink()
    with pytest.raises(PipelineError, match=r"net/weights\.safetensors: file is missing"):
        ToyPipeline.from_pretrained(path)


def test_missing_index_is_named(saved):
    _, path = saved
    (path / INDEX).unlink()
    with pytest.raises(PipelineError, match=r"pipeline\.json: file is missing"):
        ToyPipeline.from_pretrained(path)


@pytest.mark.parametrize("name", ["net/weights.safetensors", "process/config.json"])
def test_corrupt_file_is_named(saved, name):
    _, path = saved
    data = (path / name).read_bytes()
    (path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(PipelineError, match=rf"{name}: corrupt"):
        ToyPipeline.from_pretrained(path)


def test_pickle_is_never_loaded(saved, tmp_path):
    _, path = saved
    blob = pickle.dumps({"0.weight": torch.zeros(1)})
    (path / "net" / "weights.safetensors").write_bytes(blob)
    index = json.loads((path / INDEX).read_text())  # even with a matching checksum
    import hashlib
    index["files"]["net/weights.safetensors"] = {"bytes": len(blob),
                                                 "sha256": hashlib.sha256(blob).hexdigest()}
    (path / INDEX).write_text(json.dumps(index))
    with pytest.raises(PipelineError, match=r"weights\.safetensors: is a Python pickle"):
        ToyPipeline.from_pretrained(path)


def test_newer_format_and_other_class_are_clear(saved):
    _, path = saved
    index = json.loads((path / INDEX).read_text())
    (path / INDEX).write_text(json.dumps(dict(index, format=2, polydiff_version="9.0")))
    with pytest.raises(PipelineError, match=r"format 2 written by polydiff 9\.0.*upgrade polydiff"):
        ToyPipeline.from_pretrained(path)
    (path / INDEX).write_text(json.dumps(dict(index, polydiff_version="0.0.1")))
    with pytest.warns(UserWarning, match=r"written by polydiff 0\.0\.1"):
        ToyPipeline.from_pretrained(path)

    class Other(ToyPipeline):
        pass

    with pytest.raises(PipelineError, match=r"holds a .*ToyPipeline, not a .*Other"):
        Other.from_pretrained(path)


def test_shipped_names_resolve_offline_from_the_search_path(saved, tmp_path, monkeypatch):
    pipe, path = saved
    monkeypatch.setenv(PRETRAINED_ENV, str(path.parent))
    assert "toy" in shipped_pipelines() and resolve_pipeline("toy") == path
    loaded = ToyPipeline.from_pretrained("toy")
    assert torch.equal(loaded.net[0].weight, pipe.net[0].weight)
    with pytest.raises(PipelineError, match=r"'nope': no such folder and no shipped pipeline.*toy"):
        resolve_pipeline("nope")


def test_hub_id_without_network_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with pytest.raises(PipelineError, match=r"could not load pipeline 'polydiff/none' from the "
                                            r"Hugging Face Hub .*pass a local folder"):
        resolve_pipeline("polydiff/none")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import importlib

    import huggingface_hub.constants as hc
    importlib.reload(hc)  # the offline switch is read at import
    try:
        with pytest.raises(PipelineError, match="HF_HUB_OFFLINE is set"):
            resolve_pipeline("polydiff/none")
    finally:
        monkeypatch.delenv("HF_HUB_OFFLINE")
        importlib.reload(hc)


def test_bad_arguments_are_rejected(tmp_path):
    pipe = ToyPipeline(_net(), pc.VP())
    with pytest.raises(TypeError, match="name_or_path must be a str or path, got int"):
        ToyPipeline.from_pretrained(3)
    with pytest.raises(ValueError, match="dtype must be a floating torch.dtype"):
        pipe.save_pretrained(tmp_path / "x", dtype=torch.int8)
    with pytest.raises(TypeError, match="card must be a ModelCard"):
        pipe.save_pretrained(tmp_path / "x", card={"data": "d"})
    with pytest.raises(ValueError, match="ModelCard.metrics must be finite"):
        ModelCard(metrics=[{"value": float("nan")}])
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("mine")
    with pytest.raises(PipelineError, match="not a pipeline folder; refusing to replace"):
        pipe.save_pretrained(tmp_path / "plain")
    assert (tmp_path / "plain" / "keep.txt").read_text() == "mine"


def test_components_that_do_not_fit_are_named(saved):
    import hashlib

    _, path = saved
    blob = json.dumps({"solver": "dpmpp_2m"}).encode()  # "steps" missing
    (path / "sampler" / "config.json").write_bytes(blob)
    index = json.loads((path / INDEX).read_text())
    index["files"]["sampler/config.json"] = {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    (path / INDEX).write_text(json.dumps(index))
    with pytest.raises(PipelineError, match=r"components do not fit ToyPipeline: missing key 'steps'"):
        ToyPipeline.from_pretrained(path)
    (path / INDEX).write_text(json.dumps(dict(index, files=[])))
    with pytest.raises(PipelineError, match=r"pipeline\.json: 'files' must map each file"):
        ToyPipeline.from_pretrained(path)


def test_index_naming_files_outside_the_folder_is_refused(saved):
    _, path = saved
    index = json.loads((path / INDEX).read_text())
    evil = dict(index, components={**index["components"], "../outside": {"weights": False}})
    (path / INDEX).write_text(json.dumps(evil))
    with pytest.raises(PipelineError, match=r"component names \['\.\./outside'\] are not plain"):
        ToyPipeline.from_pretrained(path)
    files = dict(index["files"], **{"../x.json": {"bytes": 1, "sha256": "0"}})
    (path / INDEX).write_text(json.dumps(dict(index, files=files)))
    with pytest.raises(PipelineError, match=r"'files' lists \['\.\./x\.json'\] beyond"):
        ToyPipeline.from_pretrained(path)
