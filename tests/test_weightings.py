"""Normalisations, aggregation policies and COINr's ASEM pipelines, against independent
computations written here with pandas and scipy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.core.contract import validate_frames
from perfsim.core.errors import PerfsimError, PerfsimWarning
from perfsim.core.scheme import load_scheme_text

from .conftest import ROOT

ASEM = ROOT / "data" / "real" / "asem"


def _asem_levels(meta: pd.DataFrame, values: pd.DataFrame, mean) -> pd.DataFrame:
    level = values
    for lev in (1, 2, 3):
        parents = meta[meta["Level"] == lev].set_index("iCode")["Parent"]
        level = level.T.groupby(parents.reindex(level.columns).to_numpy()).agg(mean).T
    return level


def _coinr_treat(x: pd.Series, winmax: int = 5) -> pd.Series:
    """COINr's Treat.numeric with its defaults, written out: winsorise (highest values to
    the next highest when the skew is positive, lowest to the next lowest otherwise) while
    |skew| >= 2 and kurtosis >= 3.5 and fewer than winmax points are changed; if it still
    fails, log_CT of the original values."""
    def fails(v):
        v = v.dropna()
        return abs(stats.skew(v, bias=False)) >= 2 and stats.kurtosis(v, bias=False) >= 3.5

    if not fails(x):
        return x
    y, changed = x.copy(), set()
    while fails(y) and len(changed) < winmax:
        if stats.skew(y.dropna(), bias=False) >= 0:
            top = y.max()
            idx = y.index[y == top]
            y[idx] = y[y < top].max()
        else:
            low = y.min()
            idx = y.index[y == low]
            y[idx] = y[y > low].min()
        changed |= set(idx)
    if not fails(y):
        return y
    return np.log(x - x.min() + 0.01 * (x.max() - x.min()))


def test_asem_coinr_pipeline_matches_an_independent_computation():
    raw = pd.read_csv(ASEM / "ASEM_iData.csv").set_index("uCode")
    meta = pd.read_csv(ASEM / "ASEM_iMeta.csv")
    ind = meta[meta["Type"] == "Indicator"].set_index("iCode")
    x = raw[ind.index].astype(float).copy()
    for code, den in ind["Denominator"].dropna().items():          # Denominate
        x[code] = x[code] / raw[den]
    group = raw["EurAsia_group"]
    x = x.groupby(group.to_numpy()).transform(lambda col: col.fillna(col.mean()))   # Impute
    assert (x.notna().mean(axis=1) >= 0.9).all()                     # Screen drops nobody
    before = x.copy()
    x = x.apply(_coinr_treat)                                        # Treat
    changed = {c for c in x.columns if not np.allclose(before[c], x[c])}
    x = x * ind["Direction"]
    norm = (x - x.min()) / (x.max() - x.min()) * 100                  # Normalise
    index = _asem_levels(meta, norm, "mean")["Index"]                # Aggregate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        data = perfsim.load_dataset(ASEM)
        detail = perfsim.score_detail(perfsim.load_scenario(ROOT / "params" / "real" / "asem_coinr.yaml"), data)
    ours = detail.table.set_index("unit_id")["total"].reindex(index.index)
    assert np.allclose(ours, index, atol=1e-9)
    treated = detail.treated.set_index("indicator_id")
    assert set(treated.query("method != 'none'").index) == changed and len(changed) >= 5
    assert len(detail.missing) == 65 and set(detail.missing["rule"]) == {"impute:category_mean"}


def test_asem_minmax_1_100_geometric_matches_an_independent_computation():
    raw = pd.read_csv(ASEM / "ASEM_iData.csv").set_index("uCode")
    meta = pd.read_csv(ASEM / "ASEM_iMeta.csv")
    ind = meta[meta["Type"] == "Indicator"].set_index("iCode")
    x = raw[ind.index].astype(float) * ind["Direction"]
    norm = (x - x.min()) / (x.max() - x.min()) * 99 + 1                # n_minmax onto [1, 100]
    index = _asem_levels(meta, norm, lambda v: float(np.exp(np.log(v.dropna()).mean())))["Index"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        table = perfsim.score(perfsim.load_scenario(ROOT / "params" / "real" / "asem_geometric.yaml"),
                              perfsim.load_dataset(ASEM))
    ours = table.set_index("unit_id")["total"].reindex(index.index)
    assert np.allclose(ours, index, atol=1e-9)
    assert ours.min() >= 1 and ours.max() <= 100


def _frames(values: dict[str, list[float]], categories: list[str] | None = None) -> perfsim.Dataset:
    n = len(next(iter(values.values())))
    ids = [f"U{k}" for k in range(n)]
    units = pd.DataFrame({"unit_id": ids, "category": categories or ["c"] * n})
    indicators = pd.DataFrame({"indicator_id": list(values), "direction": "higher"})
    rows = [("2025-12", u, i, v) for i, col in values.items() for u, v in zip(ids, col) if v == v]
    actuals = pd.DataFrame(rows, columns=["period", "unit_id", "indicator_id", "value"])
    targets = pd.DataFrame(columns=["year", "unit_id", "indicator_id", "target"])
    return validate_frames({"units": units, "indicators": indicators, "targets": targets, "actuals": actuals})


def _leaf(rule: str, data, **options) -> np.ndarray:
    body = ", ".join(f"{k}: {v}" for k, v in {"rule": rule, **options}.items())
    scheme = load_scheme_text(f"name: t\ntree: {{points: 100, children: {{I1: {{points: 100, {body}}}}}}}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        return perfsim.score_detail(scheme, data).node_scores["tree.I1"].to_numpy()


X = [3.0, 7.0, 7.0, 1.0, 12.0, 5.0]


def test_normalisations_against_coinr_formulas():
    data = _frames({"I1": X})
    x = np.array(X)
    assert np.allclose(_leaf("minmax", data, range="[20, 80]"), (20 + 60 * (x - 1) / 11) / 100)
    assert np.allclose(_leaf("zscore", data), stats.zscore(x, ddof=1) / 100)
    assert np.allclose(_leaf("zscore", data, rescale="[50, 10]"), (50 + 10 * stats.zscore(x, ddof=1)) / 100)
    assert np.allclose(_leaf("percentile", data), (stats.rankdata(x, method="min") - 1) / 5)
    assert np.allclose(_leaf("dist_frontier", data), 1 - (12 - x) / 11)
    assert np.allclose(_leaf("dist_target", data, target=10), 1 - (10 - x) / 9)
    assert np.allclose(_leaf("dist_target", data, target=10, cap_max="true"), np.minimum(1 - (10 - x) / 9, 1))
    assert np.allclose(_leaf("minmax", data, log="true"), (np.log(x) - np.log(1)) / np.log(12))


def test_lower_is_better_and_within():
    data = _frames({"I1": X}, categories=["a", "a", "a", "b", "b", "b"])
    x = np.array(X)
    low = _leaf("percentile", data, direction="lower", within="all")
    assert np.allclose(low, (stats.rankdata(-x, method="min") - 1) / 5)
    per_cat = _leaf("zscore", data)
    for part in (slice(0, 3), slice(3, 6)):
        assert np.allclose(per_cat[part], stats.zscore(x[part], ddof=1) / 100)


def test_log_of_a_non_positive_value_is_refused():
    data = _frames({"I1": [1.0, 0.0, 2.0, 3.0]})
    with pytest.raises(PerfsimError, match="key 'tree.I1.log': unit 'U1' has a value of 0 on indicator 'I1'"):
        _leaf("minmax", data, log="true")


def test_divide_by_a_denominator():
    data = _frames({"I1": [10.0, 20.0, 30.0], "POP": [1.0, 4.0, 2.0]})
    # per head: 10, 5, 15 -> min-max 0.5, 0, 1
    assert np.allclose(_leaf("minmax", data, divide_by="POP"), [0.5, 0.0, 1.0])
