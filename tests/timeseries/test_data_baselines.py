"""Offline loaders, windowing, normalisation and the simple baselines."""
import numpy as np
import pytest
from polydiff.timeseries import baselines, data


@pytest.fixture(scope="module")
def weather():
    return data.load_nycflights_weather()


def test_weather_pivot_regular_hours_with_natural_gaps(weather):
    T, K = weather.values.shape
    assert K == 27 and weather.features[0] == "EWR:temp"
    assert (np.diff(weather.timestamps.asi8) == 3600 * 10**9).all()  # regular hourly axis
    assert T >= 8700
    miss = np.isnan(weather.values).mean(0)
    k_gust = weather.features.index("JFK:wind_gust")
    assert miss[k_gust] > 0.5 and miss[weather.features.index("JFK:temp")] < 0.05


def test_other_offline_loaders():
    v, t, _names = data.load_pbc(max_visits=8)
    assert v.shape == (312, 8, 12) and t.shape == (312, 8) and np.isnan(v).any()
    assert np.isfinite(t).all() and np.all(np.diff(t, axis=1) > 0)
    visits = np.isfinite(v).any(2)
    assert visits[:, 0].all() and (visits.sum(1) >= 1).all()
    a = data.load_airquality()
    assert a.values.shape == (153, 4) and np.isnan(a.values[:, 0]).sum() == 37
    e = data.load_taylor()
    assert e.values.shape == (4032, 1) and np.isfinite(e.values).all()


def test_paper_loaders_need_a_path(tmp_path):
    from polydiff.timeseries import data_paper
    with pytest.raises(FileNotFoundError, match="PhysioNet"):
        data_paper.load_physionet2012(tmp_path)
    with pytest.raises(FileNotFoundError, match="pm25_ground"):
        data_paper.load_beijing_pm25(tmp_path)


def test_physionet_parsing(tmp_path):
    from polydiff.timeseries import data_paper
    (tmp_path / "set-a").mkdir()
    (tmp_path / "set-a" / "132539.txt").write_text(
        "Time,Parameter,Value\n00:00,RecordID,132539\n00:07,HR,80\n00:40,HR,90\n01:10,Temp,37.5\n"
        "47:30,Glucose,5\n")
    v, target = data_paper.load_physionet2012(tmp_path, missing_ratio=0.5)
    hr, temp = data_paper.PHYSIONET_ATTRIBUTES.index("HR"), data_paper.PHYSIONET_ATTRIBUTES.index("Temp")
    assert v.shape == (1, 48, 35) and v[0, 0, hr] == 90 and v[0, 1, temp] == 37.5
    assert np.isfinite(v).sum() == 3 and target.sum() == 1 and np.isfinite(v[target]).all()


def test_windows_split_normalizer():
    x = np.arange(20.0).reshape(10, 2)
    w = data.windows(x, 4, 3)
    assert w.shape == (3, 4, 2) and np.array_equal(w[1], x[3:7])
    tr, _va, te = data.split_by_time(x, (0.6, 0.2, 0.2))
    assert len(tr) == 6 and np.array_equal(te, x[8:])
    x[0, 0] = np.nan
    n = data.Normalizer().fit(x)
    assert n.mean[0] == pytest.approx(np.nanmean(x[:, 0]))
    assert n.std[0] == pytest.approx(np.nanstd(x[:, 0]))
    z = n.transform(x)
    assert np.isnan(z[0, 0]) and np.allclose(n.inverse(z)[1:], x[1:])
    with pytest.raises(ValueError, match="no observed"):
        data.Normalizer().fit(np.full((3, 2), np.nan))


def test_mcar_mask_picks_observed_share():
    x = np.ones((100, 10))
    x[:50, 0] = np.nan
    m = data.mcar_mask(x, 0.5, seed=1)
    assert m.sum() == round(0.5 * 950) and not m[:50, 0].any()


def test_baselines_by_hand():
    X = np.array([[[1.0], [np.nan], [3.0], [np.nan]]])
    assert np.allclose(baselines.linear_interpolation(X, [0.0])[0, :, 0], [1, 2, 3, 3])
    assert np.allclose(baselines.locf(X, [0.0])[0, :, 0], [1, 1, 3, 3])
    X2 = np.array([[[np.nan], [2.0]], [[np.nan], [np.nan]]])
    assert np.allclose(baselines.locf(X2, [7.0])[:, :, 0], [[2, 2], [7, 7]])
    assert np.allclose(baselines.mean_impute(X2, [7.0])[:, :, 0], [[7, 2], [7, 7]])
    assert np.allclose(baselines.linear_interpolation(X2, [7.0])[1, :, 0], [7, 7])


def test_linear_interpolation_in_visit_time():
    # visits at 0, 1, 4 (years): the value at t=1 lies a quarter of the way from 1 to 9
    X = np.array([[[1.0], [np.nan], [9.0]]])
    t = np.array([[0.0, 1.0, 4.0]])
    assert np.allclose(baselines.linear_interpolation(X, [0.0], times=t)[0, :, 0], [1, 3, 9])
    assert np.allclose(baselines.linear_interpolation(X, [0.0])[0, :, 0], [1, 5, 9])  # index time
    with pytest.raises(ValueError, match=r"times must be \[N, L\]"):
        baselines.linear_interpolation(X, [0.0], times=t[:, :2])
    with pytest.raises(ValueError, match="strictly increasing"):
        baselines.linear_interpolation(X, [0.0], times=np.array([[0.0, 2.0, 1.0]]))


def test_train_script_smoke(tmp_path):
    import json

    from polydiff.timeseries import train
    scores = train.main(["--data", "airquality", "--length", "10", "--stride", "5", "--steps", "2",
                         "--layers", "1", "--channels", "8", "--heads", "2", "--samples", "3",
                         "--solver", "ddim", "--solver-steps", "2", "--out", str(tmp_path / "run")])
    assert set(scores) == {"MAE", "RMSE", "CRPS", "CRPS-sample"}
    assert all(np.isfinite(v) for v in scores.values())
    assert json.loads((tmp_path / "run" / "scores.json").read_text()) == scores
