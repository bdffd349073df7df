"""The shared training flags: one parser, resume of an extended run, seeded initialisation,
and DDP attribute fall-through."""

from __future__ import annotations

import argparse

import pytest
import torch
import torch.distributed as dist
from polydiff.core.training import (
    CheckpointError,
    Trainer,
    is_main_process,
    seeded_init,
    train_config,
    train_parser,
    unwrap,
)
from polydiff.core.training.distributed import wrap_ddp
from torch import nn

SHARED = ("--steps", "--batch-size", "--lr", "--seed", "--out", "--resume", "--ckpt-every",
          "--device")


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 8), nn.SiLU(), nn.Linear(8, 3))


def _data() -> torch.Tensor:
    return torch.randn(40, 3, generator=torch.Generator().manual_seed(1))


def _loss(net, batch, g):
    eps = torch.randn(batch.shape, generator=g)
    return ((net(batch + 0.3 * eps) - eps) ** 2).mean()


def _args(out, *extra: str) -> argparse.Namespace:
    return train_parser("demo", "demo", steps=10, batch_size=8, lr=1e-2).parse_args(
        ["--out", str(out), *extra])


def _script(out, *flags: str):
    """A training script as the domains write one: warm-up derived from --steps."""
    a = _args(out, *flags)
    cfg = train_config(a, warmup_steps=max(1, a.steps // 4), ema_decay=0.9, log_every=1)
    net = seeded_init(_net, a.seed)
    trainer = Trainer(cfg, net, _loss, _data(), net_config={"w": 8})
    trainer.fit(resume=a.resume)
    return trainer


def test_parser_has_the_shared_flags_and_one_program_name():
    p = train_parser("vision", "Train vision.", steps=100, batch_size=4, lr=2e-4)
    text = p.format_help()
    assert p.prog == "polydiff train vision" and text.startswith("usage: polydiff train vision")
    for flag in SHARED:
        assert flag in text
    a = p.parse_args(["--out", "x"])
    assert (a.steps, a.batch_size, a.lr, a.seed, a.resume, a.ckpt_every, a.device) == (
        100, 4, 2e-4, 0, False, None, "cpu")


@pytest.mark.parametrize("flags", [["--steps", "0"], ["--lr", "-1"], ["--seed", "-2"],
                                   ["--batch-size", "x"], []])
def test_parser_rejects_bad_values(flags, capsys):
    p = train_parser("vision", "Train vision.", steps=100, batch_size=4, lr=2e-4)
    with pytest.raises(SystemExit):
        p.parse_args(flags)  # [] lacks the required --out
    assert "polydiff train vision" in capsys.readouterr().err


def test_train_config_rejects_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="args must be an argparse.Namespace"):
        train_config({"steps": 1})
    with pytest.raises(ValueError, match="lacks the shared flags"):
        train_config(argparse.Namespace(steps=1))
    with pytest.raises(ValueError, match=r"\['steps'\] come from the shared flags"):
        train_config(_args(tmp_path), steps=3)
    with pytest.raises(ValueError, match="may change on resume anyway"):
        train_config(_args(tmp_path), derived=("steps",))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        seeded_init(_net, -1)
    with pytest.raises(TypeError, match="factory must be callable"):
        seeded_init(3, 0)


def test_ckpt_every_defaults_to_a_tenth_of_the_steps(tmp_path):
    assert train_config(_args(tmp_path, "--steps", "50")).ckpt_every == 5
    assert train_config(_args(tmp_path, "--ckpt-every", "0")).ckpt_every == 0


def test_finished_run_extended_with_more_steps_equals_the_longer_run(tmp_path, one_thread):
    short = _script(tmp_path / "a")  # 10 steps, warm-up 2
    assert short.step == 10
    extended = _script(tmp_path / "a", "--steps", "20", "--resume")  # warm-up 5 if re-derived
    assert extended.step == 20 and extended.cfg.warmup_steps == 2
    # truth: a run trained for 20 steps from the start with the stored warm-up (constant
    # schedule: the first 10 steps are those of the short run)
    a = _args(tmp_path / "b", "--steps", "20")
    cfg = train_config(a, warmup_steps=2, ema_decay=0.9, log_every=1)
    straight = Trainer(cfg, seeded_init(_net, 0), _loss, _data(), net_config={"w": 8})
    straight.fit()
    for k, v in straight.net.state_dict().items():
        assert torch.equal(extended.net.state_dict()[k], v), k
    for k, v in straight.ema.state_dict().items():
        assert torch.equal(extended.ema.state_dict()[k], v), k


def test_re_derived_warmup_is_what_fails_without_train_config(tmp_path, one_thread):
    _script(tmp_path / "a")
    a = _args(tmp_path / "a", "--steps", "20", "--resume")
    cfg = train_config(a, derived=(), warmup_steps=5, ema_decay=0.9, log_every=1)
    trainer = Trainer(cfg, seeded_init(_net, 0), _loss, _data(), net_config={"w": 8})
    with pytest.raises(CheckpointError, match="warmup_steps"):
        trainer.fit(resume=True)


def test_same_seed_same_initial_loss_other_seed_differs(tmp_path, one_thread):
    first = [_script(tmp_path / f"s{i}", "--seed", s, "--steps", "1").history[0]["loss"]
             for i, s in enumerate(("3", "3", "4"))]
    assert first[0] == first[1] and first[0] != first[2]


def test_seeded_init_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = seeded_init(_net, 5)
    assert torch.equal(torch.rand(3), expected)
    b = seeded_init(_net, 5)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


class _WithAttributes(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.null_class = 10

    def embed_tokens(self, x):
        return self.lin(x) * 2

    def forward(self, x):
        return self.lin(x)


def test_ddp_wrapper_reads_attributes_of_the_raw_network(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    if dist.is_initialized():
        pytest.skip("a process group is already initialised")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        net = _WithAttributes()
        ddp = wrap_ddp(net, torch.device("cpu"))
        assert isinstance(ddp, nn.parallel.DistributedDataParallel)
        assert ddp.null_class == 10 and unwrap(ddp) is net and unwrap(net) is net
        x = torch.randn(4, 2)
        torch.testing.assert_close(ddp.embed_tokens(x), net.embed_tokens(x))
        torch.testing.assert_close(ddp(x), net(x))
        with pytest.raises(AttributeError, match="no_such"):
            ddp.no_such  # noqa: B018
        assert is_main_process()
    finally:
        dist.destroy_process_group()
    with pytest.raises(TypeError, match="net must be an nn.Module"):
        unwrap(3)

