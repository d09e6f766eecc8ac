"""E-performance: progress and warnings, dynamic ranking, peers, efficiency, gaming, awards."""

from __future__ import annotations

import numpy as np
import pytest

import perfsim
from perfsim.cli import main
from perfsim.core.contract import Dataset
from perfsim.analyses.gaming import load_gaming, simulate_regimes as simulate, summarise_regimes
from perfsim.analyses.tracking import (award_allocation, dynamic_ranking, efficiency, expected_share, feedback,
                                       load_tracking, month_dataset, peer_position, progress)

from ..conftest import ROOT

PARAMS = {"thresholds": {"green": 0.95, "amber": 0.85},
          "seasons": {"back": [0.05] * 5 + [0.25] + [0.5] * 5 + [1.0], "level": [1.0] * 12}}


def test_expected_progress_and_lights_by_hand(mini):
    # time-proportional (no season column): June expects 6/12 of the annual target
    p = progress(mini, "2025-06", PARAMS).set_index(["unit_id", "indicator_id"])
    # U1 I1: actual 40 against 100 x 0.5 = 50 -> 0.8 -> red
    assert p.loc[("U1", "I1"), "expected"] == 50 and p.loc[("U1", "I1"), "progress"] == pytest.approx(0.8)
    assert p.loc[("U1", "I1"), "light"] == "red"
    # U1 I2 (lower is better): expected 10 x 0.5 = 5, actual 3 -> 5/3 -> green
    assert p.loc[("U1", "I2"), "progress"] == pytest.approx(5 / 3) and p.loc[("U1", "I2"), "light"] == "green"
    # I3 is an annual indicator: not judged in June (not 0 and red), whatever was reported
    assert p.loc[("U5", "I3"), "light"] == "not due" and np.isnan(p.loc[("U5", "I3"), "progress"])
    # a monthly indicator without a June actual: no progress -> red
    assert p.loc[("U2", "I1"), "progress"] == 0 and p.loc[("U2", "I1"), "light"] == "red"
    assert p["trend"].isna().all()            # no May actuals: no trend
    notes = feedback(p.reset_index(), mini)
    assert set(notes["light"]) <= {"amber", "red"} and ("U1", "I1") in set(zip(notes["unit_id"], notes["indicator_id"]))
    assert "I3" not in set(notes["indicator_id"])
    # in December the annual indicator is judged: U5 I3 60 against 80 -> 0.75 red; U4 99/90 green
    d = progress(mini, "2025-12", PARAMS).set_index(["unit_id", "indicator_id"])
    assert d.loc[("U5", "I3"), "progress"] == pytest.approx(0.75) and d.loc[("U5", "I3"), "light"] == "red"
    assert d.loc[("U4", "I3"), "progress"] == pytest.approx(1.1) and d.loc[("U4", "I3"), "light"] == "green"


def test_quarterly_indicator_is_judged_at_the_last_quarter_end(mini):
    ind = mini.indicators.assign(frequency=["quarterly", "monthly", "annual"])
    data = mini.replace(indicators=ind)
    # May: I1 is judged on March, which has no actual -> no progress; June: on June
    may = progress(data, "2025-05", PARAMS).set_index(["unit_id", "indicator_id"])
    assert may.loc[("U1", "I1"), "judged_period"] == "2025-03" and may.loc[("U1", "I1"), "progress"] == 0
    june = progress(data, "2025-06", PARAMS).set_index(["unit_id", "indicator_id"])
    assert june.loc[("U1", "I1"), "judged_period"] == "2025-06"
    assert june.loc[("U1", "I1"), "progress"] == pytest.approx(0.8)
    assert np.isnan(june.loc[("U1", "I1"), "trend"])                  # March was not reported: no trend


def test_seasonal_profile_and_amber(mini):
    ind = mini.indicators.assign(season=["back", "", "level"], frequency="monthly")
    data = Dataset(tables=dict(mini.tables, indicators=ind), sources=mini.sources)
    share = expected_share(data, 6, PARAMS["seasons"])
    assert share.to_dict() == {"I1": 0.25, "I2": 0.5, "I3": 1.0}
    p = progress(data, "2025-06", PARAMS).set_index(["unit_id", "indicator_id"])
    # U1 I1: 40 against 100 x 0.25 = 25 -> 1.6 green; U5 I3 (level, monthly here): 70 / 80 = 0.875 -> amber
    assert p.loc[("U1", "I1"), "progress"] == pytest.approx(1.6)
    assert p.loc[("U5", "I3"), "progress"] == pytest.approx(0.875) and p.loc[("U5", "I3"), "light"] == "amber"


def test_warning_counts_recomputed_independently(world):
    p = progress(world, "2025-06", load_tracking())
    ind = world.indicators.set_index("indicator_id")
    monthly = set(ind.index[ind["frequency"] == "monthly"])
    a = world.actuals[world.actuals["period"] == "2025-06"]
    t = world.targets[world.targets["year"] == 2025].merge(a, on=["unit_id", "indicator_id"])
    t = t[t["indicator_id"].isin(monthly)]
    seasons = load_tracking()["seasons"]
    share = t["indicator_id"].map(lambda i: seasons[ind.loc[i, "season"]][5])
    lower = t["indicator_id"].map(ind["direction"]) == "lower"
    ratio = np.where(lower, t["target"] * share / t["value"], t["value"] / (t["target"] * share))
    red = int((ratio < 0.85).sum())
    judged = p[p["indicator_id"].isin(monthly)]
    assert red == int((judged["light"] == "red").sum())
    annual = set(ind.index[ind["frequency"] == "annual"])
    assert (p.loc[p["indicator_id"].isin(annual), "light"] == "not due").all()


def test_month_dataset_and_june_ranking_by_hand(mini, mini_scheme):
    """June in the mini world, worked by hand: targets scaled to half (time-proportional),
    the annual I3 left out, actuals up to June only."""
    june = month_dataset(mini, "2025-06", PARAMS)
    t = june.targets.set_index(["unit_id", "indicator_id"])["target"]
    assert t[("U1", "I1")] == 50 and t[("U1", "I2")] == 5
    assert "I3" not in set(june.targets["indicator_id"])
    assert june.actuals["period"].max() == "2025-06"
    assert len(mini.targets) > len(june.targets)            # the original is untouched
    table = perfsim.score(mini_scheme, june).set_index("unit_id")
    ranking = dynamic_ranking(mini_scheme, mini, "2025-06", component=None, params=PARAMS)
    r = ranking[ranking["period"] == "2025-06"].set_index("unit_id")
    assert (r["score"] == table["total"].reindex(r.index)).all()
    assert (r["rank"] == table["rank"].reindex(r.index)).all()


def test_dynamic_ranking_month_by_month(world, baseline):
    r = dynamic_ranking(baseline, world, "2025-03")
    assert sorted(r["period"].unique()) == ["2025-01", "2025-02", "2025-03"]
    for (_, _), g in r.groupby(["period", "category"]):
        assert g["rank"].min() == 1


def test_peer_ranks_against_a_direct_computation(world):
    focal = load_tracking()["focal_city"]
    pos = peer_position(world, focal)
    assert len(pos) == world.peers[["period", "indicator_id"]].drop_duplicates().shape[0]
    for _, row in pos.sample(8, random_state=0).iterrows():
        g = world.peers[(world.peers["period"] == row["period"]) & (world.peers["indicator_id"] == row["indicator_id"])]
        lower = world.indicators.set_index("indicator_id").loc[row["indicator_id"], "direction"] == "lower"
        ranks = g.set_index("city")["value"].rank(method="min", ascending=lower)
        assert row["rank"] == ranks[focal] and row["cities"] == 20
        others = g[g["city"] != focal]["value"]
        assert row["gap_to_median_pct"] == pytest.approx((row["value"] - others.median()) / row["value"] * 100)


def test_efficiency_views(world, baseline):
    eff = efficiency(perfsim.score(baseline, world), world)
    assert np.allclose(eff["per_staff"], eff["total"] / eff["staff"])
    assert eff.groupby("category")["rank_per_budget"].min().eq(1).all()


def test_ratchet_without_sandbagging_tracks_capacity():
    params = dict(load_gaming(), hold_back=False, sandbag=0.0, effort_response=0.0)
    sim = simulate(["ratchet", "self"], seed=1, params=params)
    ratchet = sim[(sim["regime"] == "ratchet") & (sim["year"] > 1)]
    assert abs((ratchet["target"] / ratchet["capacity"]).mean() - 1) < 0.02
    self_ = sim[sim["regime"] == "self"]          # no sandbag: self-reported = expected capacity
    assert abs((self_["target"] / self_["capacity"]).mean() - 1) < 0.05
    # holding back under the ratchet: targets fall behind capacity and the city lags
    held = summarise_regimes(simulate(["ratchet", "cascade"], seed=1, params=dict(load_gaming(), effort_response=0.0)))
    last = held[held["year"] == held["year"].max()].set_index("regime")
    assert last.loc["ratchet", "city_outcome"] < last.loc["cascade", "city_outcome"]
    assert last.loc["ratchet", "share_completing"] > last.loc["cascade", "share_completing"]


def test_easy_targets_are_overachieved_while_the_city_lags():
    """Seed 三.4, as a result of the effort response: under self-reported (sandbagged)
    targets units over-achieve and nearly all complete, yet the city ends below what its
    units could do; under cascaded and benchmarked targets fewer complete but the city
    gets (nearly) all of its capacity. Without the effort response the pattern goes."""
    last = summarise_regimes(simulate(seed=3))
    last = last[last["year"] == last["year"].max()].set_index("regime")
    assert last.loc["self", "mean_completion"] > 1 and last.loc["self", "share_completing"] > 0.9
    for regime in ("cascade", "benchmark"):
        assert last.loc[regime, "mean_completion"] < 1
        assert last.loc[regime, "city_outcome_vs_capacity"] > last.loc["self", "city_outcome_vs_capacity"] + 0.03
    flat = summarise_regimes(simulate(["self", "cascade"], seed=3, params=dict(load_gaming(), effort_response=0.0)))
    flat = flat[flat["year"] == flat["year"].max()].set_index("regime")
    assert abs(flat.loc["self", "city_outcome_vs_capacity"] - flat.loc["cascade", "city_outcome_vs_capacity"]) < 1e-9


def test_award_allocation_sums_to_the_city_quota(world, baseline):
    table = perfsim.score(baseline, world)
    knobs = load_tracking()
    quota = int(round(world.units["staff"].sum() * knobs["city_quota_share"]))
    awards = award_allocation(table, world, knobs["awards"], quota)
    assert awards["awards"].sum() == quota
    assert (awards.loc[awards["grade"] == "不达标", "awards"] == 0).all()
    per_staff = awards[awards["awards"] > 0].groupby("grade").apply(lambda g: g["awards"].sum() / g["staff"].sum())
    assert per_staff["优秀"] > per_staff["达标"]


def test_track_cli(tmp_path, capsys):
    assert main(["track", str(ROOT / "params" / "baseline.yaml"), "--period", "2025-04", "--out", str(tmp_path)]) == 0
    for name in ("progress.csv", "ranking.csv", "feedback.csv"):
        assert (tmp_path / name).exists()
    assert main(["track", str(ROOT / "params" / "baseline.yaml"), "--period", "2025-13"]) == 2
    assert "'2025-13' is not a period YYYY-MM" in capsys.readouterr().err


def test_units_source_ranks_cost_per_staff_by_hand(mini):
    # consumption per staff: U1 7000/3000 = 2.33, U2 6000/2500 = 2.4 (districts); U3 200/120 = 1.67,
    # U4 300/150 = 2 (category A); U5 alone in B. Lower is better, rank rule: best 1, worst 0.
    from perfsim.core.scheme import parse_scheme

    scheme = parse_scheme({"name": "c", "tree": {"points": 10, "children": {"cost": {"points": 10, "children": {
        "x": {"source": "units", "field": "consumption", "per": "staff", "rule": "rank",
              "direction": "lower", "weight": 1}}}}}}, "<t>")
    detail = perfsim.score_detail(scheme, mini)
    assert detail.node_scores["tree.cost.x"].to_dict() == {"U1": 1.0, "U2": 0.0, "U3": 1.0, "U4": 0.0, "U5": 1.0}


def test_peer_quantile_scales_targets_to_the_peers(world):
    from perfsim.core.engine import leaf_inputs
    from perfsim.core.scheme import load_scenario as load

    scenario = load(ROOT / "params" / "scenarios" / "levers" / "peer_targets.yaml")
    base = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    peers = world.peers[(world.peers["indicator_id"] == "E01") & (world.peers["period"] == "2025-12")]
    focal = peers["city"] == scenario.scheme.focal_city
    factor = peers.loc[~focal, "value"].median() / peers.loc[focal, "value"].iloc[0]
    a = leaf_inputs(base.scheme, world, 2025)
    b = leaf_inputs(scenario.scheme, world, 2025)
    j = 0                                         # E01 is the first leaf
    ok = ~np.isnan(a.t[:, j])
    assert np.allclose(b.t[ok, j], a.t[ok, j] * factor)
    e03 = ~np.isnan(a.t[:, 2])                # E03 is not compared with the peers: unchanged
    assert np.array_equal(b.t[e03, 2], a.t[e03, 2])
    assert np.array_equal(np.isnan(b.t), np.isnan(a.t))
