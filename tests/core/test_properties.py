"""Invariants of the engine, checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import perfsim
from perfsim.core.contract import Dataset
from perfsim.core.scheme import parse_scheme

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

weights = st.floats(min_value=0.1, max_value=10, allow_nan=False)


def _scheme(w_econ, w_social, w_party, agg="arithmetic"):
    return parse_scheme({"name": "p", "tree": {"points": 100, "children": {
        "targets": {"points": 60, "aggregate": agg, "children": {
            "econ": {"weight": w_econ, "children": {"I1": {"rule": "ratio", "cap": 1.2, "weight": 1}}},
            "social": {"weight": w_social, "children": {"I2": {"rule": "ratio", "weight": 1}}},
            "party": {"weight": w_party, "children": {"I3": {"rule": "band", "floor": 0.5, "weight": 1}}}}},
        "leader": {"points": 20, "source": "leader_ratings", "rule": "rating", "trim": True},
        "satisfaction": {"points": 20, "source": "satisfaction", "rule": "rating"}}}}, "<p>")


@SETTINGS
@given(w=st.tuples(weights, weights, weights), c=st.floats(min_value=0.01, max_value=100),
       agg=st.sampled_from(["arithmetic", "geometric"]))
def test_scaling_sibling_weights_changes_nothing(mini, w, c, agg):
    a = perfsim.score(_scheme(*w, agg=agg), mini)
    b = perfsim.score(_scheme(*(c * x for x in w), agg=agg), mini)
    assert np.allclose(a["total"], b["total"], atol=1e-9)
    assert a["rank"].tolist() == b["rank"].tolist()


@settings(max_examples=5, deadline=None)
@given(c=st.floats(min_value=0.1, max_value=10))
def test_scaling_dimension_weights_of_baseline_changes_nothing(world, baseline, c):
    raw = dict(baseline.raw)
    raw = perfsim.core.scheme.apply_diff(raw, {
        f"tree.targets.{d}.weight": c * baseline.scheme.components["targets"].children[d].weight
        for d in baseline.scheme.components["targets"].children}, [], "<p>")
    a = perfsim.score(baseline, world)
    b = perfsim.score(parse_scheme(raw, "<p>"), world)
    assert np.allclose(a["total"], b["total"], atol=1e-9) and a["rank"].equals(b["rank"])


def _with_actuals(dataset: Dataset, actuals: pd.DataFrame) -> Dataset:
    tables = dict(dataset.tables)
    tables["actuals"] = actuals
    return Dataset(tables=tables, sources=dataset.sources, origin=dataset.origin)


@SETTINGS
@given(row=st.integers(min_value=0, max_value=12), frac=st.floats(min_value=0.0, max_value=0.95),
       delta=st.floats(min_value=0.0, max_value=500), w=st.tuples(weights, weights, weights))
def test_improving_an_actual_never_lowers_the_total(mini, row, frac, delta, w):
    """Whatever row is drawn, its actual improves in the indicator's own direction (higher:
    + delta; lower is better: x (1 - frac)), so no draw is trivially unchanged."""
    scheme = _scheme(*w)
    actuals = mini.actuals
    indicator = actuals.loc[row, "indicator_id"]
    direction = mini.indicators.set_index("indicator_id").loc[indicator, "direction"]
    improved = actuals.copy()
    value = float(improved.loc[row, "value"])
    improved.loc[row, "value"] = value + delta if direction == "higher" else value * (1 - frac)
    before = perfsim.score(scheme, mini).set_index("unit_id")["total"]
    after = perfsim.score(scheme, _with_actuals(mini, improved)).set_index("unit_id")["total"]
    unit = actuals.loc[row, "unit_id"]
    assert after[unit] >= before[unit] - 1e-9


@pytest.mark.parametrize("actual, change", [(20.0, +4.0), (40.0, -6.0), (25.0, 0.0)])
def test_a_lower_is_better_actual_moves_the_total_both_ways_by_hand(mini, actual, change):
    """U2's accidents (I2, lower is better): target 20, actual 25, ratio 20/25 = 0.8 of the
    social dimension's 20 points (60 target points over three equal dimensions). Fewer
    accidents (20) score 1: +0.2 x 20 = +4 points; more (40) score 0.5: -0.3 x 20 = -6."""
    scheme = _scheme(1.0, 1.0, 1.0)
    actuals = mini.actuals.copy()
    row = actuals.index[(actuals["unit_id"] == "U2") & (actuals["indicator_id"] == "I2")][0]
    assert actuals.loc[row, "value"] == 25
    actuals.loc[row, "value"] = actual
    before = perfsim.score(scheme, mini).set_index("unit_id")["total"]
    after = perfsim.score(scheme, _with_actuals(mini, actuals)).set_index("unit_id")["total"]
    assert after["U2"] - before["U2"] == pytest.approx(change, abs=1e-9)
    assert (after.drop("U2") == before.drop("U2")).all()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_results_do_not_depend_on_row_order(world, baseline, seed):
    rng = np.random.default_rng(seed)
    shuffled = {name: frame.sample(frac=1.0, random_state=rng) if len(frame) else frame
                for name, frame in world.tables.items()}
    other = Dataset(tables=shuffled, sources=world.sources, origin=world.origin)
    a = perfsim.score(baseline, world)
    b = perfsim.score(baseline, other)
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=4),
       method=st.sampled_from(["quota", "thresholds"]),
       shares=st.tuples(st.floats(0, 0.5), st.floats(0, 0.5)),
       rounding=st.sampled_from(["floor", "round", "ceil"]),
       floor=st.one_of(st.none(), st.floats(40, 60)), seed=st.integers(0, 2**16))
def test_grade_counts_equal_counting_grades_draw_by_draw(sizes, method, shares, rounding, floor, seed):
    """The Monte Carlo reads quota grades off the rank histogram and visits only draws
    below the floor; that must equal counting grade_index over every draw."""
    from perfsim.core.engine import grade_counts, grade_index
    from perfsim.uncertainty.montecarlo import ranks

    grading = {"method": method, "grades": ["A", "B", "C", "D"], "floor": floor, "rounding": rounding}
    if method == "quota":
        grading["quota"] = {"A": shares[0], "B": shares[1]}
    else:
        grading["thresholds"] = {"A": 60 + 40 * shares[0], "B": 45 + 20 * shares[1], "C": 45}
    scheme = _scheme(1, 1, 1).model_copy(update={"grading": perfsim.core.scheme.Grading(**grading)})
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    totals = np.round(rng.normal(55, 10, size=(300, len(groups))), 0)     # ties included
    veto = rng.random(len(groups)) < 0.1
    r = ranks(totals, groups)
    max_rank = max(sizes)
    hist = np.stack([(r == k).sum(axis=0) for k in range(1, max_rank + 1)], axis=1)
    expected = np.stack([(grade_index(scheme, totals, r, groups, veto) == k).sum(axis=0)
                         for k in range(4)], axis=1)
    assert np.array_equal(grade_counts(scheme, totals, r, hist, groups, veto), expected)
