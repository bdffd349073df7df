"""Checkpoints: never unpickled, every corruption named, writes survive SIGKILL."""

from __future__ import annotations

import importlib.util
import pickle
import re
from pathlib import Path

import pytest
import torch
from polydiff.core.training import (
    CheckpointError,
    Trainer,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from polydiff.core.training.serialize import flatten_state, unflatten_state
from safetensors.torch import save_file

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
_spec = importlib.util.spec_from_file_location("dist_worker", HERE / "dist_worker.py")
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)
_fw_spec = importlib.util.spec_from_file_location("fault_worker", ROOT / "tests" / "reliability" / "fault_worker.py")
FW = importlib.util.module_from_spec(_fw_spec)  # its kill_when SIGKILLs a worker at a chosen moment
_fw_spec.loader.exec_module(FW)




@pytest.fixture
def ckpt(tmp_path) -> Path:
    net = W.make_net()
    path = save_checkpoint(
        tmp_path,
        5,
        model=net.state_dict(),
        ema=net.state_dict(),
        optim={"optimizer.state.0.exp_avg": torch.ones(3)},
        rng={},
        config={"steps": 5},
        net_config={"width": 16, "depth": 2},
        extra={"process": "VP"},
    )
    return path


def test_round_trip_and_latest(ckpt, tmp_path):
    assert (tmp_path / "latest").read_text().strip() == "step_00000005"
    ck = load_checkpoint(tmp_path, net=W.make_net(), net_config={"width": 16, "depth": 2})
    assert ck.step == 5 and ck.extra == {"process": "VP"} and ck.path == ckpt
    for k, v in W.make_net().state_dict().items():
        assert torch.equal(ck.model[k], v)
    assert not list(tmp_path.glob(".tmp-*"))


def test_optimizer_state_flattening_round_trips_exactly():
    net = W.make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.1, betas=(0.8, 0.9))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, tree = flatten_state(opt.state_dict(), "optimizer")
    back = unflatten_state(tree, tensors, "x")
    ref = opt.state_dict()
    assert back["param_groups"] == ref["param_groups"]  # betas stay a tuple, ids stay ints
    assert back["state"].keys() == ref["state"].keys()
    for i in ref["state"]:
        for k, v in ref["state"][i].items():
            assert torch.equal(back["state"][i][k], v)
    with pytest.raises(TypeError, match="without pickle"):
        flatten_state({"f": object()}, "x")


def _load(tmp_path):
    return load_checkpoint(tmp_path, net=W.make_net(), net_config={"width": 16, "depth": 2})


@pytest.mark.parametrize(
    "writer,needle",
    [
        (lambda p, sd: torch.save(sd, p), "zip archive"),
        (lambda p, sd: p.write_bytes(pickle.dumps(dict(sd))), "pickle"),
    ],
)
def test_pickle_in_place_of_weights_is_refused_without_unpickling(ckpt, tmp_path, writer, needle):
    marker = tmp_path / "unpickled"

    class Bomb:  # would create ``marker`` if anything unpickled the file
        def __reduce__(self):
            return (Path.touch, (marker,))

    sd = dict(W.make_net().state_dict())
    sd["bomb"] = Bomb()
    writer(ckpt / "model.safetensors", sd)
    with pytest.raises(
        CheckpointError, match=rf"model\.safetensors: .*{needle}.*refusing to unpickle"
    ):
        _load(tmp_path)
    assert not marker.exists()


def test_truncated_files_are_named(ckpt, tmp_path):
    data = (ckpt / "ema.safetensors").read_bytes()
    (ckpt / "ema.safetensors").write_bytes(data[: len(data) - 40])
    with pytest.raises(CheckpointError, match=r"ema\.safetensors: truncated"):
        _load(tmp_path)
    (ckpt / "ema.safetensors").write_bytes(data[:5])
    with pytest.raises(CheckpointError, match=r"ema\.safetensors: truncated"):
        _load(tmp_path)
    (ckpt / "ema.safetensors").write_bytes(data)
    text = (ckpt / "state.json").read_bytes()
    (ckpt / "state.json").write_bytes(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match=r"state\.json: not valid JSON"):
        _load(tmp_path)


def test_missing_extra_and_misshapen_keys_are_named(ckpt, tmp_path):
    sd = {k: v.clone() for k, v in W.make_net().state_dict().items()}
    bias = sd.pop("2.bias")
    save_file(sd, str(ckpt / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: missing keys \['2\.bias'\]"):
        _load(tmp_path)
    sd["2.bias"], sd["extra.w"] = bias, torch.zeros(1)
    save_file(sd, str(ckpt / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected keys \['extra\.w'\]"):
        _load(tmp_path)
    del sd["extra.w"]
    sd["0.weight"] = torch.zeros(16, 4)
    save_file(sd, str(ckpt / "model.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatch 0\.weight: checkpoint \(16, 4\) vs network \(16, 3\)",
    ):
        _load(tmp_path)


def test_modified_bytes_fail_the_checksum(ckpt, tmp_path):
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[-1] ^= 0x01  # flip one bit of the last weight: still a valid file
    (ckpt / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: sha256 differs"):
        _load(tmp_path)


def test_mismatched_net_config_names_the_keys(ckpt, tmp_path):
    with pytest.raises(CheckpointError, match=r"net_config\.json: .*keys \['depth', 'width'\]"):
        load_checkpoint(tmp_path, net_config={"width": 32, "depth": 3})
    with pytest.raises(CheckpointError, match=r"keys \['act'\]"):
        load_checkpoint(tmp_path, net_config={"width": 16, "depth": 2, "act": "silu"})


def test_bad_latest_pointer_and_missing_dir(ckpt, tmp_path):
    (tmp_path / "latest").write_text("../../etc")
    with pytest.raises(CheckpointError, match="latest: does not name a checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_checkpoint(tmp_path / "nothing-here")


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    run = tmp_path / "run"
    victims: list = []

    def half_written() -> bool:  # one checkpoint complete and the next one half written
        if (run / "latest").exists():
            victims.extend(p for p in run.glob(".tmp-step_*") if len(list(p.iterdir())) >= 3)
        return bool(victims)

    FW.kill_when(["crash", str(run)], half_written, timeout=60, script=HERE / "dist_worker.py",
                 env={"POLYDIFF_CKPT_WRITE_DELAY": "0.1"})
    victim = victims[0]
    killed_step = int(victim.name.split("-")[1].split("_")[1])
    previous = (run / "latest").read_text().strip()
    assert int(previous.split("_")[1]) == killed_step - 2
    assert not (run / f"step_{killed_step:08d}").exists()
    ck = load_checkpoint(run, net=W.make_net(dropout=0.2), net_config={"width": 16})
    assert ck.step == killed_step - 2

    # resume from it and finish: bitwise equal to an uninterrupted in-process run
    cfg = W.crash_config(str(run)).replace(steps=ck.step + 4)
    resumed = Trainer(
        cfg, W.make_net(dropout=0.2), W.denoising_loss, W.make_data(), net_config={"width": 16}
    )
    resumed.fit(resume=True)
    straight = Trainer(
        cfg.replace(ckpt_dir=None),
        W.make_net(dropout=0.2),
        W.denoising_loss,
        W.make_data(),
        net_config={"width": 16},
    )
    straight.fit()
    for (k, a), b in zip(straight.net.state_dict().items(), resumed.net.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)
    assert not list(run.glob(".tmp-*"))  # the killed writer's debris was cleaned up


def test_optimizer_file_with_missing_or_extra_tensors_is_named(tmp_path):
    from safetensors.torch import load_file

    cfg = W.crash_config(str(tmp_path)).replace(steps=2)
    Trainer(cfg, W.make_net(), W.regression_loss, W.make_data(), net_config={"width": 16}).fit()
    optim = tmp_path / "step_00000002" / "optim.safetensors"
    tensors = load_file(str(optim))
    key = min(tensors)
    save_file({k: v for k, v in tensors.items() if k != key}, str(optim))
    with pytest.raises(
        CheckpointError, match=r"optim\.safetensors: missing keys \[" + re.escape(repr(key))
    ):
        load_checkpoint(tmp_path)
    save_file({**tensors, "optimizer.junk": torch.zeros(2)}, str(optim))
    with pytest.raises(CheckpointError, match=r"optim\.safetensors: unexpected keys"):
        Trainer(
            cfg.replace(steps=4),
            W.make_net(),
            W.regression_loss,
            W.make_data(),
            net_config={"width": 16},
        ).fit(resume=True)


def test_without_latest_the_newest_complete_checkpoint_is_used(ckpt, tmp_path):
    # a writer killed between the rename and the pointer update leaves no/old `latest`
    net = W.make_net()
    later = save_checkpoint(tmp_path, 9, model=net.state_dict(), config={}, net_config={})
    (tmp_path / "latest").unlink()
    (tmp_path / ".tmp-step_00000011-abc").mkdir()  # an unfinished write is never chosen
    (tmp_path / "step_00000010").mkdir()  # nor a directory without its manifest
    assert latest_checkpoint(tmp_path) == later
    assert load_checkpoint(tmp_path).step == 9
