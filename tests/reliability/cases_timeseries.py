"""Catalogue cases of polydiff.timeseries."""
from __future__ import annotations

from pathlib import Path

import torch
from cases_common import MISSING, Case


def _timeseries_cases() -> list[Case]:
    import numpy as np
    from polydiff.timeseries import calibration, masks, metrics
    from polydiff.timeseries.baselines import linear_interpolation, locf
    from polydiff.timeseries.data import Normalizer, split_by_time, windows
    from polydiff.timeseries.data_paper import load_beijing_pm25, load_physionet2012
    from polydiff.timeseries.diffusion import sample_imputations
    from polydiff.timeseries.forecast import CSDIForecaster, ets_samples, seasonal_naive
    from polydiff.timeseries.gluonts_api import CSDIEstimator
    from polydiff.timeseries.impute import CSDIImputer, ImputerConfig, check_series
    from polydiff.timeseries.pypots_api import indicating_mask
    from polydiff.timeseries.statespace import kalman_smoother, var1_model

    S, y, m = np.ones((2, 4, 3, 1)), np.ones((2, 3, 1)), np.ones((2, 3, 1), dtype=bool)
    nan_draw = np.where(np.arange(4)[None, :, None, None] == 1, np.nan, S)
    obs = torch.ones(2, 5, 3)
    return [
        Case("timeseries.metrics.mae", "mask with values other than 0/1 (was cast to True)",
             lambda: metrics.mae(S, y, np.full((2, 3, 1), 2)), ValueError, "mask must hold only 0 and 1"),
        Case("timeseries.metrics.sample_crps", "mask [1, L, K] for a batch of 2 (no broadcasting)",
             lambda: metrics.sample_crps(S, y, m[:1]), ValueError, r"mask must have shape \(2, 3, 1\)"),
        Case("timeseries.metrics.sample_crps", "NaN in the samples (was a NaN score)",
             lambda: metrics.sample_crps(nan_draw, y, m), ValueError, "samples have NaN/inf on evaluated entries"),
        Case("timeseries.metrics.quantile_crps", "quantile level outside (0, 1) (was a numpy error)",
             lambda: metrics.quantile_crps(S, y, m, quantiles=(0.5, 1.5)), ValueError,
             r"quantiles\[1\] must lie in \(0, 1\)"),
        Case("timeseries.metrics.quantile_crps", "no draws (was an IndexError)", lambda: metrics.quantile_crps(S[:, :0], y, m),
             ValueError, "samples must hold at least one draw"),
        Case("timeseries.metrics.quantile_loss", "forecast [1, ...] broadcast over the target",
             lambda: metrics.quantile_loss(y, y[:1], 0.5), ValueError, "forecast must have the shape of target"),
        Case("timeseries.metrics.quantile_loss", "q outside (0, 1) (was accepted)", lambda: metrics.quantile_loss(y, y, 2.0),
             ValueError, r"q must lie in \(0, 1\)"),
        Case("timeseries.calibration.interval_coverage", "NaN in the samples (was a silent coverage)",
             lambda: calibration.interval_coverage(nan_draw, y, m, 0.5), ValueError, "samples have NaN/inf"),
        Case("timeseries.calibration.posterior_scores", "reference_crps = inf (was a CRPS ratio of 0)",
             lambda: calibration.posterior_scores(S, y, m, S, reference_crps=float("inf")), ValueError,
             "reference_crps must be a finite number"),
        Case("timeseries.calibration.energy_distance", "no draws (was a reshape error)",
             lambda: calibration.energy_distance(S[:, :0], S, m), ValueError, "need at least one draw"),
        Case("timeseries.masks.random_mask", "observed_mask not 0/1 (was read as observed)",
             lambda: masks.random_mask(2 * obs), ValueError, "observed_mask must hold only 0 and 1"),
        Case("timeseries.masks.historical_mask", "pattern_mask of the wrong batch size",
             lambda: masks.historical_mask(obs, obs[:1]), ValueError, r"pattern_mask \(1, 5, 3\) must match"),
        Case("timeseries.sample_imputations", "cond_mask with values other than 0/1 (was used as weights)",
             lambda: sample_imputations(None, None, obs, 0.5 * obs, n_samples=1), ValueError,
             "cond_mask must hold only 0 and 1"),
        Case("timeseries.sample_imputations", "NaN in values (was 'x_T'-level NaN downstream)",
             lambda: sample_imputations(None, None, obs * float("nan"), obs, n_samples=1), ValueError,
             "values contains"),
        Case("timeseries.masks.forecast_mask", "float horizon (was a slice error)", lambda: masks.forecast_mask(obs, 2.5),
             TypeError, "horizon must be an integer"),
        Case("timeseries.ImputerConfig", "float train_steps (was accepted)", lambda: ImputerConfig(train_steps=2.5),
             TypeError, "ImputerConfig.train_steps must be an integer"),
        Case("timeseries.ImputerConfig", "NaN learning rate (was accepted)", lambda: ImputerConfig(lr=float("nan")),
             ValueError, "ImputerConfig.lr must be a finite number"),
        Case("timeseries.ImputerConfig", "unknown solver (was accepted until sampling)",
             lambda: ImputerConfig(solver="magic"), ValueError, "ImputerConfig.solver must be one of"),
        Case("timeseries.CSDIImputer", "float n_features (was truncated)", lambda: CSDIImputer(2.5), TypeError,
             "n_features must be an integer"),
        Case("timeseries.CSDIImputer.impute", "float seed (was truncated)",
             lambda: CSDIImputer(1).impute(y, 1, seed=0.5), TypeError, "seed must be an integer"),
        Case("timeseries.CSDIImputer.impute", "n_samples = 0", lambda: CSDIImputer(1).impute(y, 0), ValueError,
             "n_samples must be an int >= 1"),
        Case("timeseries.CSDIImputer.predict", "quantile outside [0, 1]",
             lambda: CSDIImputer(1).predict(y, 2, quantiles=(0.5, 1.5)), ValueError, r"quantiles\[1\] must lie in"),
        Case("timeseries.CSDIImputer.save", "path not a path (was a pathlib error)", lambda: CSDIImputer(1).save(5),
             TypeError, "path must be a str or pathlib.Path"),
        Case("timeseries.CSDIForecaster", "float prediction_length (was truncated)",
             lambda: CSDIForecaster(1, 4, 2.5), TypeError, "prediction_length must be an integer"),
        Case("timeseries.CSDIForecaster", "prediction_length <= 0", lambda: CSDIForecaster(1, 4, 0), ValueError,
             "prediction_length must be >= 1"),
        Case("timeseries.CSDIEstimator", "context_length = 0 (was replaced by 2 H)",
             lambda: CSDIEstimator(2, 0), ValueError, "context_length must be an integer >= 1"),
        Case("timeseries.CSDIEstimator", "num_samples = 0 (was accepted)", lambda: CSDIEstimator(2, num_samples=0),
             ValueError, "num_samples must be an integer >= 1"),
        Case("timeseries.CSDIEstimator", "unknown ImputerConfig key (was raised after reading the data)",
             lambda: CSDIEstimator(2, train_step=5), TypeError, r"unknown ImputerConfig fields \[.train_step.\]"),
        Case("timeseries.seasonal_naive", "prediction_length = 0 (was an empty forecast)",
             lambda: seasonal_naive(np.ones((1, 8, 1)), 0, 2), ValueError, "prediction_length must be an integer >= 1"),
        Case("timeseries.seasonal_naive", "NaN in the repeated season (was a NaN forecast)",
             lambda: seasonal_naive(np.full((1, 8, 1), np.nan), 2, 2), ValueError, "history must be finite"),
        Case("timeseries.ets_samples", "n_samples = 0 (statsmodels corrupted the heap)",
             lambda: ets_samples(np.ones((1, 12, 1)), 2, 3, n_samples=0), ValueError, "n_samples must be an integer >= 1"),
        Case("timeseries.kalman_smoother", "window of length 0 (corrupted the heap)",
             lambda: kalman_smoother(var1_model(2), np.zeros((1, 0, 2))), ValueError, r"Y must be a non-empty \[N, L, K=2\]"),
        Case("timeseries.LinearGaussianSSM.sample", "negative seed (was a numpy error)",
             lambda: var1_model(2).sample(1, 3, seed=-1), ValueError, "seed must be an integer >= 0"),
        Case("timeseries.var1_model", "float n_features (was truncated)", lambda: var1_model(2.5), TypeError,
             "n_features must be an integer"),
        Case("timeseries.Normalizer.from_dict", "missing 'std' (was KeyError)", lambda: Normalizer.from_dict({"mean": [0.0]}),
             ValueError, "keys 'mean' and 'std'"),
        Case("timeseries.windows", "float window length (was a slice error)", lambda: windows(np.zeros((9, 1)), 2.5),
             TypeError, "length must be an integer"),
        Case("timeseries.split_by_time", "NaN fraction (was accepted)", lambda: split_by_time(np.zeros(9), (0.5, np.nan)),
             ValueError, "fractions must be positive"),
        Case("timeseries.indicating_mask", "X_ori [1, T, K] broadcast over X", lambda: indicating_mask(np.ones((2, 3, 1)),
             np.ones((1, 3, 1))), ValueError, "X_ori must have the shape of X"),
        Case("timeseries.locf", "fallback of the wrong length (was a numpy broadcast error)",
             lambda: locf(np.ones((1, 3, 2)), np.zeros(3)), ValueError, r"fallback must be one value or one per feature"),
        Case("timeseries.linear_interpolation", "visit times out of order (np.interp would interpolate wrongly)",
             lambda: linear_interpolation(np.ones((1, 3, 1)), [0.0], times=np.array([[0.0, 2.0, 1.0]])),
             ValueError, "times must be finite and strictly increasing"),
        Case("timeseries.check_series", "wrong rank", lambda: check_series(np.zeros((3, 4))), ValueError, "rank 2"),
        Case("timeseries.check_series", "infinite values", lambda: check_series(np.array([[[np.inf]]])), ValueError,
             "infinite"),
        Case("timeseries.check_series", "all-missing series", lambda: check_series(np.full((2, 3, 2), np.nan)),
             ValueError, "entirely missing"),
        Case("timeseries.check_series", "non-numeric values", lambda: check_series(np.array([[["a"]]])), TypeError,
             "numbers"),
        Case("timeseries.check_series", "empty batch", lambda: check_series(np.zeros((0, 3, 2))), ValueError,
             "empty axis"),
        Case("timeseries.ImputerConfig", "zero training steps", lambda: ImputerConfig(train_steps=0), ValueError,
             "train_steps must be >= 1"),
        Case("timeseries.load_physionet2012", "PhysioNet 2012 not downloaded",
             lambda: load_physionet2012(MISSING / "physionet"), FileNotFoundError, "physionet.org.*pass its folder"),
        Case("timeseries.load_beijing_pm25", "Beijing PM2.5 not downloaded", lambda: load_beijing_pm25(MISSING / "pm25"),
             FileNotFoundError, "STMVL.*pass the folder"),
        *_timeseries_cases_31(),
    ]


def _timeseries_cases_31() -> list[Case]:
    """Second round of #31: what an independent probe of the timeseries API found."""
    import tempfile

    import numpy as np
    from polydiff.timeseries import metrics
    from polydiff.timeseries.data import Normalizer, mcar_mask, mean_scale, split_by_time
    from polydiff.timeseries.forecast import CSDIForecaster
    from polydiff.timeseries.impute import CSDIImputer, ImputerConfig
    from polydiff.timeseries.inputs import check_timestamps
    from polydiff.timeseries.pipelines import ForecastPipeline, ImputationPipeline
    from polydiff.timeseries.pypots_api import indicating_mask

    tiny = {"layers": 1, "channels": 8, "heads": 2, "time_emb_dim": 16, "feature_emb_dim": 4,
            "diffusion_emb_dim": 16, "ff_dim": 8}
    X = np.sin(np.arange(12.0)).reshape(2, 3, 2)

    def imputer() -> CSDIImputer:
        return CSDIImputer(2, net=tiny, train_steps=1, batch_size=2, sample_steps=1, solver="ddim").fit(X)

    def forecaster() -> CSDIForecaster:
        return CSDIForecaster(2, 2, 1, net=tiny, train_steps=1, batch_size=2).fit(X + 5)

    def load_imputer_as_forecaster():
        folder = Path(tempfile.mkdtemp(prefix="polydiff-catalogue-"))
        imputer().save(folder)
        return CSDIForecaster.load(folder)

    return [
        Case("timeseries.CSDIImputer.predict", "repeated quantile levels (collapsed into one dict key)",
             lambda: imputer().predict(X, 1, quantiles=(0.5, 0.5), steps=1), ValueError,
             "quantiles must hold distinct levels"),
        Case("timeseries.ImputationPipeline.impute_series", "timestamps of the internal windows' shape",
             lambda: ImputationPipeline(imputer(), 3).impute_series(X[0], 1, timestamps=np.zeros((1, 3))),
             ValueError, r"timestamps must be \[T\] = \[3\]"),
        Case("timeseries.ImputationPipeline.impute_series", "inf in values (was blamed on X)",
             lambda: ImputationPipeline(imputer(), 3).impute_series(np.where(X[0] > 0.5, np.inf, X[0]), 1),
             ValueError, "values must be finite or NaN"),
        Case("timeseries.ImputationPipeline", "a forecasting imputer (was accepted, imputed the last steps only)",
             lambda: ImputationPipeline(forecaster().imputer, 3), ValueError, "imputer was trained to forecast"),
        Case("timeseries.CSDIForecaster.load", "an imputer checkpoint (was a raw FileNotFoundError)",
             load_imputer_as_forecaster, FileNotFoundError, "has no forecaster.json: an imputer checkpoint"),
        Case("timeseries.ForecastPipeline.from_run", "missing run folder (was a raw FileNotFoundError)",
             lambda: ForecastPipeline.from_run(MISSING / "fc-run"), FileNotFoundError,
             "run_dir: .*fc-run does not exist"),
        Case("timeseries.CSDIConfig", "float channels (was a torch error)",
             lambda: CSDIImputer(2, net={**tiny, "channels": 8.0}), TypeError, "CSDIConfig.channels must be an integer"),
        Case("timeseries.ImputerConfig", "horizon with strategy='random' (was ignored)",
             lambda: ImputerConfig(horizon=3), ValueError, "ImputerConfig.horizon is used by strategy='forecast' only"),
        Case("timeseries.ImputerConfig", "x0_clip='no' (a truthy string)", lambda: ImputerConfig(x0_clip="no"),
             TypeError, "ImputerConfig.x0_clip must be a bool"),
        Case("timeseries.check_timestamps", "timestamps beyond float32's integers (embedded as noise)",
             lambda: check_timestamps(np.full((1, 3), 1e30), (1, 3, 2)), ValueError, "timestamps must lie within"),
        Case("timeseries.Normalizer.transform", "X with another feature count (was a numpy broadcast error)",
             lambda: Normalizer([0.0, 0.0], [1.0, 1.0]).transform(np.zeros((1, 3, 3))), ValueError,
             r"X must be \[\.\.\., K\] with K = 2"),
        Case("timeseries.split_by_time", "one float for fractions (was 'float' object is not iterable)",
             lambda: split_by_time(np.zeros(9), 0.5), TypeError, "fractions must be a sequence"),
        Case("timeseries.mcar_mask", "float seed (was a numpy SeedSequence error)",
             lambda: mcar_mask(X, 0.5, seed=2.5), TypeError, "seed must be an integer"),
        Case("timeseries.mean_scale", "negative minimum (floored nothing)", lambda: mean_scale(X, minimum=-1.0),
             ValueError, "minimum must"),
        Case("timeseries.indicating_mask", "X_ori missing where X observes (was scored as not hidden)",
             lambda: indicating_mask(np.ones((1, 2, 1)), np.array([[[np.nan], [1.0]]])), ValueError,
             "X_ori must observe every entry X observes"),
        Case("timeseries.metrics.median", "a [T, K] window (was read as [N, S])",
             lambda: metrics.median(np.zeros((6, 2))), ValueError, r"samples must be \[N, S, T, \.\.\.\]"),
    ]
