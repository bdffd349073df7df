"""The training loop: config, schedules, EMA, data order, bitwise resume, callbacks, files."""

from __future__ import annotations

import json
import math

import pytest
import torch
from polydiff.core.training import (
    EMA,
    CheckpointError,
    DataOrder,
    TrainConfig,
    Trainer,
    ema_decay_at,
    load_for_sampling,
    lr_factor,
    sample_data_parallel,
)
from torch import nn
from torch.utils.data import Dataset, TensorDataset


class TinyNet(nn.Module):
    def __init__(self, width: int = 16, dropout: float = 0.1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(3, width), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, 3)
        )
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.calls += 1
        return self.body(x)


def data(n=48):
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(5))


def denoise_loss(net, x, g):
    eps = torch.randn(x.shape, generator=g)
    t = torch.rand(x.shape[0], 1, generator=g)
    return ((net(torch.sqrt(1 - t) * x + torch.sqrt(t) * eps) - eps) ** 2).mean()


def make_trainer(cfg, width=16, **kw):
    torch.manual_seed(0)
    return Trainer(cfg, TinyNet(width), denoise_loss, data(), net_config={"width": width}, **kw)


# --- config ---------------------------------------------------------------------------------
def test_config_json_round_trip_and_validation():
    cfg = TrainConfig(steps=10, batch_size=4, betas=(0.8, 0.95), grad_clip=None, ckpt_dir="x")
    back = TrainConfig.from_json(cfg.to_json())
    assert back == cfg and back.betas == (0.8, 0.95)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(steps=1, batch_size=1, lr_schedule="linear")
    with pytest.raises(ValueError, match="grad_accum"):
        TrainConfig(steps=1, batch_size=3, grad_accum=2)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainConfig.from_dict({"steps": 1, "batch_size": 1, "lr_rate": 3})
    with pytest.raises(TypeError, match="steps"):
        TrainConfig(steps=1.5, batch_size=1)


def test_lr_factor_multistep_as_csdi():
    cfg = TrainConfig(steps=100, batch_size=2, lr_schedule="multistep")
    assert [lr_factor(s, cfg) for s in (0, 74, 75, 89, 90, 99)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_lr_factor_warmup_and_cosine():
    cfg = TrainConfig(steps=110, batch_size=1, warmup_steps=10, lr_schedule="cosine")
    assert lr_factor(0, cfg) == pytest.approx(0.1) and lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(10, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_factor(110, cfg) == pytest.approx(0.0, abs=1e-12)
    const = cfg.replace(lr_schedule="constant")
    assert lr_factor(100, const) == 1.0


def test_ema_decay_warmups_follow_the_formulas():
    # score-SDE / LDM: counter incremented first, then min(decay, (1 + n) / (10 + n))
    assert ema_decay_at(1, 0.9999, "tf") == pytest.approx(2 / 11)
    assert ema_decay_at(990, 0.9999, "tf") == pytest.approx(991 / 1000)
    assert ema_decay_at(10**7, 0.9999, "tf") == 0.9999
    # diffusers EMAModel(inv_gamma=1, power=p): 1 - (1 + (t - 1)) ** -p, first update copies
    assert ema_decay_at(1, 0.9999, "power", 0.75) == 0.0
    assert ema_decay_at(8, 0.9999, "power", 0.75) == pytest.approx(1 - 8**-0.75)
    assert ema_decay_at(3, 0.5, "none") == 0.5
    with pytest.raises(ValueError, match="warm-up"):
        ema_decay_at(1, 0.9, "karras")
    with pytest.raises(ValueError, match=">= 1"):
        ema_decay_at(0, 0.9, "tf")


def test_ema_update_is_the_weighted_average():
    net = nn.Linear(2, 2)
    ema = EMA(net, decay=0.9, warmup="tf")
    w0 = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    d = ema.update(net)  # first update: decay 2/11
    assert d == pytest.approx(2 / 11)
    torch.testing.assert_close(ema.module.weight, d * w0 + (1 - d) * (w0 + 1.0))
    with torch.no_grad():
        net.weight.add_(1.0)
    d2 = ema.update(net)
    assert d2 == pytest.approx(3 / 12) and ema.num_updates == 2
    expected = d2 * (d * w0 + (1 - d) * (w0 + 1.0)) + (1 - d2) * (w0 + 2.0)
    torch.testing.assert_close(ema.module.weight, expected)
    assert not ema.module.weight.requires_grad and not ema.module.training


# --- data order -----------------------------------------------------------------------------
def test_data_order_permutes_each_epoch_and_shards_like_accumulation():
    order = DataOrder(50, 8, seed=1)
    assert order.steps_per_epoch == 6
    epoch0 = torch.cat([order.indices(s, 0) for s in range(6)])
    assert len(set(epoch0.tolist())) == 48  # no repeats within an epoch (2 dropped)
    assert not torch.equal(order.permutation(0), order.permutation(1))
    ranks = [DataOrder(50, 8, seed=1, rank=r, world_size=2) for r in range(2)]
    accum = DataOrder(50, 8, seed=1, grad_accum=2)
    for s in (0, 7, 13):
        assert torch.equal(
            torch.cat([ranks[0].indices(s, 0), ranks[1].indices(s, 0)]), order.indices(s, 0)
        )
        assert torch.equal(ranks[1].indices(s, 0), accum.indices(s, 1))
    assert order.position(13) == {
        "epoch": 2,
        "batch_in_epoch": 1,
        "samples_seen": 104,
        "dataset_len": 50,
        "seed": 1,
    }
    with pytest.raises(ValueError, match="fewer than one batch"):
        DataOrder(5, 8, seed=0)


# --- resume ---------------------------------------------------------------------------------
def _params(trainer):
    return {
        **{f"net.{k}": v.clone() for k, v in trainer.net.state_dict().items()},
        **{f"ema.{k}": v.clone() for k, v in trainer.ema.state_dict().items()},
    }


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_is_bitwise_identical_to_a_straight_run(tmp_path, precision):
    cfg = TrainConfig(
        steps=14,
        batch_size=8,
        lr=3e-3,
        warmup_steps=3,
        lr_schedule="cosine",
        grad_clip=0.5,
        grad_accum=2,
        ema_decay=0.99,
        log_every=1,
        seed=11,
        precision=precision,
    )
    straight = make_trainer(cfg)
    h_straight = straight.fit()

    run = tmp_path / "run"
    first = make_trainer(cfg.replace(ckpt_dir=str(run), ckpt_every=4))
    first.fit(max_steps=7)  # stops mid-epoch (6 steps per epoch), checkpoint at 7
    assert (run / "latest").read_text().strip() == "step_00000007"
    torch.randn(100)  # disturb the global RNG: dropout must still replay exactly
    second = make_trainer(cfg.replace(ckpt_dir=str(run), ckpt_every=4))
    h_second = second.fit(resume=True)
    assert second.step == 14
    a, b = _params(straight), _params(second)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["loss"] for h in h_second] == [h["loss"] for h in h_straight[7:]]
    for p_a, p_b in zip(straight.optimizer.state.values(), second.optimizer.state.values()):
        assert torch.equal(p_a["exp_avg_sq"], p_b["exp_avg_sq"])
    # the metrics file holds one consistent trajectory 1..14
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 15))


def test_resume_refuses_changed_training_config_and_dataset(tmp_path):
    cfg = TrainConfig(steps=4, batch_size=8, ckpt_dir=str(tmp_path), log_every=2)
    make_trainer(cfg).fit()
    with pytest.raises(CheckpointError, match=r"config.json.*\['lr'\]"):
        make_trainer(cfg.replace(lr=1e-3, steps=8)).fit(resume=True)
    extended = make_trainer(cfg.replace(steps=6))  # extending a run is allowed
    extended.fit(resume=True)
    assert extended.step == 6
    with pytest.raises(CheckpointError, match="net_config.*width"):
        make_trainer(cfg.replace(steps=8), width=8).fit(resume=True)


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    trainer = make_trainer(TrainConfig(steps=2, batch_size=8, ckpt_dir=str(tmp_path / "r")))
    assert trainer.fit(resume=True) and trainer.step == 2


# --- callbacks, files, loading ----------------------------------------------------------------
def test_callbacks_metrics_plot_and_keep_last(tmp_path):
    seen = []

    def eval_fn(net, step):
        seen.append(("eval", step, net.training))
        return {"mse": 0.5}

    def sample_fn(net, step, out_dir):
        seen.append(("sample", step, out_dir.name))

    cfg = TrainConfig(
        steps=6,
        batch_size=8,
        ckpt_dir=str(tmp_path),
        ckpt_every=1,
        keep_last=2,
        log_every=3,
        eval_every=2,
        sample_every=3,
        plot=True,
    )
    trainer = make_trainer(cfg, eval_fn=eval_fn, sample_fn=sample_fn)
    hist = trainer.fit()
    assert seen == [
        ("eval", 2, False),
        ("sample", 3, "samples"),
        ("eval", 4, False),
        ("eval", 6, False),
        ("sample", 6, "samples"),
    ]
    assert [h["step"] for h in hist if "loss" in h] == [3, 6]
    assert {"step": 4, "eval/mse": 0.5} in hist
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_00000005", "step_00000006"]
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert (tmp_path / "loss.csv").read_text().splitlines()[0] == "step,loss,lr"
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [2, 3, 4, 6, 6]  # eval 2, log 3, eval 4, log 6, eval 6
    rec = recs[1]
    assert {"step", "loss", "lr", "grad_norm", "samples_per_s"} <= set(rec)
    assert math.isfinite(rec["loss"]) and rec["samples_per_s"] > 0


def test_load_for_sampling_returns_the_ema_network(tmp_path):
    cfg = TrainConfig(steps=3, batch_size=8, ckpt_dir=str(tmp_path), ema_decay=0.5)
    trainer = make_trainer(cfg, extra={"process": {"name": "VP", "beta_max": 20.0}})
    trainer.fit()
    net, net_config, extra = load_for_sampling(tmp_path, TinyNet)
    assert net_config == {"width": 16} and extra["process"]["beta_max"] == 20.0
    assert not net.training
    for k, v in trainer.ema.state_dict().items():
        assert torch.equal(net.state_dict()[k], v)
    assert not torch.equal(net.body[0].weight, trainer.net.body[0].weight)


def test_dataset_kinds_and_bad_inputs():
    class Pairs(Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, i):
            return {"x": torch.full((3,), float(i))}

    got = []

    def loss(net, batch, g):
        got.append(batch)
        return net(batch["x"] if isinstance(batch, dict) else batch[0]).pow(2).mean()

    cfg = TrainConfig(steps=2, batch_size=4, log_every=1)
    Trainer(cfg, TinyNet(), loss, Pairs(), net_config={}).fit()
    Trainer(cfg, TinyNet(), loss, TensorDataset(torch.randn(8, 3)), net_config={}).fit()
    assert got[0]["x"].shape == (4, 3) and isinstance(got[-1], list)
    with pytest.raises(ValueError, match="scalar"):
        Trainer(cfg, TinyNet(), lambda n, b, g: n(b), data(), net_config={}).fit()
    with pytest.raises(TypeError, match="net_config"):
        Trainer(cfg, TinyNet(), loss, data(), net_config={"f": object()})
    with pytest.raises(ValueError, match="fewer than one batch"):
        Trainer(cfg, TinyNet(), loss, data(2), net_config={})
    with pytest.raises(FloatingPointError, match="step 1"):
        Trainer(
            cfg, TinyNet(), lambda n, b, g: n(b).sum() * float("nan"), data(), net_config={}
        ).fit()


def test_sample_data_parallel_single_process_is_fn_of_seeds():
    def fn(seeds):
        return torch.stack(
            [torch.randn(2, generator=torch.Generator().manual_seed(s)) for s in seeds]
        )

    seeds = [4, 9, 1]
    assert torch.equal(sample_data_parallel(fn, 3, seeds, batch_size=2), fn(seeds))
    with pytest.raises(ValueError, match="3 seeds for n=4"):
        sample_data_parallel(fn, 4, seeds)
    with pytest.raises(ValueError, match="first dimension"):
        sample_data_parallel(lambda s: torch.zeros(1), 3, seeds)


def test_worker_processes_feed_the_same_batches():
    class Rows(Dataset):
        def __init__(self):
            self.x = data()  # the rows make_trainer's tensor dataset holds

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    cfg = TrainConfig(steps=5, batch_size=8, grad_accum=2, log_every=5)
    runs = []
    for workers, dataset in ((0, None), (0, Rows()), (1, Rows())):
        trainer = make_trainer(cfg.replace(num_workers=workers))  # seeds the global RNG
        if dataset is not None:
            trainer.dataset = dataset  # same rows as the tensor, through a DataLoader
        trainer.fit()  # dropout draws from the global RNG: the loader must not
        runs.append(trainer)
    for other in runs[1:]:
        for a, b in zip(runs[0].net.parameters(), other.net.parameters()):
            assert torch.equal(a, b)


def test_bf16_precision_autocasts_the_loss_only():
    seen = []

    def loss(net, x, g):
        y = net(x)
        seen.append((torch.is_autocast_enabled("cpu"), y.dtype))
        return y.float().pow(2).mean()

    cfg = TrainConfig(steps=2, batch_size=8, precision="bf16", log_every=1)
    trainer = Trainer(cfg, TinyNet(), loss, data(), net_config={})
    trainer.fit()
    assert seen == [(True, torch.bfloat16)] * 2
    assert all(p.dtype == torch.float32 for p in trainer.net.parameters())
    assert all(p.dtype == torch.float32 for p in trainer.ema.parameters())
