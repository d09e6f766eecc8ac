"""Monte Carlo robustness: known answers (SMAA closed form, dominance, Sobol zero),
agreement with the engine, independent recomputation, reproducibility; ASEM on COINr's pipeline."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
import pandas as pd
import pytest

import perfsim
from perfsim.core.contract import empty_table, validate_frames
from perfsim.core.engine import grade_index
from perfsim.sources.real import asem_dataset
from perfsim.uncertainty.robustness import monte_carlo, nominal_ranks, sobol_indices, stability_intervals
from perfsim.core.scheme import UncertaintySpec, parse_scheme
from perfsim.uncertainty.model import compile_model
from perfsim.uncertainty.montecarlo import evaluate, ranks, sample_inputs

from ..conftest import ROOT


def _dataset(values: dict[str, dict[str, float]]):
    units = pd.DataFrame({"unit_id": list(values), "name": list(values), "name_en": list(values),
                          "kind": "department", "category": "X", "district_type": np.nan,
                          "staff": 1, "budget": 1, "consumption": 1})
    inds = sorted({i for v in values.values() for i in v})
    indicators = pd.DataFrame({"indicator_id": inds, "name": inds, "name_en": inds, "dimension": "economic",
                               "direction": "higher", "unit_of_measure": "", "kind": "continuing",
                               "frequency": "annual", "visibility": "visible"})
    actuals = pd.DataFrame([{"period": "2025-12", "unit_id": u, "indicator_id": i, "value": x}
                            for u, v in values.items() for i, x in v.items()])
    return validate_frames({"units": units, "indicators": indicators, "targets": empty_table("targets"),
                            "actuals": actuals})


def _leaf(i):
    return {i: {"rule": "goalpost", "lo": 0, "hi": 1, "weight": 1}}


def test_smaa_two_units_two_criteria_closed_form():
    # s = x; w ~ Dirichlet(1, 1), i.e. w1 ~ U(0, 1). A = (0.9, 0.2), B = (0.3, 0.6):
    # A first iff 0.6 w1 - 0.4 (1 - w1) > 0 iff w1 > 0.4 -> P(A first) = 0.6.
    data = _dataset({"A": {"I1": 0.9, "I2": 0.2}, "B": {"I1": 0.3, "I2": 0.6}})
    scheme = parse_scheme({"name": "s", "tree": {"points": 1, "children": {**_leaf("I1"), **_leaf("I2")}}}, "<t>")
    spec = UncertaintySpec(weights=[{"level": 0, "method": "dirichlet", "concentration": 2.0}])
    mc = monte_carlo(compile_model(scheme, data, spec), draws=40_000, seed=3, chunk=10_000)
    acc = mc.acceptability.set_index("unit_id")
    assert acc.loc["A", "rank_1"] == pytest.approx(0.6, abs=0.01)
    assert acc.loc["B", "rank_1"] == pytest.approx(0.4, abs=0.01)
    assert acc[["rank_1", "rank_2"]].sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    # central weight of A: E[w1 | w1 > 0.4] = 0.7; confidence factor 1 (no other uncertainty)
    assert acc.loc["A", "central_weight:tree.I1"] == pytest.approx(0.7, abs=0.01)
    assert acc.loc["A", "confidence_factor"] == 1.0


def test_dominant_unit_has_rank_one_acceptability_one():
    data = _dataset({"A": {"I1": 0.9, "I2": 0.2}, "B": {"I1": 0.3, "I2": 0.6},
                     "C": {"I1": 0.95, "I2": 0.7}})
    scheme = parse_scheme({"name": "s", "tree": {"points": 100, "children": {**_leaf("I1"), **_leaf("I2")}}}, "<t>")
    spec = UncertaintySpec(weights=[{"level": 0, "method": "uniform", "spread": 0.9}])
    acc = monte_carlo(compile_model(scheme, data, spec), draws=5000, seed=1).acceptability.set_index("unit_id")
    assert acc.loc["C", "rank_1"] == 1.0 and acc.loc["A", "rank_1"] == 0.0


def test_weight_group_that_no_unit_differs_on_has_zero_sobol():
    # g2's indicators are equal for every unit: neither g2's weights nor the root's move ranks
    data = _dataset({u: {"I1": a, "I2": b, "I3": 0.5, "I4": 0.7}
                     for u, a, b in [("A", 0.9, 0.2), ("B", 0.3, 0.6), ("C", 0.5, 0.5), ("D", 0.6, 0.45)]})
    scheme = parse_scheme({"name": "s", "tree": {"points": 100, "children": {
        "g1": {"weight": 1, "children": {**_leaf("I1"), **_leaf("I2")}},
        "g2": {"weight": 1, "children": {**_leaf("I3"), **_leaf("I4")}}}}}, "<t>")
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.5}, {"level": 1, "spread": 0.8}])
    model = compile_model(scheme, data, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = sobol_indices(model, n=512, seed=2)
    moving = s[(s["group"] == "weights tree.g1") & (s["ST"] > 0.5)]["target"]
    assert len(moving) >= 2
    for target in moving:
        rows = s[s["target"] == target].set_index("group")
        assert abs(rows.loc["weights tree.g2", "ST"]) < 0.05
        assert abs(rows.loc["weights tree", "ST"]) < 0.05


def test_nominal_model_equals_the_engine(world, baseline):
    spec = baseline.scheme.uncertainty
    model = compile_model(baseline, world, spec)
    table = perfsim.score(baseline, world).set_index("unit_id").reindex(model.ids)
    assert np.array_equal(evaluate(model, {}, {})[0], table["total"].to_numpy())
    assert np.array_equal(nominal_ranks(model), table["rank"].to_numpy())


def test_rank_bands_recomputed_independently_and_reproducible(world, baseline):
    spec = baseline.scheme.uncertainty
    model = compile_model(baseline, world, spec)
    mc = monte_carlo(model, draws=3000, seed=11, chunk=3000)
    again = monte_carlo(model, draws=3000, seed=11, chunk=3000)
    pd.testing.assert_frame_equal(mc.rank_stats, again.rank_stats)
    pd.testing.assert_frame_equal(mc.acceptability, again.acceptability)
    # redo the single chunk by hand from the same seed stream
    rng = np.random.default_rng(np.random.SeedSequence(11).spawn(1)[0])
    weights, noise, combo = sample_inputs(model, rng, 3000)
    totals = np.empty((3000, model.n))
    for c in np.unique(combo):
        rows = combo == c
        totals[rows] = evaluate(model, {k: v[rows] for k, v in weights.items()},
                                {k: v[rows] for k, v in noise.items()}, int(c))
    r = ranks(totals, model.groups)
    stats = mc.rank_stats.set_index("unit_id").reindex(model.ids)
    assert np.allclose(stats["rank_mean"], r.mean(axis=0))
    assert np.array_equal(stats["rank_median"], np.quantile(r, 0.5, axis=0, method="inverted_cdf"))
    assert np.array_equal(stats["rank_q05"], np.quantile(r, 0.05, axis=0, method="inverted_cdf"))
    assert np.array_equal(stats["rank_q95"], np.quantile(r, 0.95, axis=0, method="inverted_cdf"))
    acc = mc.acceptability.set_index("unit_id").reindex(model.ids)
    assert np.allclose(acc["rank_1"], (r == 1).mean(axis=0))
    grades = [c for c in stats.columns if c.startswith("p_")]
    index = grade_index(model.scheme, totals, r, model.groups, model.veto)     # draw by draw
    for k, column in enumerate(grades):
        assert np.allclose(stats[column], (index == k).mean(axis=0))
    assert (index == len(grades) - 1).any()            # the floor or a veto is exercised


def test_stability_intervals_contain_the_nominal_share(world, baseline):
    model = compile_model(baseline, world, UncertaintySpec())
    st = stability_intervals(model, unit="D05", target_rank=1, grid=51)
    assert ((st["share_lo"] <= st["share_nominal"] + 1e-12) & (st["share_nominal"] <= st["share_hi"] + 1e-12)).all()
    # just outside an interval edge the category ranking really changes
    row = st[(st["share_hi"] < 0.99) & (st["weight"] == "tree.targets.economic")].iloc[0]
    # oracle outside the Monte Carlo: the scheme rebuilt with the weight at that share
    # through a scenario diff, scored by the engine
    parent = model.nodes[next(k for k, n in enumerate(model.nodes) if model.tree.paths[n.index] == row["parent"])]
    siblings = [model.tree.paths[c] for c in parent.children]
    nominal_w = dict(zip(siblings, parent.weights))
    rest = sum(w for p, w in nominal_w.items() if p != row["weight"])
    raw = perfsim.core.scheme.raw_of(baseline)

    def ranks_at(share: float) -> pd.Series:
        diff = {f"{p}.weight": (share if p == row["weight"] else (1 - share) * w / rest)
                for p, w in nominal_w.items()}
        variant = perfsim.parse_scheme(perfsim.core.scheme.apply_diff(raw, diff, [], "t"), "t")
        table = perfsim.score(variant, world)
        return table[table["category"] == row["category"]].set_index("unit_id")["rank"].sort_index()

    nominal = ranks_at(row["share_nominal"])
    assert (nominal == perfsim.score(baseline, world).query("category == @row.category")
            .set_index("unit_id")["rank"].sort_index()).all()
    for share in np.linspace(row["share_nominal"], row["share_hi"] - 1e-6, 8):
        assert ranks_at(share).equals(nominal), share
    # (rounded totals can tie in a narrow window, so look at a few shares just past the edge)
    assert any(not ranks_at(share).equals(nominal)
               for share in np.linspace(row["share_hi"] + 1e-7, row["share_hi"] + 2e-3, 12))


def test_asem_matches_an_independent_coinr_style_computation():
    data = asem_dataset()
    table = perfsim.score(perfsim.load_scenario(ROOT / "params" / "real" / "asem.yaml"), data)
    raw = pd.read_csv(ROOT / "data" / "real" / "asem" / "ASEM_iData.csv").set_index("uCode")
    meta = pd.read_csv(ROOT / "data" / "real" / "asem" / "ASEM_iMeta.csv")
    ind = meta[meta["Type"] == "Indicator"]
    x = raw[ind["iCode"]] * ind.set_index("iCode")["Direction"]
    norm = (x - x.min()) / (x.max() - x.min()) * 100          # COINr n_minmax to [0, 100]
    level = norm
    for lev in (1, 2, 3):                                    # arithmetic means over present children
        parents = meta[meta["Level"] == lev].set_index("iCode")["Parent"]
        level = level.T.groupby(parents.reindex(level.columns).to_numpy()).mean().T
    ours = table.set_index("unit_id")["total"].reindex(level.index)
    assert np.allclose(ours, level["Index"], atol=1e-9)
    assert len(table) == 51


def test_asem_ten_thousand_draws():
    data = asem_dataset()
    scheme = perfsim.load_scenario(ROOT / "params" / "real" / "asem.yaml")
    mc = monte_carlo(compile_model(scheme, data, scheme.scheme.uncertainty), draws=10_000, seed=5, chunk=3000,
                     keep_draws=True)
    assert len(mc.rank_stats) == 51
    # recounted from the kept draws with scipy (one category: ASEM)
    r = np.vstack([stats.rankdata(-row, method="min") for row in mc.totals])
    got = mc.rank_stats.set_index("unit_id").reindex(mc.model.ids)
    assert np.allclose(got["rank_mean"], r.mean(axis=0))
    assert np.array_equal(got["rank_q95"], np.quantile(r, 0.95, axis=0, method="inverted_cdf"))


def test_linear_and_node_by_node_paths_agree(world, baseline):
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.3}, {"level": 1, "spread": 0.5},
                                    {"level": 2, "spread": 0.5}], leader_noise=True, survey_noise=True)
    model = compile_model(baseline, world, spec)
    weights, noise, _ = sample_inputs(model, np.random.default_rng(4), 500)
    fast = evaluate(model, weights, noise, linear=True)
    slow = evaluate(model, weights, noise, linear=False)
    assert np.abs(fast - slow).max() <= 0.0100001     # both rounded to 2 decimals
    assert (fast == slow).mean() > 0.999


def test_linear_plan_with_an_extra_leaf_and_missing_data_matches_the_engine(mini, mini_scheme):
    """Extra components as a leaf and as a subtree, units missing whole components:
    the fast path (effective leaf weights per presence pattern) must equal the engine at
    nominal weights and the node-by-node path at drawn weights."""
    raw = perfsim.core.scheme.raw_of(mini_scheme)
    raw["tree"]["children"]["mention"] = {"points": 5, "extra": True, "applies_to": {"kind": ["district"]},
                                          "source": "special", "facet": "contribution", "rule": "rating"}
    scheme = parse_scheme(raw, "<test>")
    spec = UncertaintySpec(weights=[{"level": 0, "spread": 0.5}, {"level": 1, "spread": 0.5}])
    model = compile_model(scheme, mini, spec)
    assert len(model.patterns) > 1 and any(model.tree.nodes[i].is_leaf for i, _ in model.extras)
    table = perfsim.score(scheme, mini).set_index("unit_id").reindex(model.ids)
    assert np.allclose(evaluate(model, {}, {})[0], table["total"].to_numpy())
    weights, _, _ = sample_inputs(model, np.random.default_rng(0), 200)
    fast, slow = evaluate(model, weights, {}, linear=True), evaluate(model, weights, {}, linear=False)
    assert np.abs(fast - slow).max() <= 0.0100001 and (fast == slow).mean() > 0.99


def test_monte_carlo_on_a_dask_cluster_with_threaded_workers_equals_one_process(world, baseline):
    """Chunks on a Dask cluster whose workers run two threads each (scratch arrays are
    per thread) give exactly the single-process results."""
    distributed = pytest.importorskip("distributed")
    from perfsim.runners.executors import executor_for

    spec = baseline.scheme.uncertainty
    model = compile_model(baseline, world, spec)
    local = monte_carlo(model, draws=4000, seed=3, chunk=500)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        with executor_for(1, cluster.scheduler_address, 8) as executor:
            remote = monte_carlo(model, draws=4000, seed=3, chunk=500, executor=executor)
    pd.testing.assert_frame_equal(local.rank_stats, remote.rank_stats)
    pd.testing.assert_frame_equal(local.acceptability, remote.acceptability)


def test_asem_folder_loads_as_it_comes():
    from perfsim.sources.real import ASEM_DIR

    data = perfsim.load_dataset(ASEM_DIR)
    assert len(data.units) == 51 and data.units["unit_id"].tolist() == asem_dataset().units["unit_id"].tolist()


def test_sorted_ranks_are_competition_ranks_per_draw_against_scipy():
    from perfsim.uncertainty.montecarlo import _sorted_ranks

    rng = np.random.default_rng(11)
    block = rng.integers(0, 5, size=(9, 40)).astype(float)          # many ties in each draw
    block[:, 0] = 1.0                                              # one draw all tied
    got = _sorted_ranks(block)
    expect = np.column_stack([stats.rankdata(-block[:, d], method="min") for d in range(block.shape[1])])
    assert got.dtype == np.int32 and got.shape == block.shape
    np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("scale", [100.0, 4.0e4, 1.0e6])
def test_ranks_of_rounded_totals_in_single_precision_match_scipy(scale):
    """Totals rounded to 2 decimals: small groups are compared in float32 while that is
    exact (|total| x 100 < 2**22) and in float64 beyond, where float32 would merge totals
    0.01 apart (at 1e6 its spacing is 0.0625)."""
    rng = np.random.default_rng(5)
    D, groups = 400, np.repeat(np.arange(3), [5, 12, 30])           # small groups: the pairwise path
    steps = rng.integers(0, 40, size=(D, len(groups)))               # many ties, neighbours 0.01 apart
    totals = np.round(scale + steps * 0.01, 2)
    got = ranks(totals, groups, decimals=2)
    expect = np.empty_like(got)
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        expect[:, cols] = np.vstack([stats.rankdata(-row, method="min") for row in totals[:, cols]])
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(got, ranks(totals, groups))          # the same as without the hint


@pytest.mark.parametrize("method", ["dirichlet", "uniform"])
def test_weight_draws_centre_on_unequal_nominal_weights(mini, mini_scheme, method):
    """The targets' children weigh 2 : 1 : 1, so a draw that ignored the nominal weights
    (equal shares) would show. Dirichlet draws have mean shares 1/2, 1/4, 1/4 and, with
    concentration c, variance s(1 - s)/(c + 1); uniform draws stay within nominal x (1 +- spread)."""
    from perfsim.core.scheme import UncertaintySpec
    from perfsim.uncertainty.model import compile_model
    from perfsim.uncertainty.montecarlo import sample_inputs

    spec = UncertaintySpec(weights=[{"nodes": ["tree.targets"], "method": method, "spread": 0.3,
                                     "concentration": 40.0}])
    model = compile_model(mini_scheme, mini, spec)
    (pos, *_), = model.weight_groups
    nominal = np.asarray(model.nodes[pos].weights, dtype=float)
    assert np.allclose(nominal / nominal.sum(), [0.5, 0.25, 0.25])
    weights, _, _ = sample_inputs(model, np.random.default_rng(9), 40_000)
    w = weights[pos]
    shares = w / w.sum(axis=1, keepdims=True)
    if method == "dirichlet":
        assert np.allclose(shares.mean(axis=0), [0.5, 0.25, 0.25], atol=0.005)
        expected = np.array([0.5, 0.25, 0.25])
        assert np.allclose(shares.var(axis=0), expected * (1 - expected) / 41, rtol=0.05)
    else:
        ratio = w / nominal
        assert ratio.min() >= 0.7 - 1e-12 and ratio.max() <= 1.3 + 1e-12
        assert np.allclose(ratio.mean(axis=0), 1.0, atol=0.01)
        assert np.allclose(np.sort(ratio[:, 0])[[400, -400]], [0.706, 1.294], atol=0.005)   # flat on the band


def test_leaf_noise_is_clipped_at_zero_on_both_evaluation_paths(mini, mini_scheme):
    """Noise that pushes the leader rating's score below 0 counts as 0, no lower: a draw of
    -(score + 0.05) lowers each total by exactly score x held points (not by 0.05 more), half
    that noise by half; the linear and the node-by-node paths agree."""
    from perfsim.core.engine import score_detail
    from perfsim.core.scheme import UncertaintySpec
    from perfsim.uncertainty.model import compile_model
    from perfsim.uncertainty.montecarlo import evaluate

    model = compile_model(mini_scheme, mini, UncertaintySpec(leader_noise=True))
    (i, _), = model.noise.items()
    s = model.scores[0][:, i]
    n = len(s)
    held = score_detail(mini_scheme, mini).node_held.loc[list(model.ids), model.tree.paths[i]].to_numpy()
    assert (s > 0.1).any() and (held > 0).any()
    noise = np.vstack([-s - 0.05, -s / 2, np.full(n, 0.1), np.zeros(n)])
    for linear in (True, False):
        totals = evaluate(model, {}, {i: noise}, linear=linear)
        nominal = totals[3]
        assert np.allclose(nominal - totals[0], s * held, atol=1e-9), linear            # clipped at 0
        assert np.allclose(nominal - totals[1], s * held / 2, atol=1e-9), linear
        assert np.allclose(totals[2] - nominal, 0.1 * held, atol=1e-9), linear
