"""Leader-rating reform study: compare, attribution (Shapley), validity against the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.analyses.attribution import attribute
from perfsim.analyses.compare import rank_shifts, summarise
from perfsim.core.contract import Dataset, empty_table
from perfsim.core.engine import component_columns
from perfsim.core.scheme import apply_diff, load_scenario as load, parse_scheme
from perfsim.analyses.validity import points_sweep, rater_sweep, sweep_effects, truth_tau, variance_shares

from ..conftest import ROOT

SCENARIOS = ROOT / "params" / "scenarios"


def _table(x, y, ranks):
    return pd.DataFrame({"unit_id": ["A", "B", "C"], "name": ["A", "B", "C"], "category": "X",
                         "x": x, "y": y, "total": np.add(x, y), "rank": ranks,
                         "grade": "达标", "bonus": 0.0, "deduction": 0.0, "veto": False})


def test_attribution_by_hand_three_units():
    # base: A 50+40=90, B 45+43=88, C 40+45=85 -> ranks 1, 2, 3
    # scenario (x halved, y x1.5): A 25+60=85, B 22.5+64.5=87, C 20+67.5=87.5 -> 3, 2, 1
    # v({x}): totals 65, 65.5, 65 -> ranks 2, 1, 2 -> v = +1, -1, -1; v({y}): 110, 109.5,
    # 107.5 -> unchanged -> 0; v({x, y}) = +2, 0, -2.
    # phi_x = (v(x) - 0)/2 + (v(xy) - v(y))/2; phi_y = (v(y) - 0)/2 + (v(xy) - v(x))/2
    base = _table([50, 45, 40], [40, 43, 45], [1, 2, 3])
    scen = _table([25, 22.5, 20], [60, 64.5, 67.5], [3, 2, 1])
    a = attribute(base, scen, ["x", "y"]).set_index("unit_id")
    assert a["shift"].tolist() == [2, 0, -2]
    assert a["total_change"].tolist() == pytest.approx([-5, -1, 2.5])
    assert a["delta_x"].tolist() == pytest.approx([-25, -22.5, -20])
    assert a["delta_y"].tolist() == pytest.approx([20, 21.5, 22.5])
    assert a["shapley_x"].tolist() == pytest.approx([1.5, -0.5, -1.5])
    assert a["shapley_y"].tolist() == pytest.approx([0.5, 0.5, -0.5])
    assert a["recut"].tolist() == [0, 0, 0]
    assert "shapley_bonus" not in a       # unchanged parts are not players


@pytest.mark.parametrize("name", ["leader5_proportional", "leader5_to_satisfaction", "leader5_to_targets",
                                  "leader5_total95", "leader0"])
def test_shapley_sums_to_rank_change_and_deltas_to_total_change(world, baseline, name):
    scenario = load(SCENARIOS / f"{name}.yaml")
    base_t, scen_t = perfsim.score(baseline, world), perfsim.score(scenario, world)
    a = attribute(base_t, scen_t, component_columns(scenario), scenario.scheme.ranking.round)
    phi = a.filter(like="shapley_").sum(axis=1)
    assert np.allclose(phi + a["recut"], a["shift"])
    deltas = a.filter(like="delta_").sum(axis=1)
    change = scen_t.set_index("unit_id")["total"] - base_t.set_index("unit_id")["total"]
    assert np.allclose(deltas, change.reindex(a["unit_id"]).to_numpy(), atol=0.011)  # totals are rounded


def test_category_recut_shows_up_as_recut(world, baseline):
    moved = world.units.copy()
    moved.loc[moved["unit_id"] == "ECO01", "category"] = "social"
    recut = Dataset(tables=dict(world.tables, units=moved), sources=world.sources)
    a = attribute(perfsim.score(baseline, world), perfsim.score(baseline, recut),
                  component_columns(baseline), 2)
    assert a.filter(like="shapley_").shape[1] == 0
    assert (a["recut"] == a["shift"]).all() and (a["shift"] != 0).any()


def test_compare_with_itself(world, baseline):
    t = perfsim.score(baseline, world)
    summary = summarise(rank_shifts(t, t))
    assert np.allclose(summary["kendall_tau"], 1) and np.allclose(summary["spearman_rho"], 1)
    assert (summary["mean_abs_shift"] == 0).all() and (summary["grade_changes"] == 0).all()
    assert (summary["top3_overlap"] == 1).all()


def test_rescaling_all_points_leaves_ranks_unchanged(world, baseline):
    no_adjustments = Dataset(tables=dict(world.tables, adjustments=empty_table("adjustments")),
                             sources=world.sources)
    raw = apply_diff(baseline.raw, {"ranking.round": None}, [], "<t>")
    scaled = apply_diff(raw, {"tree.points": 300, "tree.targets.points": 210, "tree.leader.points": 30,
                              "tree.satisfaction.points": 60, "tree.special.points": 15}, [], "<t>")
    a = perfsim.score(parse_scheme(raw, "<a>"), no_adjustments)
    b = perfsim.score(parse_scheme(scaled, "<b>"), no_adjustments)
    assert a["rank"].tolist() == b["rank"].tolist() and a["unit_id"].tolist() == b["unit_id"].tolist()
    assert np.allclose(b["total"], 3 * a["total"])
    summary = summarise(rank_shifts(a, b))
    assert np.allclose(summary["kendall_tau"], 1)


def test_summary_is_recomputable_from_rank_shifts(world, baseline):
    from scipy import stats

    shifts = rank_shifts(perfsim.score(baseline, world),
                         perfsim.score(load(SCENARIOS / "leader0.yaml"), world))
    summary = summarise(shifts).set_index("category")
    for category, g in shifts.groupby("category"):
        assert summary.loc[category, "kendall_tau"] == pytest.approx(
            stats.kendalltau(g["rank_base"], g["rank_scenario"]).statistic)
        assert summary.loc[category, "max_abs_shift"] == g["shift"].abs().max()
    assert summary.loc["overall", "n"] == len(shifts)


def test_truth_tau_and_variance_shares(world, baseline):
    table = perfsim.score(baseline, world)
    taus = truth_tau(table, world.truth).set_index("category")
    assert 0.3 < taus.loc["overall", "kendall_tau"] <= 1
    # an oracle table ranked by theta itself has tau 1
    oracle = table.assign(total=world.truth.set_index("unit_id")["theta"].reindex(table["unit_id"]).to_numpy())
    assert np.allclose(truth_tau(oracle, world.truth)["kendall_tau"], 1.0)
    shares = variance_shares(table, component_columns(baseline)).set_index("category")
    # independently, per category: cov(part, total) / var(total) with numpy
    for category, g in table.groupby("category"):
        unrounded = g[["targets", "leader", "satisfaction", "special", "bonus"]].sum(axis=1) - g["deduction"]
        for part in ("targets", "leader", "satisfaction"):
            expected = np.cov(g[part], unrounded, ddof=0)[0, 1] / np.var(unrounded)
            assert shares.loc[category, part] == pytest.approx(expected, rel=1e-6, abs=1e-9), (category, part)
    assert shares.loc["overall", "targets"] > shares.loc["overall", "leader"]


def _knob_sets(count: int = 8):
    from perfsim.analyses.calibration import knob_draws
    from perfsim.sources.readers import read_table
    from perfsim.sources.synth import synth_params

    return knob_draws(read_table(ROOT / "params" / "plausible.csv"), synth_params(), count, seed=1)


def test_rater_sweep_is_reproducible_and_responds_to_favouritism(baseline):
    from perfsim.analyses.calibration import with_knobs

    cut = load(SCENARIOS / "leader0.yaml")
    sets = [with_knobs(k, {"leader.favour_prob": 0.3}) for k in _knob_sets()]
    a = rater_sweep(baseline, cut, "favour_points", [0.0, 40.0], sets, seed=3)
    b = rater_sweep(baseline, cut, "favour_points", [0.0, 40.0], sets, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 2 * len(sets)
    wide = a.pivot(index="world", columns="value", values="tau_truth")
    assert (wide[0.0] == wide[40.0]).all()      # without the leader rating, raters do not matter
    # with honest raters dropping their (informative) rating hurts in every world; heavy,
    # widespread favouritism makes it mislead, and dropping it costs far less
    effect = sweep_effects(a).set_index("value")
    assert effect.loc[0.0, "verdict"] == "hurts"
    assert effect.loc[40.0, "median"] > effect.loc[0.0, "median"] + 0.03
    per_world = a.pivot(index="world", columns="value", values="delta_tau_truth")
    assert (per_world[40.0] > per_world[0.0]).mean() >= 0.75


def test_rater_sweep_rejects_unknown_knob(baseline):
    with pytest.raises(perfsim.PerfsimError, match="unknown leader knob"):
        rater_sweep(baseline, baseline, "favor_points", [1.0], _knob_sets(1), seed=1)


def test_points_sweep_equals_an_independent_scoring_of_each_world(baseline):
    """Each row re-computed outside the sweep: the world regenerated from its seed and
    knobs, the scheme rebuilt by hand (leader at 0 points, its 10 spread over the others in
    proportion), scored by perfsim.score and compared with the truth by scipy's Kendall tau
    within each category, weighted by the category's size."""
    from scipy import stats

    from perfsim.analyses.ensemble import world_seeds
    from perfsim.core.scheme import apply_diff, parse_scheme, raw_of
    from perfsim.sources.synth import generate_arrays, world_tables

    knobs = _knob_sets(3)
    sweep = points_sweep(baseline, [0, 10], knobs, seed=2)
    assert sorted(zip(sweep["points"], sweep["world"])) == [(p, w) for p in (0.0, 10.0) for w in range(3)]
    comps = baseline.scheme.components
    others = {k: c.points for k, c in comps.items() if k != "leader" and not c.extra}
    total = sum(others.values())
    zero = parse_scheme(apply_diff(raw_of(baseline), {"tree.leader.points": 0, **{
        f"tree.{k}.points": v + 10 * v / total for k, v in others.items()}}, [], "<hand>"), "<hand>")
    seeds = world_seeds(2, 3)
    for w in range(3):
        data = perfsim.validate_frames(world_tables(generate_arrays(seeds[w], dict(knobs[w]), years=1, monthly=False)))
        theta = data.truth.set_index("unit_id")["theta"]
        for points, scheme in ((10.0, baseline), (0.0, zero)):
            table = perfsim.score(scheme, data)
            taus, sizes = [], []
            for _, part in table.groupby("category"):
                taus.append(stats.kendalltau(part["total"], theta.reindex(part["unit_id"])).statistic)
                sizes.append(len(part))
            expected = np.average(taus, weights=sizes)
            got = sweep[(sweep["points"] == points) & (sweep["world"] == w)]["tau_truth"].item()
            assert got == pytest.approx(expected, abs=1e-12), (points, w)
