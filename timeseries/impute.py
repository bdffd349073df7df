"""CSDI imputation with a PyPOTS-style API (Tashiro et al. 2021; Du et al. 2023, PyPOTS).

::

    imp = CSDIImputer(n_features=K, train_steps=2000).fit(X_train)   # X [N, T, K], NaN = missing
    samples = imp.impute(X_test, n_samples=100)                      # [N, S, T, K]
    out = imp.predict(X_test)          # {"imputation": median [N, T, K], "quantiles": {q: ...}}
    imp.fit(train_set={"X": X_train}, val_set={"X": X_val, "X_ori": X_val_ori})   # PyPOTS dicts
    imp.predict({"X": X_test}, n_sampling_times=100)["imputation"]   # [N, S, T, K], as PyPOTS
    imp.save("run/"); imp = CSDIImputer.load("run/")

Training uses the core training loop (``polydiff.core.training.Trainer``) on the CSDI loss of
:mod:`.diffusion`; sampling uses core solvers. Values are standardised per feature with
statistics of the observed training entries and mapped back on output.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from polydiff.core.validate import check_choice, check_int, check_number, describe

from .data import Normalizer, mean_scale
from .diffusion import csdi_loss, csdi_process, sample_imputations
from .inputs import WindowDataset, check_series, check_timestamps
from .masks import STRATEGIES
from .nets import CSDIConfig, CSDINet
from .range_guard import OUT_OF_RANGE, OutOfRangeError, flag_windows, out_of_range_windows

__all__ = ["OUT_OF_RANGE", "CSDIImputer", "ImputerConfig", "OutOfRangeError", "WindowDataset",
           "check_series"]


@dataclass(frozen=True)
class ImputerConfig:
    """Training and sampling settings of :class:`CSDIImputer` (network settings live in
    :class:`~polydiff.timeseries.nets.CSDIConfig`). Defaults follow CSDI Appendix E.1
    (Adam lr 1e-3 decayed x0.1 at 75% and 90% of training, weight decay 1e-6, batch 16, 50
    quadratic steps); ``train_steps`` sets the budget in optimizer steps. ``range_margin``
    sets the out-of-range guard of :meth:`CSDIImputer.impute`: a value is out of range beyond
    ``[lo - m (hi - lo), hi + m (hi - lo)]``, ``[lo, hi]`` the feature's observed training range.
    ``x0_clip`` clamps the network's data prediction ``x0_hat`` to ``[lo, hi]`` at every
    solver step: the exact ``E[x0 | x_t]`` is an average of data and lies there, while a
    briefly trained network's top-step error amplified by ``sigma / alpha = 172`` does not
    (the few-step collapse, :mod:`.few_step`). ``scaling="mean"`` divides every window by
    its per-feature mean absolute observed value (GluonTS' mean scaling,
    :func:`.data.mean_scale`) before the standardisation, so series that trend out of the
    training range (macro data) are imputed relative to their own level."""

    train_steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-6
    lr_schedule: str = "multistep"
    ema_decay: float | None = None
    strategy: str = "random"
    horizon: int | None = None
    num_steps: int = 50
    beta_start: float = 1e-4
    beta_end: float = 0.5
    solver: str = "ddpm"
    sample_steps: int = 50
    max_batch: int = 512
    range_margin: float = 1.0
    x0_clip: bool = True
    scaling: str = "none"
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        import polydiff.core as pc

        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.strategy == "forecast" and not self.horizon:
            raise ValueError("strategy='forecast' needs horizon >= 1")
        if self.horizon is not None:
            check_int(self.horizon, "ImputerConfig.horizon", low=1)
            if self.strategy != "forecast":
                raise ValueError(f"ImputerConfig.horizon is used by strategy='forecast' only; got "
                                 f"horizon={self.horizon!r} with strategy={self.strategy!r} (leave it None)")
        if not isinstance(self.x0_clip, (bool, np.bool_)):  # 'no' is truthy
            raise TypeError(f"ImputerConfig.x0_clip must be a bool, got {describe(self.x0_clip)}")
        for name in ("train_steps", "batch_size", "num_steps", "sample_steps", "max_batch"):
            v = getattr(self, name)
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v < 1:
                raise ValueError(f"ImputerConfig.{name} must be >= 1, got {v}")
            check_int(v, f"ImputerConfig.{name}", low=1)
        check_int(self.seed, "ImputerConfig.seed", low=0)
        check_number(self.lr, "ImputerConfig.lr", low=0.0, low_open=True)
        check_number(self.weight_decay, "ImputerConfig.weight_decay", low=0.0)
        if self.ema_decay is not None:
            check_number(self.ema_decay, "ImputerConfig.ema_decay", low=0.0, high=1.0, high_open=True)
        check_choice(self.solver, "ImputerConfig.solver", sorted(pc.SOLVERS))
        if self.scaling not in ("none", "mean"):
            raise ValueError(f"ImputerConfig.scaling must be 'none' or 'mean', got {self.scaling!r}")
        if not self.range_margin >= 0:
            raise ValueError(f"ImputerConfig.range_margin must be >= 0, got {self.range_margin}")
        check_number(self.range_margin, "ImputerConfig.range_margin", low=0.0)


class CSDIImputer:
    """Probabilistic imputer: CSDI denoiser + CSDI training + batched core sampling.

    Args:
        n_features: ``K``.
        net: network settings (defaults: the paper's 4 layers, 64 channels, 8 heads).
        config: training/sampling settings (:class:`ImputerConfig`).
        progress: optional ``progress(stage: str)`` callable.
    """

    def __init__(self, n_features: int, *, net: dict | None = None,
                 config: ImputerConfig | None = None,
                 progress: Callable[[str], None] | None = None, **config_kw):
        _check_keys(net or {}, CSDIConfig, "net", exclude=("n_features",))
        self.net_config = CSDIConfig(n_features=check_int(n_features, "n_features", low=1), **(net or {}))
        if config is not None and config_kw:
            raise ValueError("pass either config= or keyword settings, not both")
        if config is not None and not isinstance(config, ImputerConfig):
            raise TypeError(f"config must be an ImputerConfig, got {type(config).__name__}")
        _check_keys(config_kw, ImputerConfig, "settings")
        self.config = config or ImputerConfig(**config_kw)
        self.progress = progress
        self.process = csdi_process(self.config.num_steps, self.config.beta_start, self.config.beta_end)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the global RNG
            torch.manual_seed(self.config.seed)
            self.net = CSDINet(self.net_config)
        self.normalizer: Normalizer | None = None
        self.train_range: tuple[np.ndarray, np.ndarray] | None = None  # normalised units
        self.default_scale: np.ndarray | None = None  # scaling="mean": the fallback scale [K]
        self.train_losses: list[float] = []

    # --- training ---------------------------------------------------------------------------
    def _check_features(self, X: np.ndarray, name: str) -> None:
        if X.shape[2] != self.net_config.n_features:
            raise ValueError(f"{name} has {X.shape[2]} features, the imputer was built for "
                             f"{self.net_config.n_features}")

    def fit(self, train_set, val_set=None, *, val_X=None, timestamps=None,
            n_sampling_times: int = 1, eval_every: int = 0, ckpt_dir: str | None = None,
            ckpt_every: int = 0, resume: bool = False, train_config=None) -> CSDIImputer:
        """Train on ``train_set``: series ``X [N, T, K]`` (NaN = missing) or PyPOTS' dict
        ``{"X": X}``, with the configured mask strategy for ``config.train_steps`` steps.

        ``val_set`` (or its alias ``val_X``; an array or ``{"X": ..., "X_ori": ...}``) is
        scored with the CSDI loss on ``X_ori`` (else ``X``) every ``eval_every`` steps
        (``self.val_losses``: ``(step, loss)``) and at the end (``self.val_loss``); with
        ``X_ori``, ``self.val_mae`` is the MAE of the median of ``n_sampling_times``
        imputations of ``X`` on PyPOTS' indicating mask. No early stopping.
        ``ckpt_dir`` / ``ckpt_every`` write core checkpoints during training (the trainer's
        state: weights, optimizer, RNG); ``resume=True`` continues from the latest one.
        ``train_config`` (a core ``TrainConfig``, e.g. from ``polydiff train timeseries``'s
        shared flags) replaces the one built from the imputer's config, ``ckpt_dir`` and
        ``ckpt_every`` included.
        """
        from polydiff.core.training import TrainConfig, Trainer

        from .pypots_api import indicating_mask, unpack_set

        if val_X is not None and val_set is not None:
            raise ValueError("pass val_set or its alias val_X, not both")
        val_set = val_X if val_set is None else val_set
        pypots = (dict, str, bytes, pathlib.PurePath)  # dicts, or paths that unpack_set refuses
        X = unpack_set(train_set, "train_set")[0] if isinstance(train_set, pypots) else train_set
        val_ori = V = None
        if isinstance(val_set, pypots):
            val_X, val_ori = unpack_set(val_set, "val_set")
        else:
            val_X = val_set
        for name, v in (("eval_every", eval_every), ("ckpt_every", ckpt_every)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        if train_config is not None and not isinstance(train_config, TrainConfig):
            raise TypeError(f"train_config must be a TrainConfig, got {type(train_config).__name__}")
        if train_config is not None and (ckpt_dir is not None or ckpt_every):
            raise ValueError("pass ckpt_dir / ckpt_every inside train_config, not beside it")
        if (ckpt_every or resume) and ckpt_dir is None and (train_config is None or train_config.ckpt_dir is None):
            raise ValueError("ckpt_every and resume need ckpt_dir")
        if eval_every and val_X is None:
            raise ValueError("eval_every needs val_set (validation series)")
        X = check_series(X)
        self._check_features(X, "X")
        if val_X is not None:
            V = check_series(val_X, "val_X")
            self._check_features(V, "val_X")
            if val_ori is not None:
                val_ori = check_series(val_ori, "val_set['X_ori']")
                if not indicating_mask(V, val_ori).any():
                    raise ValueError("val_set: 'X_ori' observes no entry that 'X' hides; nothing "
                                     "to score")
        if self.config.scaling == "mean":  # MeanScaler's batch fallback, fixed at training
            n = np.isfinite(X).sum((0, 1))
            m = np.nansum(np.abs(X), (0, 1)) / np.maximum(n, 1)
            self.default_scale = np.where(m > 0, m, 1.0)
        X = self._scaled(X)[0]
        self.normalizer = Normalizer().fit(X)
        Z = self.normalizer.transform(X)
        self.train_range = (np.nanmin(Z.reshape(-1, Z.shape[2]), 0), np.nanmax(Z.reshape(-1, Z.shape[2]), 0))
        data = WindowDataset(Z, timestamps)
        c = self.config
        if train_config is not None:
            tcfg = train_config.replace(batch_size=min(train_config.batch_size, len(data)), eval_every=eval_every)
        else:
            tcfg = TrainConfig(steps=c.train_steps, batch_size=min(c.batch_size, len(data)), lr=c.lr,
                               lr_schedule=c.lr_schedule, weight_decay=c.weight_decay, ema_decay=c.ema_decay, seed=c.seed,
                               device=c.device, grad_clip=None, log_every=max(1, c.train_steps // 10),
                               ckpt_dir=None if ckpt_dir is None else str(ckpt_dir), ckpt_every=ckpt_every,
                               eval_every=eval_every)

        def loss_fn(net, batch, generator):
            return csdi_loss(net, self.process, batch, strategy=c.strategy, horizon=c.horizon,
                             generator=generator)

        val_target = V if val_ori is None else val_ori

        def eval_fn(net, step):
            return {"val_loss": self._loss_of(net, val_target)}

        if self.progress:
            self.progress(f"csdi: training {c.train_steps} steps on {len(data)} series")
        trainer = Trainer(tcfg, self.net, loss_fn, data, net_config=self.net_config.to_dict(),
                          extra={"process": self.process.config()},
                          eval_fn=eval_fn if eval_every else None)
        history = trainer.fit(resume=resume)
        if trainer.ema is not None:  # sample from the EMA weights when the run keeps them
            self.net.load_state_dict(trainer.ema.state_dict())
        self.train_losses = [float(h["loss"]) for h in history if "loss" in h]
        self.val_losses = [(int(h["step"]), float(h["eval/val_loss"])) for h in history
                           if "eval/val_loss" in h]
        self.trained_steps = trainer.step
        if V is not None:
            self.val_loss = self.loss(val_target)
            if val_ori is not None:
                hide = indicating_mask(V, val_ori)
                smp = self.impute(V, n_sampling_times, out_of_range="warn")
                self.val_mae = float(np.abs(np.median(smp, 1) - val_ori)[hide].mean())
        return self

    @torch.no_grad()
    def loss(self, X, seed: int = 0, timestamps=None) -> float:
        """CSDI loss of the current network on all of ``X`` at once: random targets, or the
        last ``horizon`` steps for a forecasting imputer (``strategy="forecast"``)."""
        return self._loss_of(self.net, X, seed, timestamps)

    def _scaled(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(X / scale, scale [N, 1, K])``: GluonTS mean scaling per window when
        ``config.scaling == "mean"``, else ones."""
        if self.config.scaling == "none":
            return X, np.ones((len(X), 1, X.shape[2]))
        scale = mean_scale(X, getattr(self, "default_scale", None))
        return X / scale, scale

    @torch.no_grad()
    def _loss_of(self, net, X, seed: int = 0, timestamps=None) -> float:
        check_int(seed, "seed", low=0)
        X = check_series(X)
        self._check_features(X, "X")
        X = self._scaled(X)[0]
        data = WindowDataset(self._normalizer().transform(X), timestamps)
        g = torch.Generator().manual_seed(seed)
        batch = {"values": data.values, "observed_mask": data.mask,
                 "timestamps": data.timestamps}
        fc = self.config.strategy == "forecast"
        was_training = net.training
        net.eval()
        try:
            return float(csdi_loss(net, self.process, batch, strategy="forecast" if fc else "random",
                                   horizon=self.config.horizon, generator=g))
        finally:
            net.train(was_training)

    def _normalizer(self) -> Normalizer:
        if self.normalizer is None:
            raise ValueError("the imputer is not fitted; call fit(X) or load() first")
        return self.normalizer

    # --- inference --------------------------------------------------------------------------
    def impute(self, X, n_samples: int = 100, *, solver: str | None = None,
               steps: int | None = None, seed: int = 0, timestamps=None,
               max_batch: int | None = None, out_of_range: str = "raise",
               progress_bar: bool = False, n_sampling_times: int | None = None,
               **solver_options) -> np.ndarray:
        """Samples ``[N, S, T, K]`` of the missing entries of ``X``; observed entries are
        copied through unchanged. ``solver``/``steps``/``max_batch`` override the configured
        sampler (``max_batch`` rows per network call changes speed only, never a sample);
        ``timestamps [N, T]`` give irregular observation times (default ``0..T-1``).

        Out-of-range guard: windows whose observed values fall outside the training range
        widened by ``config.range_margin`` (see :meth:`out_of_range_windows`) raise
        :class:`OutOfRangeError` before sampling (``out_of_range="raise"``), warn (``"warn"``)
        or pass (``"ignore"``); windows whose samples do are flagged with a ``RuntimeWarning``
        unless ``"ignore"``. ``progress_bar`` shows a tqdm bar over the sampled rows.
        ``x0_hat`` is clamped to the training range when ``config.x0_clip`` (pass your own
        ``project_x0=`` to replace it).
        PyPOTS' spelling also works: ``impute({"X": X}, n_sampling_times=S)``."""
        if n_sampling_times is not None:
            if n_samples != 100:
                raise ValueError("pass n_samples or its alias n_sampling_times, not both")
            n_samples = n_sampling_times
        if isinstance(X, dict):
            from .pypots_api import unpack_set
            X = unpack_set(X, "test_set")[0]
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        check_int(seed, "seed", low=0)
        if max_batch is not None:
            check_int(max_batch, "max_batch", low=1)
        if out_of_range not in OUT_OF_RANGE:
            raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE}, got {out_of_range!r}")
        X = check_series(X)
        self._check_features(X, "X")
        norm = self._normalizer()
        obs = np.isfinite(X)
        Xs, scale = self._scaled(X)
        Zin = norm.transform(Xs)
        if not np.isfinite(Zin[obs].astype(np.float32)).all():
            raise ValueError(f"X: observed values up to {np.nanmax(np.abs(X)):.3g} exceed the float32 range "
                             "of the network after standardisation; rescale the series")
        if out_of_range != "ignore":
            self._guard(self.out_of_range_windows(Zin), Zin, "observed values", out_of_range)
        dev = next(self.net.parameters()).device
        if self.config.x0_clip and self.train_range is not None and "project_x0" not in solver_options:
            lo, hi = (torch.as_tensor(v, dtype=torch.float32, device=dev) for v in self.train_range)
            # x0_hat is [rows, L, K]: the per-feature bounds broadcast over the last axis
            solver_options["project_x0"] = lambda v, t: torch.clamp(v, lo.to(v.dtype), hi.to(v.dtype))
        Z = torch.as_tensor(np.where(obs, Zin, 0.0), dtype=torch.float32, device=dev)
        M = torch.as_tensor(obs, dtype=torch.float32, device=dev)
        ts = torch.as_tensor(check_timestamps(timestamps, X.shape), dtype=torch.float32, device=dev)
        total = len(X) * int(n_samples)
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm
            bar = tqdm(total=total, desc="csdi sampling", unit="row", leave=False)

        def cb(done: int, rows: int) -> None:
            if bar is not None:
                bar.update(done - bar.n)
            if self.progress:
                self.progress(f"csdi: sampled {done}/{rows} rows")

        try:
            out = sample_imputations(self.net, self.process, Z, M, n_samples=int(n_samples),
                                     solver=self.config.solver if solver is None else solver,
                                     steps=self.config.sample_steps if steps is None else steps,
                                     seed=seed, timestamps=ts,
                                     max_batch=min(self.config.max_batch if max_batch is None
                                                   else max_batch, total),
                                     callback=cb if (bar is not None or self.progress) else None,
                                     **solver_options)
        except FloatingPointError as e:
            far = float(np.abs(Zin[obs]).max()) if obs.any() else 0.0
            if far > 1e4:  # the inputs, not the network, are at fault
                raise FloatingPointError(
                    f"X: observed values lie up to {far:.3g} training standard deviations from the "
                    f"training mean and the network overflowed on them ({e}); rescale the series "
                    "(out_of_range='raise' refuses such windows)") from e
            raise
        finally:
            if bar is not None:
                bar.close()
        Zout = out.double().cpu().numpy()
        if out_of_range != "ignore":
            # a sample outside the range is a symptom (of an under-trained network, or of
            # inputs just inside the margin): flagged, never refused
            self._guard(self.out_of_range_windows(Zout), Zout, "samples", "warn")
        samples = norm.inverse(Zout) * scale[:, None]
        if not np.isfinite(samples).all():
            raise FloatingPointError(f"imputed values are not finite in float64 (observed |X| up to "
                                     f"{np.nanmax(np.abs(X)):.3g}); rescale the series")
        return np.where(obs[:, None], X[:, None], samples)  # bit-exact observed values

    def out_of_range_windows(self, Z: np.ndarray) -> np.ndarray:
        """Windows of ``Z [N, ..., K]`` (normalised units) outside the training range widened
        by ``config.range_margin`` (:func:`.range_guard.out_of_range_windows`); none if the
        range is unknown (checkpoints written before it was recorded)."""
        if self.train_range is None:
            return np.zeros(0, dtype=np.int64)
        return out_of_range_windows(Z, *self.train_range, self.config.range_margin)

    def _guard(self, bad: np.ndarray, Z: np.ndarray, what: str, action: str) -> None:
        norm = self._normalizer()
        if len(bad):
            lo, hi = (norm.inverse(np.asarray(v)) for v in self.train_range)
            flag_windows(bad, norm.inverse(Z), lo, hi, self.config.range_margin, what, action)

    def predict(self, X, n_samples: int | None = None,
                quantiles: Sequence[float] = (0.05, 0.5, 0.95), *,
                n_sampling_times: int | None = None, **kw) -> dict:
        """Array ``X``: ``{"imputation": median [N, T, K], "quantiles": {q: [N, T, K]},
        "samples": [N, S, T, K]}`` with ``S = n_samples`` (default 100).

        PyPOTS' dict ``{"X": X}``: PyPOTS' result ``{"imputation": samples [N, S, T, K]}`` with
        ``S = n_sampling_times`` (default 1, as ``pypots.imputation.CSDI.predict``).
        ``n_sampling_times`` is an alias of ``n_samples``.
        """
        if n_samples is not None and n_sampling_times is not None:
            raise ValueError("pass n_samples or its alias n_sampling_times, not both")
        S = n_samples if n_sampling_times is None else n_sampling_times
        if isinstance(X, dict):
            from .pypots_api import unpack_set
            return {"imputation": self.impute(unpack_set(X, "test_set")[0], 1 if S is None else S,
                                              **kw)}
        from .metrics import _levels

        qs = _levels(quantiles, distinct=True)
        s = self.impute(X, 100 if S is None else S, **kw)
        return {"imputation": np.median(s, axis=1),
                "quantiles": {q: np.quantile(s, q, axis=1) for q in qs}, "samples": s}

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write a core checkpoint (safetensors weights + JSON configs) under ``path``."""
        from polydiff.core.training.checkpoint import save_checkpoint

        _check_path(path)
        extra = {"imputer": dataclasses.asdict(self.config),
                 "normalizer": self._normalizer().to_dict(),
                 "default_scale": None if getattr(self, "default_scale", None) is None else
                 np.asarray(self.default_scale).tolist(),
                 "train_range": None if self.train_range is None else
                 [np.asarray(v).tolist() for v in self.train_range],
                 "process": self.process.config() if hasattr(self.process, "config") else {}}
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        return save_checkpoint(path, int(getattr(self, "trained_steps", 0)), model=state, config={},
                               net_config=self.net_config.to_dict(), extra=json.loads(json.dumps(extra)))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> CSDIImputer:
        """Rebuild an imputer saved by :meth:`save` (never unpickles)."""
        from polydiff.core.training.checkpoint import load_checkpoint, load_weights

        _check_path(path)
        ckpt = load_checkpoint(path, weights_only=True)
        extra = ckpt.extra if isinstance(ckpt.extra, dict) else {}
        missing = [k for k in ("imputer", "normalizer") if not isinstance(extra.get(k), dict)]
        ncfg = dict(ckpt.net_config) if isinstance(ckpt.net_config, dict) else {}
        if missing or "n_features" not in ncfg:
            what = (f"{ckpt.path / 'extra.json'}: no {' or '.join(repr(k) for k in missing)} settings"
                    if missing else f"{ckpt.path / 'net_config.json'}: no 'n_features'")
            raise ValueError(f"path: {what}; expected a checkpoint written by CSDIImputer.save")
        K = ncfg.pop("n_features")
        try:
            obj = cls(K, net=ncfg, config=ImputerConfig(**extra["imputer"]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"path: {ckpt.path}: the stored imputer settings are invalid: {e}") from None
        load_weights(obj.net, ckpt.model, ckpt.path / "model.safetensors")
        try:
            obj.normalizer = Normalizer.from_dict(extra["normalizer"])
        except ValueError as e:
            raise ValueError(f"path: {ckpt.path / 'extra.json'}: {e}") from None
        ds = ckpt.extra.get("default_scale")
        obj.default_scale = None if ds is None else np.asarray(ds, dtype=np.float64)
        rng = ckpt.extra.get("train_range")
        obj.train_range = None if rng is None else tuple(np.asarray(v, dtype=np.float64) for v in rng)
        if rng is None:
            import warnings
            warnings.warn(f"{path}: the checkpoint predates the recorded training range; the "
                          "out-of-range guard and the x0 clamp are off (refit to enable them)",
                          RuntimeWarning, stacklevel=2)
        obj.net.eval()
        return obj


def _check_keys(settings, cls, name: str, exclude: tuple[str, ...] = ()) -> None:
    """``settings`` is a dict whose keys are fields of the dataclass ``cls`` (not ``exclude``)."""
    if not isinstance(settings, dict):
        raise TypeError(f"{name} must be a dict of {cls.__name__} fields, got {type(settings).__name__}")
    known = {f.name for f in dataclasses.fields(cls)} - set(exclude)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"{name}: unknown {cls.__name__} fields {unknown}; expected some of {sorted(known)}")


def _check_path(path) -> None:
    if not isinstance(path, (str, pathlib.PurePath)):
        raise TypeError(f"path must be a str or pathlib.Path, got {describe(path)}")
