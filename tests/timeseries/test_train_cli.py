"""`python -m polydiff.timeseries.train`: forecasting, checkpoints during training, --resume."""
import json
import warnings

import pytest
from polydiff.timeseries import train

ARGS = ["--task", "forecast", "--data", "taylor", "--context", "12", "--horizon", "6",
        "--layers", "1", "--channels", "8", "--heads", "2", "--samples", "2", "--solver", "ddim",
        "--solver-steps", "2", "--stride", "200", "--batch-size", "4"]


def test_forecast_training_with_checkpoints_and_resume(tmp_path):
    out = str(tmp_path)
    scores = train.main([*ARGS, "--steps", "2", "--ckpt-every", "1", "--out", out])
    assert set(scores) == {"MAE", "RMSE", "CRPS", "CRPS-sample"}
    assert json.loads((tmp_path / "scores.json").read_text()) == scores
    assert (tmp_path / "run" / "step_00000001").is_dir()  # a checkpoint before the end
    assert (tmp_path / "forecaster.json").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train.main([*ARGS, "--steps", "3", "--ckpt-every", "1", "--resume", "--out", out])
    assert not [w for w in caught if "already holds checkpoints" in str(w.message)]
    assert (tmp_path / "run" / "latest").read_text().strip() == "step_00000003"
    with pytest.warns(UserWarning, match="already holds checkpoints"):  # no --resume: restart
        train.main([*ARGS, "--steps", "1", "--out", out])
