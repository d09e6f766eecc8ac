"""District specialisation, the survey's sampling error, category re-cuts and penalties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.analyses.levers import group_gap, lever_sweep as sweep, sweep_grade_changes as grade_changes
from perfsim.core.scheme import apply_diff, load_scenario as load, parse_scheme
from perfsim.analyses.survey import sample_size_needed, sampling_error, simulate_swaps, swap_by_sample_size

from ..conftest import ROOT

LEVERS = ROOT / "params" / "scenarios" / "levers"


def test_every_lever_scenario_scores_consistently_and_changes_its_base(world):
    """Every lever: the totals are the component points plus bonus minus deduction (to the
    rounding of totals, 0.005), and the scores differ from its base's (a diff that changes
    nothing is a broken lever)."""
    files = sorted(LEVERS.glob("*.yaml"))
    assert len(files) >= 10
    base = perfsim.score(load(ROOT / "params" / "baseline.yaml"), world).set_index("unit_id")
    for path in files:
        resolved = load(path)
        assert Path(resolved.diffs[0]["base"]).name == "baseline.yaml"
        table = perfsim.score(resolved, world).set_index("unit_id")
        assert table.index.sort_values().equals(base.index.sort_values()), path.name
        comps = perfsim.component_columns(resolved)
        identity = table[comps].sum(axis=1) + table["bonus"] - table["deduction"] - table["total"]
        assert identity.abs().max() <= 0.005 + 1e-9, path.name
        columns = ["total", "rank", "grade", "category", "veto", *[c for c in comps if c in base.columns]]
        same = table[columns].reindex(base.index).equals(base[columns])
        declared = set(resolved.diffs[0].get("set") or {}) | set(resolved.diffs[0].get("remove") or [])
        if all(key.startswith("uncertainty.") for key in declared):    # the survey's sampling error only
            assert same, f"{path.name} changes the nominal scores"
        else:
            assert not same, f"{path.name} changes nothing"


def test_lever_scenarios_do_what_they_declare(world):
    base = perfsim.score(load(ROOT / "params" / "baseline.yaml"), world).set_index("unit_id")
    districts = base.index[world.units.set_index("unit_id").loc[base.index, "kind"] == "district"]
    zero = perfsim.score(load(LEVERS / "special0.yaml"), world).set_index("unit_id")
    assert (zero["special"] == 0).all() and base.loc[districts, "special"].gt(0).any()
    ten = perfsim.score(load(LEVERS / "special10.yaml"), world).set_index("unit_id")
    assert np.allclose(ten.loc[districts, "special"], 2 * base.loc[districts, "special"], atol=1e-9)
    free = perfsim.score(load(LEVERS / "no_veto.yaml"), world).set_index("unit_id")
    assert base["veto"].any() and not free["veto"].any()
    merged = perfsim.score(load(LEVERS / "categories_merge.yaml"), world).set_index("unit_id")
    was = base["category"].isin(["urban", "enforcement"])
    assert (merged.loc[was, "category"] == "urban_enforcement").all()
    assert (merged.loc[~was, "category"] == base.loc[~was, "category"]).all()
    assert sorted(merged.loc[was, "rank"]) == sorted(merged.loc[was, "total"].rank(ascending=False, method="min")
                                                      .astype(int))
    tight = perfsim.score(load(LEVERS / "caps_tight.yaml"), world).set_index("unit_id")
    assert tight["bonus"].max() <= 1 + 1e-9 and tight["deduction"].max() <= 2 + 1e-9
    assert base["bonus"].max() > 1 or base["deduction"].max() > 2          # the caps bind somewhere


def test_differentiated_facets_by_hand(mini, mini_scheme):
    # central U1: contribution 80, social impact 60 under weights 50/30 -> (4000 + 1800) / 80 = 72.5
    # outer U2: contribution 50, social impact 100 under 30/20 -> 3500 / 50 = 70
    raw = apply_diff(mini_scheme.raw, {
        "tree.special.central": {"weight": 1, "applies_to": {"district_type": ["central"]}, "children": {
            "c": {"source": "special", "facet": "contribution", "rule": "rating", "weight": 50},
            "s": {"source": "special", "facet": "social_impact", "rule": "rating", "weight": 30}}},
        "tree.special.outer": {"weight": 1, "applies_to": {"district_type": ["outer"]}, "children": {
            "c": {"source": "special", "facet": "contribution", "rule": "rating", "weight": 30},
            "s": {"source": "special", "facet": "social_impact", "rule": "rating", "weight": 20}}}},
        ["tree.special.contribution", "tree.special.social_impact"], "<t>")
    detail = perfsim.score_detail(parse_scheme(raw, "<t>"), mini)
    assert detail.node_scores.loc["U1", "tree.special"] == pytest.approx(0.725)
    assert detail.node_scores.loc["U2", "tree.special"] == pytest.approx(0.70)
    assert detail.table.set_index("unit_id").loc["U1", "special"] == pytest.approx(7.25)
    assert detail.table.set_index("unit_id").loc["U3", "special"] == 0.0


def test_sampling_error_formula_against_a_simulation(mini, mini_scheme):
    # U1: groups g1 (10 respondents, weight .25) and g2 (30, weight .75), sigma 12:
    # SE = sqrt(.25^2 * 144 / 10 + .75^2 * 144 / 30) = sqrt(3.6)
    errors = sampling_error(mini_scheme, mini, respondent_sd=12.0).set_index("unit_id")
    assert errors.loc["U1", "se_score"] == pytest.approx(np.sqrt(3.6))
    assert errors.loc["U1", "se_total"] == pytest.approx(20 * np.sqrt(3.6) / 100)
    rng = np.random.default_rng(0)
    g1 = rng.normal(80, 12, size=(20000, 10)).mean(axis=1)
    g2 = rng.normal(60, 12, size=(20000, 30)).mean(axis=1)
    simulated = (0.25 * g1 + 0.75 * g2).std()
    assert simulated == pytest.approx(np.sqrt(3.6), rel=0.02)
    # four times the respondents halve the error
    quad = sampling_error(mini_scheme, mini, respondent_sd=12.0, scale=4).set_index("unit_id")
    assert quad.loc["U1", "se_score"] == pytest.approx(np.sqrt(3.6) / 2)


def test_swap_probability_analytic_matches_resurvey_simulation(world, baseline):
    sim = simulate_swaps(baseline, world, draws=3000, seed=1)
    assert np.abs(sim["p_swap"] - sim["p_swap_simulated"]).max() < 0.06
    curve = swap_by_sample_size(baseline, world, [0.5, 1, 4, 16, 64])
    assert curve["p_swap_p90"].is_monotonic_decreasing
    assert curve["share_below"].is_monotonic_increasing
    needed = sample_size_needed(curve, 0.5)
    assert needed is None or needed > 0


def test_category_split_reranks_only_that_category(world, baseline):
    split = load(LEVERS / "categories_split_social.yaml")
    a = perfsim.score(baseline, world).set_index("unit_id")
    b = perfsim.score(split, world).set_index("unit_id").reindex(a.index)
    social = a["category"] == "social"
    assert (b.loc[~social, ["rank", "grade", "category"]] == a.loc[~social, ["rank", "grade", "category"]]).all().all()
    assert set(b.loc[social, "category"]) == {"social", "social_b"}
    assert (b.loc[social, "rank"] != a.loc[social, "rank"]).any()
    assert b.loc[b["category"] == "social_b", "rank"].min() == 1


def test_merge_and_move(world, baseline):
    merged = perfsim.score(load(LEVERS / "categories_merge.yaml"), world)
    assert "urban_enforcement" in set(merged["category"]) and "urban" not in set(merged["category"])
    assert merged[merged["category"] == "urban_enforcement"].shape[0] == 35
    moved = perfsim.score(load(LEVERS / "categories_move.yaml"), world).set_index("unit_id")
    assert moved.loc[["ECO01", "ECO02"], "category"].tolist() == ["party_admin", "party_admin"]


def test_veto_forces_the_lowest_grade_whatever_the_total(mini_copy, mini_scheme):
    adj = pd.read_csv(mini_copy / "adjustments.csv")
    adj.loc[len(adj)] = [2025, "U1", "veto", "veto", None, "veto on the best unit"]
    adj.to_csv(mini_copy / "adjustments.csv", index=False)
    table = perfsim.score(mini_scheme, perfsim.load_dataset(mini_copy)).set_index("unit_id")
    assert table.loc["U1", "rank"] == 1 and table.loc["U1", "total"] == pytest.approx(103.5)
    assert table.loc["U1", "grade"] == "不达标"
    no_veto = parse_scheme(apply_diff(mini_scheme.raw, {"adjustments.veto": False}, [], "<t>"), "<t>")
    assert perfsim.score(no_veto, perfsim.load_dataset(mini_copy)).set_index("unit_id").loc["U1", "grade"] == "优秀"


def test_caps_sweep_counts_grade_changes(world, baseline):
    base = perfsim.score(baseline, world)
    swept = sweep(baseline, world, [{"adjustments.deduction.cap": c} for c in (0, 8, 100)])
    changes = grade_changes(swept, base).set_index("value")
    assert changes.loc[8, "grade_changes"] == 0          # the baseline's own cap
    assert changes.loc[0, "rank_changes"] > 0            # no deductions at all moves ranks
    gap = group_gap(sweep(baseline, world, [{"tree.special.points": p} for p in (0, 10)]), world)
    assert set(gap["group"]) == {"central", "outer"} and (gap["units"] > 0).all()


def test_unknown_unit_in_a_category_move_is_an_error(world, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: b\nbase: {ROOT / 'params' / 'baseline.yaml'}\nset:\n"
                   "  categories: {move: {NOPE: social}}\n", encoding="utf-8")
    with pytest.raises(perfsim.PerfsimError, match="key 'categories.move.NOPE': unknown unit"):
        perfsim.check_fit(load(bad), world)
