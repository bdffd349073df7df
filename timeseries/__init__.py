"""polydiff.timeseries — CSDI imputation and diffusion forecasting on the shared engine.

CSDI (Tashiro et al. 2021, "CSDI: Conditional Score-based Diffusion Models for
Probabilistic Time Series Imputation") with a PyPOTS-style API
(:class:`polydiff.timeseries.impute.CSDIImputer`) and a GluonTS Estimator/Predictor
(:mod:`polydiff.timeseries.gluonts_api`). Needs the ``timeseries`` extra (gluonts, pandas).

Modules: ``data`` (loaders, windowing, normalisation), ``masks`` (training-mask strategies),
``nets`` (the CSDI denoiser), ``impute`` / ``forecast`` (tasks), ``inputs`` (input checks),
``range_guard`` (out-of-range windows), ``few_step`` (the first-step error of few-step
sampling), ``pypots_api`` (PyPOTS' data dicts), ``metrics``, ``calibration`` (scores against
an exact posterior), ``statespace`` (a linear-Gaussian set with its Kalman-smoother
posterior), ``statespace_oracle`` (its exact denoiser), ``statespace_eval`` (benchmark
records against that posterior), ``plots``, ``baselines``, ``train`` (script), ``pipelines``
(trained models as pipeline folders; their components in ``pipeline_parts``), ``commands``
(``polydiff impute`` / ``polydiff forecast`` on CSV files, read and written by ``csv_io``); the
suite entry is ``polydiff.bench.timeseries``.
"""
try:
    import gluonts as _gluonts  # noqa: F401
    import pandas as _pandas  # noqa: F401
except ModuleNotFoundError as _err:  # pragma: no cover - depends on the environment
    raise ImportError('pip install "polydiff[timeseries]"') from _err
