"""Checkpoints during training, resume, and validation loss during training."""
import shutil

import numpy as np
import pytest
import torch
from polydiff.timeseries.impute import CSDIImputer

torch.set_num_threads(1)
TINY = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
        "diffusion_emb_dim": 16}


def _X(seed=0):
    rng = np.random.default_rng(seed)
    X = np.sin(np.arange(10)[None, :, None] / 2 + rng.normal(size=(12, 1, 2)))
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 0] = 0.5
    return X


def _weights(imp):
    return {k: v.clone() for k, v in imp.net.state_dict().items()}


def test_resume_from_a_mid_run_checkpoint_equals_the_straight_run(tmp_path):
    # dropout draws from torch's global RNG, which the trainer neither seeds nor restores:
    # with dropout on, even two straight runs differ; the resume is exact without it
    kw = {"net": dict(TINY, dropout=0.0), "train_steps": 6, "batch_size": 4}
    straight = _weights(CSDIImputer(2, **kw).fit(_X()))
    CSDIImputer(2, **kw).fit(_X(), ckpt_dir=tmp_path, ckpt_every=3)
    assert (tmp_path / "step_00000003").is_dir() and (tmp_path / "step_00000006").is_dir()
    shutil.rmtree(tmp_path / "step_00000006")  # as if killed after step 3
    (tmp_path / "latest").write_text("step_00000003")
    resumed = CSDIImputer(2, **kw).fit(_X(), ckpt_dir=tmp_path, resume=True)
    assert resumed.trained_steps == 6
    for k, v in _weights(resumed).items():
        torch.testing.assert_close(v, straight[k], rtol=0, atol=0)


def test_validation_loss_is_reported_during_training():
    imp = CSDIImputer(2, net=TINY, train_steps=4, batch_size=4)
    imp.fit(_X(), val_set=_X(1), eval_every=2)
    assert [s for s, _ in imp.val_losses] == [2, 4]
    assert imp.val_losses[-1][1] == pytest.approx(imp.val_loss, rel=1e-6)  # same net, same seed
    with pytest.raises(ValueError, match="eval_every needs val_set"):
        imp.fit(_X(), eval_every=2)
    with pytest.raises(ValueError, match="need ckpt_dir"):
        imp.fit(_X(), resume=True)
    with pytest.raises(ValueError, match="ckpt_every must be an int >= 0"):
        imp.fit(_X(), ckpt_every=-1, ckpt_dir="x")
