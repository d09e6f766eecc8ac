"""Tests whose answers come from outside the code under test: caps worked by hand where
they bind, quota grades worked by hand at their boundaries, Monte Carlo draws re-scored by
the engine on schemes rebuilt through scenario diffs, SMAA tables recounted with scipy,
confidence factors from the engine, peer targets by hand, and the batch's cache rerunning
exactly what a change touches."""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.core.engine import grade_index
from perfsim.core.scheme import Grading, UncertaintySpec, apply_diff, parse_scheme, raw_of
from perfsim.uncertainty.model import compile_model
from perfsim.uncertainty.robustness import monte_carlo

from ..conftest import MINI, MINI_SCHEME, ROOT, TESTS

# --------------------------------------------------------------------------- caps


def _adjusted(mini, rows, **changes):
    adjustments = pd.DataFrame(rows, columns=["year", "unit_id", "type", "item", "points", "note"])
    data = mini.replace(adjustments=adjustments.astype({"points": float}))
    scheme = parse_scheme(apply_diff(raw_of(perfsim.load_scenario(MINI_SCHEME)), changes, [], "t"), "t")
    return perfsim.score(scheme, data).set_index("unit_id")


def test_bonus_item_and_total_deduction_caps_bind_by_hand(mini):
    rows = [(2025, "U1", "bonus", "innovation", 2.0, ""), (2025, "U1", "bonus", "award", 2.5, ""),
            (2025, "U3", "deduction", "D1", 1.5, ""), (2025, "U3", "deduction", "D1", 1.5, ""),
            (2025, "U3", "deduction", "D2", 1.75, ""), (2025, "U4", "deduction", "D2", 0.5, "")]
    t = _adjusted(mini, rows)
    # bonus 2 + 2.5 = 4.5 capped at 3; D1 3.0 capped per item at 2, D2 1.75 -> 3.75 (total cap 5 does not bind)
    assert t.loc["U1", "bonus"] == 3 and t.loc["U3", "deduction"] == pytest.approx(3.75)
    assert t.loc["U4", "deduction"] == pytest.approx(0.5)
    tight = _adjusted(mini, rows, **{"adjustments.deduction.cap": 3.0, "adjustments.bonus.cap": 1.0})
    # the total cap binds: min(2 + 1.75, 3) = 3; below it nothing changes; the bonus cap binds at 1
    assert tight.loc["U3", "deduction"] == 3 and tight.loc["U4", "deduction"] == pytest.approx(0.5)
    assert tight.loc["U1", "bonus"] == 1
    parts = [c for c in ("targets", "leader", "satisfaction", "special") if c in t.columns]
    for table in (t, tight):
        total = table[parts].sum(axis=1) + table["bonus"] - table["deduction"]
        assert np.allclose(np.round(total, 2), table["total"])
    # the caps move U1's and U3's totals by exactly the capped amounts
    assert t.loc["U3", "total"] - tight.loc["U3", "total"] == pytest.approx(-(3.75 - 3.0))
    assert t.loc["U1", "total"] - tight.loc["U1", "total"] == pytest.approx(3 - 1)


# --------------------------------------------------------------------------- quota grades


def _grades(total, rank, groups, veto, **grading):
    scheme = perfsim.load_scenario(MINI_SCHEME).scheme.model_copy(
        update={"grading": Grading(**{"method": "quota", "grades": ["A", "B", "C", "D"], **grading})})
    return [scheme.grading.grades[k] for k in grade_index(scheme, np.asarray(total, float), np.asarray(rank),
                                                          np.asarray(groups), np.asarray(veto, bool))]


def test_quota_grades_by_hand_at_rounding_ties_floor_and_veto():
    total, rank, groups, none = [90, 85, 80, 75, 70], [1, 2, 3, 4, 5], [0] * 5, [False] * 5
    # 5 units x 0.5 = 2.5: floor 2, round (half up) 3, ceil 3; B takes 0.2 x 5 = 1 more
    assert _grades(total, rank, groups, none, quota={"A": 0.5, "B": 0.2}, rounding="floor") == list("AABCC")
    assert _grades(total, rank, groups, none, quota={"A": 0.5, "B": 0.2}, rounding="round") == list("AAABC")
    assert _grades(total, rank, groups, none, quota={"A": 0.5, "B": 0.2}, rounding="ceil") == list("AAABC")
    # 0.3 x 5 = 1.5 rounds to 2 (half up), cumulative 0.3 + 0.3 -> 2 + 2 = 4
    assert _grades(total, rank, groups, none, quota={"A": 0.3, "B": 0.3}, rounding="round") == list("AABBC")
    # a tie on the quota edge shares the better grade: ranks 1, 2, 2 with 2 places for A
    assert _grades([90, 80, 80, 70, 60], [1, 2, 2, 4, 5], groups, none, quota={"A": 0.4}) == list("AAACC")
    # the floor gives the lowest grade below it, the veto whatever the total and rank
    assert _grades(total, rank, groups, [True, False, False, False, False], quota={"A": 0.4}, floor=72) \
        == list("DACCD")
    # two groups: quotas count within each group
    assert _grades([9, 8, 7, 6, 5, 4], [1, 2, 3, 1, 2, 3], [0, 0, 0, 1, 1, 1], [False] * 6,
                   quota={"A": 0.34}) == list("ACCACC")


# --------------------------------------------------------------------------- Monte Carlo oracle


def _choice_nodes(tree, choice):
    keep = []
    for i, path in enumerate(tree.paths):
        node = tree.nodes[i]
        if not fnmatchcase(path, choice.path):
            continue
        if choice.field == "aggregate" and not node.is_leaf:
            keep.append(path)
        elif choice.field == "cap" and node.is_leaf and node.rule == "ratio":
            keep.append(path)
        elif choice.field == "floor" and node.is_leaf and node.rule == "band":
            keep.append(path)
    return keep


def _rebuilt(resolved, model, shares, combo):
    """The scheme of one draw written as a scenario diff: drawn weights as shares (points for
    children with points, scaled to the parent's points), the draw's scoring choices."""
    raw = raw_of(resolved)
    tree = model.tree
    diff = {}
    j = 0
    for pos, *_ in model.weight_groups:
        node = model.nodes[pos]
        parent = tree.nodes[node.index]
        for c in node.children:
            child = tree.nodes[c]
            path = tree.paths[c]
            if child.points is not None:
                diff[f"{path}.points"] = float(shares[j]) * float(parent.points)
            else:
                diff[f"{path}.weight"] = float(shares[j])
            j += 1
    for choice, value in zip(model.spec.choices, model.combos[combo]):
        for path in _choice_nodes(tree, choice):
            diff[f"{path}.{choice.field}"] = value
    return parse_scheme(apply_diff(raw, diff, [], "oracle"), "oracle")


@pytest.mark.parametrize("geometric", [False, True], ids=["arithmetic", "geometric"])
def test_monte_carlo_draws_equal_the_engine_on_rebuilt_schemes(world, baseline, geometric):
    resolved = baseline
    if geometric:
        resolved = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
        raw = apply_diff(raw_of(resolved), {"tree.targets.aggregate": "geometric"}, [], "g")
        resolved = parse_scheme(raw, "g")
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.3}, {"level": 1, "spread": 0.4}],
                           choices=[{"path": "tree.targets.*.*", "field": "cap", "values": [1.0, 1.3]},
                                    {"path": "tree.targets", "field": "aggregate",
                                     "values": ["arithmetic", "geometric"]}])
    model = compile_model(resolved, world, spec)
    mc = monte_carlo(model, draws=7, seed=5, chunk=3, keep_draws=True)      # chunks of 3, 3 and 1
    assert mc.totals.shape == (7, model.n) and len(set(mc.combos)) > 1
    for d in range(7):
        scheme = _rebuilt(resolved if isinstance(resolved, perfsim.Resolved) else resolved, model,
                          mc.shares[d], int(mc.combos[d]))
        table = perfsim.score(scheme, world).set_index("unit_id")["total"].reindex(model.ids)
        diff = np.abs(table.to_numpy() - mc.totals[d])
        assert diff.max() <= 0.0100001 and (diff < 1e-9).mean() > 0.97, (d, diff.max())


def test_smaa_tables_recount_from_the_kept_draws_with_scipy(world, baseline):
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.3}], leader_noise=True, survey_noise=True)
    model = compile_model(baseline, world, spec)
    mc = monte_carlo(model, draws=900, seed=9, chunk=250, keep_draws=True)       # four uneven chunks
    groups = pd.Series(np.array(model.category_labels)[model.categories], index=model.ids)
    acc = mc.acceptability.set_index("unit_id")
    for category in groups.unique():
        units = groups.index[groups == category]
        cols = [list(model.ids).index(u) for u in units]
        ranks = np.vstack([stats.rankdata(-row, method="min") for row in mc.totals[:, cols]])
        for k, unit in enumerate(units):
            for r in (1, 2):
                expected = float((ranks[:, k] == r).mean())
                assert acc.loc[unit, f"rank_{r}"] == pytest.approx(expected, abs=1e-12), (unit, r)
        # central weights: the mean normalised shares over the draws where the unit ranks first
        first = ranks[:, 0] == 1
        unit = units[0]
        if first.any():
            for j, name in enumerate(mc.model.weight_names):
                assert acc.loc[unit, f"central_weight:{name}"] == pytest.approx(mc.shares[first, j].mean())


def test_confidence_factors_against_the_engine(world, baseline):
    """With scoring choices as the only other uncertainty, a unit's confidence factor is the
    share of choice combinations (drawn uniformly) under which it ranks first with its
    central weights: here computed by the engine on schemes rebuilt through diffs."""
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.3}],
                           choices=[{"path": "tree.targets.*.*", "field": "cap", "values": [1.0, 1.5]}])
    model = compile_model(baseline, world, spec)
    mc = monte_carlo(model, draws=2000, seed=4)
    acc = mc.acceptability.set_index("unit_id")
    names = mc.model.weight_names
    checked = 0
    for unit, row in acc[acc["confidence_factor"].notna()].iterrows():
        shares = row[[f"central_weight:{n}" for n in names]].to_numpy(dtype=float)
        wins = []
        for combo in range(len(model.combos)):
            table = perfsim.score(_rebuilt(baseline, model, shares, combo), world).set_index("unit_id")
            wins.append(table.loc[unit, "rank"] == 1)
        assert row["confidence_factor"] == pytest.approx(np.mean(wins), abs=0.05), unit
        checked += 1
    assert checked >= 3


# --------------------------------------------------------------------------- peers


def test_peer_targets_lower_is_better_at_a_quarter_by_hand(mini):
    peers = pd.DataFrame({"period": "2025-12", "city": ["F", "A", "B", "C", "D"], "indicator_id": "I2",
                          "value": [10.0, 4.0, 6.0, 8.0, 12.0]})
    data = mini.replace(peers=peers)
    raw = raw_of(perfsim.load_scenario(MINI_SCHEME))
    scheme = parse_scheme(apply_diff(raw, {"focal_city": "F", "tree.targets.social.I2.peer_quantile": 0.25},
                                     [], "p"), "p")
    from perfsim.core.engine import leaf_inputs, Tree

    inputs = leaf_inputs(scheme, data, 2025)
    plain = leaf_inputs(perfsim.load_scenario(MINI_SCHEME).scheme, data, 2025)
    j = [Tree.of(scheme).paths[i] for i in Tree.of(scheme).leaves].index("tree.targets.social.I2")
    # lower is better: the better side of the peers, their 75th percentile (linear): 9 -> factor 0.9
    ok = ~np.isnan(plain.t[:, j])
    assert np.allclose(inputs.t[ok, j], plain.t[ok, j] * 0.9)


def test_peer_targets_higher_is_better_and_two_indicators_in_one_dataset_by_hand(mini):
    """Both leaves from the peers (tests/data/mini_peers.yaml): I1 higher is better at the
    75th percentile, I2 lower is better at the 25th (its 75th); each indicator its own factor."""
    peers = pd.DataFrame({"period": ["2025-06"] * 2 + ["2025-12"] * 10,
                          "city": ["F", "A"] + ["F", "A", "B", "C", "D"] * 2,
                          "indicator_id": ["I1"] * 2 + ["I1"] * 5 + ["I2"] * 5,
                          "value": [1.0, 99.0] + [20.0, 10.0, 20.0, 30.0, 40.0] + [10.0, 4.0, 6.0, 8.0, 12.0]})
    data = mini.replace(peers=peers)
    from perfsim.core.engine import Tree, leaf_inputs

    scheme = perfsim.load_scenario(TESTS / "data" / "mini_peers.yaml").scheme
    inputs = leaf_inputs(scheme, data, 2025)
    plain = leaf_inputs(perfsim.load_scenario(MINI_SCHEME).scheme, data, 2025)
    paths = [Tree.of(scheme).paths[i] for i in Tree.of(scheme).leaves]
    # I1 at the last period (2025-12): others 10, 20, 30, 40 -> 75th percentile (linear) 32.5; F has 20
    # I2: others 4, 6, 8, 12 -> 75th percentile 9; F has 10
    for path, factor in (("tree.targets.econ.I1", 32.5 / 20), ("tree.targets.social.I2", 0.9)):
        j = paths.index(path)
        ok = ~np.isnan(plain.t[:, j])
        assert ok.any()
        assert np.allclose(inputs.t[ok, j], plain.t[ok, j] * factor), path


# --------------------------------------------------------------------------- batch cache


def test_batch_cache_reruns_exactly_what_a_change_touches(tmp_path):
    from perfsim.runners.batch import run_batch

    data = tmp_path / "data"
    shutil.copytree(MINI, data)
    scheme = tmp_path / "s.yaml"
    scheme.write_text(MINI_SCHEME.read_text(encoding="utf-8"), encoding="utf-8")
    other = tmp_path / "o.yaml"
    other.write_text("name: other\nbase: s.yaml\nset: {tree.leader.points: 10, tree.satisfaction.points: 30}\n",
                     encoding="utf-8")
    notebook = tmp_path / "nb.ipynb"
    shutil.copy(ROOT / "notebooks" / "00_template.ipynb", notebook)
    second = tmp_path / "nb2.ipynb"
    shutil.copy(ROOT / "notebooks" / "00_template.ipynb", second)

    def run(**kw):
        manifest = run_batch([scheme, other], [notebook, second], out=tmp_path / "out", name="c",
                             data=str(data), jobs=1, progress=False, **kw)
        return {(j["scenario"], j["notebook"]): j["cached"] for j in manifest["jobs"]}

    first = run()
    assert not any(first.values()) and len(first) == 4
    assert all(run().values())                                           # nothing changed: all cached
    other.write_text(other.read_text().replace("tree.leader.points: 10", "tree.leader.points: 12")
                     .replace("tree.satisfaction.points: 30", "tree.satisfaction.points: 28"))
    after = run()                                                        # same name, new content
    assert after == {("mini", "nb"): True, ("mini", "nb2"): True, ("other", "nb"): False, ("other", "nb2"): False}
    nb = json.loads(second.read_text(encoding="utf-8"))
    nb["cells"][-1]["source"] = ["# a changed notebook\n"] + nb["cells"][-1]["source"]
    second.write_text(json.dumps(nb), encoding="utf-8")
    after = run()
    assert after == {("mini", "nb"): True, ("mini", "nb2"): False, ("other", "nb"): True, ("other", "nb2"): False}
    targets = (data / "targets.csv").read_text(encoding="utf-8")
    (data / "targets.csv").write_text(targets.replace("2025,U1,I1,100,", "2025,U1,I1,101,"), encoding="utf-8")
    assert not any(run().values())                                       # a data file: everything
    assert not any(run(seed=7).values())                                 # the seed: everything
    assert all(run(seed=7).values())


@pytest.mark.parametrize("level", [0, 1])
def test_node_by_node_draws_with_static_geometric_subtrees_equal_the_engine(world, level):
    """Only one level's weights vary, so whole subtrees (two of them geometric) stay at their
    nominal scores and are computed once; each draw re-scored by the engine on its scheme."""
    from perfsim.uncertainty.montecarlo import evaluate, sample_inputs

    raw = apply_diff(raw_of(perfsim.load_scenario(ROOT / "params" / "baseline.yaml")),
                     {"tree.targets.economic.aggregate": "geometric", "tree.targets.social.aggregate": "geometric"},
                     [], "g")
    resolved = parse_scheme(raw, "g")
    model = compile_model(resolved, world, UncertaintySpec(weights=[{"level": level, "spread": 0.5}]))
    weights, noise, _ = sample_inputs(model, np.random.default_rng(4), 4)
    totals = evaluate(model, weights, noise)
    for d in range(4):
        shares = np.concatenate([weights[pos][d] / weights[pos][d].sum() for pos, *_ in model.weight_groups])
        scheme = _rebuilt(resolved, model, shares, 0)
        table = perfsim.score(scheme, world).set_index("unit_id")["total"].reindex(model.ids)
        diff = np.abs(table.to_numpy() - totals[d])
        assert diff.max() <= 0.0100001 and (diff < 1e-9).mean() > 0.97, (level, d, diff.max())


def test_a_geometric_root_says_how_to_read_its_component_columns():
    """COINr's ASEM with geometric means at every level: the component columns (score x
    points) do not add up to the total, which is the points times the weighted geometric
    mean of the component scores; the scoring says so."""
    from perfsim.core.engine import score_detail, Tree

    resolved = perfsim.load_scenario(ROOT / "params" / "real" / "asem_geometric.yaml")
    data = perfsim.load_dataset(ROOT / "data" / "real" / "asem")
    with pytest.warns(perfsim.PerfsimWarning, match="do not add up to the total"):
        result = score_detail(resolved, data)
    tree = Tree.of(resolved.scheme)
    kids = list(tree.children[0])
    table = result.table.set_index("unit_id")
    names = [tree.paths[k].split(".", 1)[1] for k in kids]
    w = np.array([tree.nodes[k].weight or tree.nodes[k].points for k in kids], dtype=float)
    w = w / w.sum()
    scores = result.node_scores.loc[table.index, [tree.paths[k] for k in kids]].to_numpy()
    root_points = tree.nodes[0].points
    expected = root_points * np.exp(np.log(scores) @ w)
    assert np.allclose(table["total"].to_numpy(), expected, atol=0.01)
    assert table.loc["DEU", names].sum() - table.loc["DEU", "total"] == pytest.approx(39.18 + 32.70 - 71.58, abs=0.01)
