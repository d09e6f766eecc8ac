"""End-to-end scoring of the mini dataset, every number computed by hand.

Mini scheme (tests/data/mini_scheme.yaml): targets 60 (econ w2: I1 ratio cap 1.2;
social w1: I2 ratio cap 1, lower is better; party w1: I3 band floor 0.5), leader 20
(trimmed mean), satisfaction 20 (g1 0.25, g2 0.75), special extra 10 for districts
(contribution w3, social_impact w1), bonus cap 3, deduction cap 5 with item caps 2,
veto, quota 50 % 优秀 (floor rounding), floor 75.

U1 district: I1 110/100 = 1.1; I2 10/8 -> 1.0; no I3 -> targets (2*1.1 + 1)/3 * 60 = 64;
   leader (drop 90, 70) 80 -> 16; satisfaction .25*80 + .75*60 = 65 -> 13;
   special (3*80 + 60)/4 = 75 -> 7.5; bonus 2 + 2 capped at 3 -> total 103.5
U2 district: I1 .8, I2 20/25 = .8, I3 (81/90 - .5)/.5 = .8 -> 48; leader 85 -> 17;
   satisfaction .25*90 + .75*70 = 75 -> 15; special (150 + 100)/4 = 62.5 -> 6.25 -> 86.25
U3 dept A: I1 1, I3 1 -> 60; leader (drop 100, 60) 80 -> 16; satisfaction 70 -> 14;
   deductions D1 1.5 + 1.0 capped at 2, D2 .5 -> 2.5 -> total 87.5
U4 dept A: I1 .5, I3 99/90 -> band 1 -> (2*.5 + 1)/3 * 60 = 40; leader 70 -> 14;
   satisfaction .25*50 + .75*100 = 87.5 -> 17.5 -> total 71.5 (< floor 75 -> 不达标)
U5 dept B: I3 (60/80 - .5)/.5 = .5 -> 30; leader (drop 90, 60) 90 -> 18; satisfaction 80
   -> 16 -> total 64; veto -> 不达标
"""

import numpy as np
import pandas as pd
import pytest

from perfsim.core.errors import PerfsimError

import perfsim
from perfsim.core.engine import score_detail
from perfsim.core.scheme import parse_scheme

EXPECTED = {
    #      total   rank grade   targets leader sat   special bonus ded  veto
    "U1": (103.5, 1, "优秀", 64.0, 16.0, 13.0, 7.5, 3.0, 0.0, False),
    "U2": (86.25, 2, "达标", 48.0, 17.0, 15.0, 6.25, 0.0, 0.0, False),
    "U3": (87.5, 1, "优秀", 60.0, 16.0, 14.0, 0.0, 0.0, 2.5, False),
    "U4": (71.5, 2, "不达标", 40.0, 14.0, 17.5, 0.0, 0.0, 0.0, False),
    "U5": (64.0, 1, "不达标", 30.0, 18.0, 16.0, 0.0, 0.0, 0.0, True),
}
COLUMNS = ["total", "rank", "grade", "targets", "leader", "satisfaction", "special",
           "bonus", "deduction", "veto"]


def test_mini_by_hand(mini, mini_scheme):
    table = perfsim.score(mini_scheme, mini).set_index("unit_id")
    assert list(table.columns[:5]) == ["name", "category", "total", "rank", "grade"]
    for unit, row in EXPECTED.items():
        got = table.loc[unit, COLUMNS].tolist()
        assert got[3:8] == pytest.approx(list(row[3:8])), unit
        assert got[0] == pytest.approx(row[0]) and got[1:3] == list(row[1:3]), unit
        assert bool(got[9]) == row[9], unit


def test_totals_add_up_and_ranks_follow_totals(mini, mini_scheme):
    table = perfsim.score(mini_scheme, mini)
    parts = table[["targets", "leader", "satisfaction", "special", "bonus"]].sum(axis=1) - table["deduction"]
    assert np.allclose(parts, table["total"], atol=0.005)
    for _, group in table.groupby("category"):
        order = group.sort_values("total", ascending=False)
        assert order["rank"].is_monotonic_increasing


def test_latest_period_of_the_year_is_used(mini, mini_scheme):
    detail = score_detail(mini_scheme, mini)
    # U1's June I1 value (40) would give 0.4; December (110) gives 1.1
    assert detail.node_scores.loc["U1", "tree.targets.econ.I1"] == pytest.approx(1.1)


def _scheme(**changes):
    raw = {"name": "t", "tree": {"points": 100, "children": {
        "targets": {"points": 100, "children": {"I1": {"rule": "ratio", "cap": 1.2, "weight": 1}}}}}}
    raw.update(changes)
    return parse_scheme(raw, "<test>")


def test_ties_share_best_rank(mini_copy):
    # make U3 and U4 identical on the only indicator: both 10/10
    actuals = pd.read_csv(mini_copy / "actuals.csv")
    actuals.loc[(actuals.unit_id == "U4") & (actuals.indicator_id == "I1"), "value"] = 10
    actuals.to_csv(mini_copy / "actuals.csv", index=False)
    (mini_copy / "adjustments.csv").unlink()   # U3's deductions would break the tie
    table = perfsim.score(_scheme(), perfsim.load_dataset(mini_copy)).set_index("unit_id")
    assert table.loc[["U3", "U4"], "rank"].tolist() == [1, 1]
    assert table.loc[["U3", "U4"], "total"].tolist() == [100.0, 100.0]


def test_unit_without_any_present_indicator_scores_zero(mini):
    # U5 has no target on I1: nothing present -> total 0
    table = perfsim.score(_scheme(), mini).set_index("unit_id")
    assert table.loc["U5", "total"] == 0.0


def test_grades_by_thresholds(mini, mini_scheme):
    raw = dict(mini_scheme.raw)
    raw["grading"] = {"method": "thresholds", "grades": ["A", "B", "C"],
                      "thresholds": {"A": 100, "B": 80}}
    table = perfsim.score(parse_scheme(raw, "<t>"), mini).set_index("unit_id")
    assert table["grade"].to_dict() == {"U1": "A", "U2": "B", "U3": "B", "U4": "C", "U5": "C"}


def test_quota_rounding_and_no_floor(mini, mini_scheme):
    raw = dict(mini_scheme.raw)
    raw["grading"] = {"method": "quota", "quota": {"优秀": 0.5, "良好": 0.5}, "rounding": "ceil"}
    table = perfsim.score(parse_scheme(raw, "<t>"), mini).set_index("unit_id")
    # ceil(0.5 * 2) = 1 per grade in A and the districts; B has one unit -> 优秀 but veto
    assert table["grade"].to_dict() == {"U1": "优秀", "U2": "良好", "U3": "优秀", "U4": "良好",
                                        "U5": "不达标"}


def test_ranking_over_all_units(mini, mini_scheme):
    raw = dict(mini_scheme.raw)
    raw["ranking"] = {"within": "all"}
    table = perfsim.score(parse_scheme(raw, "<t>"), mini).set_index("unit_id")
    assert table["rank"].to_dict() == {"U1": 1, "U3": 2, "U2": 3, "U4": 4, "U5": 5}


def test_geometric_aggregation_and_minmax_rank_rules(mini):
    raw = {"name": "g", "tree": {"points": 1, "aggregate": "geometric", "children": {
        "a": {"weight": 1, "children": {"I1": {"rule": "minmax", "weight": 1}}},
        "b": {"weight": 1, "children": {"I3": {"rule": "rank", "weight": 1}}}}},
        "ranking": {"within": "all"}}
    # a geometric mean over a zero is an error naming the units and the nodes
    with pytest.raises(PerfsimError, match=r"scheme 'g': key 'tree': a geometric mean over a score of 0 or less for "
                                           r"3 unit\(s\) \(U2, U3, U4\) in tree.a, tree.b: declare 'geometric_floor"):
        score_detail(parse_scheme(raw, "<t>"), mini)
    raw["tree"]["geometric_floor"] = 0.01
    detail = score_detail(parse_scheme(raw, "<t>"), mini)
    s = detail.node_scores
    # I1 actuals by category: district U1 110, U2 40 -> 1, 0; A: U3 10, U4 5 -> 1, 0
    assert s["tree.a.I1"].to_dict() == {"U1": 1.0, "U2": 0.0, "U3": 1.0, "U4": 0.0, "U5": 0.0}
    # I3 (present where an actual exists) ranks: district only U2 -> 1; A: U4 99 > U3 90
    assert s["tree.b.I3"].to_dict() == {"U1": 0.0, "U2": 1.0, "U3": 0.0, "U4": 1.0, "U5": 1.0}
    # geometric mean with zeros raised to 0.01: sqrt(0.01 x 1) = 0.1; U1 has only a, U5 only
    # b present -> 1. No caps: U1 adds its bonus 2 + 2, U3 loses 1.5 + 1.0 + 0.5
    assert detail.table.set_index("unit_id")["total"].to_dict() == pytest.approx(
        {"U1": 1.0 + 4.0, "U2": 0.1, "U3": 0.1 - 3.0, "U4": 0.1, "U5": 1.0})


def test_untrimmed_leader_and_respondent_weighted_satisfaction(mini):
    raw = {"name": "r", "tree": {"points": 100, "children": {
        "leader": {"points": 50, "source": "leader_ratings", "rule": "rating"},
        "satisfaction": {"points": 50, "source": "satisfaction", "rule": "rating"}}}}
    detail = score_detail(parse_scheme(raw, "<t>"), mini)
    s = detail.node_scores
    assert s.loc["U3", "tree.leader"] == pytest.approx(0.8)          # (100 + 60 + 80) / 3
    assert s.loc["U5", "tree.leader"] == pytest.approx(0.8)          # (90 + 90 + 60) / 3
    # respondents 10 and 30: (10*80 + 30*60) / 40 = 65
    assert s.loc["U1", "tree.satisfaction"] == pytest.approx(0.65)


def test_applies_to_skips_units_and_renormalises(mini):
    raw = {"name": "a", "tree": {"points": 100, "children": {
        "x": {"weight": 1, "applies_to": {"category": ["A"]},
              "children": {"I1": {"rule": "ratio", "weight": 1}}},
        "y": {"weight": 1, "children": {"I3": {"rule": "ratio", "weight": 1}}}}}}
    table = perfsim.score(parse_scheme(raw, "<t>"), mini).set_index("unit_id")
    # U2 is not in A: only I3 counts, 81/90 = 0.9 of 100 points
    assert table.loc["U2", "total"] == pytest.approx(90.0)
    # U4 in A: (0.5 + 1.0) / 2 = 0.75
    assert table.loc["U4", "total"] == pytest.approx(75.0)


def test_score_on_baseline_world_is_consistent(world, baseline):
    table = perfsim.score(baseline, world)
    assert len(table) == 108
    comps = ["targets", "leader", "satisfaction", "special"]
    parts = table[comps + ["bonus"]].sum(axis=1) - table["deduction"]
    assert np.allclose(parts, table["total"], atol=0.006)
    for _, group in table.groupby("category"):
        assert (group.sort_values("total", ascending=False)["rank"].diff().dropna() >= 0).all()
    assert table.loc[table["veto"], "grade"].eq("不达标").all()
    share = table["grade"].value_counts(normalize=True)
    assert 0.1 < share["优秀"] <= 0.21 and 0.1 < share["良好"] <= 0.21


def test_bad_year(mini, mini_scheme):
    with pytest.raises(perfsim.PerfsimError, match="no targets or actuals for year 1999"):
        perfsim.score(mini_scheme, mini, year=1999)


def test_in_extra_finds_the_extra_component_at_any_depth():
    """A node lies under an extra component when its top-level ancestor (or itself) is one:
    leaves two levels below it, the component itself, a component that is itself a leaf;
    never the root or a normal component's nodes."""
    from perfsim.core.engine import Tree
    from perfsim.core.scheme import load_scheme_text

    scheme = load_scheme_text("""
name: x
tree:
  points: 100
  children:
    s: {points: 5, extra: true, children: {g: {weight: 1, children: {f: {source: special, facet: contribution, rule: rating, weight: 1}}}}}
    a: {points: 100, children: {b: {weight: 1, children: {x: {rule: ratio, weight: 1}}}}}
    e: {points: 3, extra: true, source: special, facet: social_impact, rule: rating}
""")
    tree = Tree.of(scheme)
    inside = {path.split(".", 1)[-1]: tree.in_extra(i) for i, path in enumerate(tree.paths)}
    assert inside == {"tree": False, "a": False, "a.b": False, "a.b.x": False, "s": True, "s.g": True,
                      "s.g.f": True, "e": True}


def test_effective_weights_and_unit_types_by_hand(mini, mini_scheme):
    """The targets' 60 points split econ : social : party = 2 : 1 : 1 over the dimensions a
    unit has targets in. U1 (central) has I1 and I2 targets: 40 and 20. U2 (outer) has all
    three: 30, 15, 15. U3 and U4 (category A) have I1 and I3: 40 and 20. U5 (B) has I3
    alone: 60. Leader and satisfaction hold 20 each everywhere; the special indicators' 10
    extra points go 3 : 1 to districts only (7.5 and 2.5)."""
    from perfsim.core.engine import effective_weights, score_detail, unit_type

    assert unit_type(mini.units).to_dict() == {"U1": "central district", "U2": "outer district", "U3": "A",
                                               "U4": "A", "U5": "B"}
    w = effective_weights(score_detail(mini_scheme, mini), mini)
    expected = {"A": [40, 0, 20, 20, 20, 0, 0], "B": [0, 0, 60, 20, 20, 0, 0],
                "central district": [40, 20, 0, 20, 20, 7.5, 2.5], "outer district": [30, 15, 15, 20, 20, 7.5, 2.5]}
    assert list(w.index) == ["tree.targets.econ.I1", "tree.targets.social.I2", "tree.targets.party.I3", "tree.leader",
                             "tree.satisfaction", "tree.special.contribution", "tree.special.social_impact"]
    for column, values in expected.items():
        assert np.allclose(w[column], values), column
    every = effective_weights(score_detail(mini_scheme, mini), mini, leaves_only=False)
    assert np.allclose(every.loc["tree.targets", "outer district"], 60) and "tree" in every.index


def test_tree_table_lists_every_node_with_its_share(mini_scheme):
    from perfsim.core.scheme import tree_table

    t = tree_table(mini_scheme.scheme).set_index("path")
    assert list(t.index[:4]) == ["tree", "tree.targets", "tree.targets.econ", "tree.targets.econ.I1"]
    assert t.loc["tree.targets", "points"] == 60 and t.loc["tree.targets", "depth"] == 1
    assert t.loc["tree.targets.econ", "share_of_parent"] == pytest.approx(0.5)      # weight 2 of 4
    assert t.loc["tree.targets.social", "share_of_parent"] == pytest.approx(0.25)
    assert bool(t.loc["tree.special", "extra"]) and not bool(t.loc["tree.leader", "extra"])
    assert t.loc["tree.targets.party.I3", "rule"] == "band" and pd.isna(t.loc["tree.targets", "rule"])
