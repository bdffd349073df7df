"""A 2-process gloo run under torchrun equals the single-process run with the same global batch."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from polydiff.core.training import Trainer, load_checkpoint, sample_data_parallel
from safetensors.torch import load_file

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
_spec = importlib.util.spec_from_file_location("dist_worker", HERE / "dist_worker.py")
W = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(W)


@pytest.fixture(scope="module")
def ddp_out(tmp_path_factory, torchrun_job) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    proc = torchrun_job([HERE / "dist_worker.py", "ddp", out], timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out




def _single(loss_fn, grad_accum: int):
    trainer = Trainer(
        W.ddp_config(None, grad_accum),
        W.make_net(seed=0),
        loss_fn,
        W.make_data(),
        net_config={"width": 16},
    )
    hist = trainer.fit()
    return [h["loss"] for h in hist], trainer


@pytest.mark.parametrize(
    "name,loss_fn,grad_accum",
    [
        ("regression", W.regression_loss, 1),  # whole global batch in one call
        ("denoising", W.denoising_loss, 2),  # same chunks (and generator seeds) as the 2 ranks
    ],
)
def test_two_process_gloo_matches_single_process(ddp_out, one_thread, name, loss_fn, grad_accum):
    losses, trainer = _single(loss_fn, grad_accum)
    ddp_losses = json.loads((ddp_out / f"{name}.json").read_text())
    assert len(ddp_losses) == len(losses) == 12
    torch.testing.assert_close(torch.tensor(ddp_losses), torch.tensor(losses), rtol=1e-5, atol=1e-6)
    ddp_state = load_file(str(ddp_out / f"{name}.safetensors"))
    for k, v in trainer.net.state_dict().items():
        torch.testing.assert_close(ddp_state[f"net.{k}"], v, rtol=1e-5, atol=1e-6)
    for k, v in trainer.ema.state_dict().items():
        torch.testing.assert_close(ddp_state[f"ema.{k}"], v, rtol=1e-5, atol=1e-6)
    # the run really trained (not a trivially equal pair of untouched networks)
    assert not torch.allclose(ddp_state["net.0.weight"], W.make_net(seed=0)[0].weight)


def test_losses_reading_attributes_of_the_raw_network_train_as_single_process(ddp_out, one_thread):
    """The DDP wrapper lets a loss read ``net.scale`` and call ``net.embed`` (vision's
    ``null_class``, text's ``embed_tokens``) and still averages those parameters' gradients."""
    trainer = Trainer(W.ddp_config(None), W.EmbedNet(seed=0), W.attribute_loss, W.make_data(),
                      net_config={"width": 8})
    losses = [h["loss"] for h in trainer.fit()]
    torch.testing.assert_close(torch.tensor(json.loads((ddp_out / "attribute.json").read_text())),
                               torch.tensor(losses), rtol=1e-5, atol=1e-6)
    ddp_state = load_file(str(ddp_out / "attribute.safetensors"))
    for k, v in trainer.net.state_dict().items():
        torch.testing.assert_close(ddp_state[f"net.{k}"], v, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ddp_state["net.inp.weight"], W.EmbedNet(seed=0).inp.weight)


def test_ddp_checkpoint_written_once_with_every_ranks_rng(ddp_out):
    run = ddp_out / "run"
    assert (run / "latest").read_text().strip() == "step_00000012"
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("step_")) == [
        "step_00000006",
        "step_00000012",
    ]
    ck = load_checkpoint(run, net=W.make_net(), net_config={"width": 16})
    assert ck.step == 12 and ck.state["world_size"] == 2
    assert {"rank0/torch_cpu", "rank1/torch_cpu"} <= set(ck.rng)
    # rank 0 alone wrote metrics: one record per step, not two
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == list(range(1, 13))


def test_data_parallel_sampling_equals_single_process(ddp_out, one_thread):
    seeds = [11, 5, 3, 8, 1, 42, 7]
    got = load_file(str(ddp_out / "samples.safetensors"))
    single = sample_data_parallel(W.sample_fn, len(seeds), seeds, batch_size=1)
    assert torch.equal(got["single"], single)  # same per-sample computation: bitwise
    whole = W.sample_fn(seeds)  # one batch of 7 vs shards of 4 and 3: equal up to rounding
    torch.testing.assert_close(got["batched"], whole, rtol=1e-6, atol=1e-6)
    assert torch.equal(got["lone"], W.sample_fn([42]))
    # the order is the seeds' order: sample i is fn([seeds[i]])
    torch.testing.assert_close(got["batched"][5], W.sample_fn([42])[0], rtol=1e-6, atol=1e-6)


def test_ddp_resume_from_a_checkpoint_is_bitwise(ddp_out):
    straight = load_file(str(ddp_out / "regression.safetensors"))
    resumed = load_file(str(ddp_out / "resumed.safetensors"))
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k
