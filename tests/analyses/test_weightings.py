"""Normalisations, aggregation policies and COINr's ASEM pipelines, against independent
computations written here with pandas and scipy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.core.errors import PerfsimError, PerfsimWarning
from perfsim.core.scheme import load_scheme_text

from ..conftest import ROOT
from ..factories import indicator_frames

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


def _leaf(rule: str, data, **options) -> np.ndarray:
    body = ", ".join(f"{k}: {v}" for k, v in {"rule": rule, **options}.items())
    scheme = load_scheme_text(f"name: t\ntree: {{points: 100, children: {{I1: {{points: 100, {body}}}}}}}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        return perfsim.score_detail(scheme, data).node_scores["tree.I1"].to_numpy()


X = [3.0, 7.0, 7.0, 1.0, 12.0, 5.0]


def test_normalisations_against_coinr_formulas():
    data = indicator_frames({"I1": X})
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
    data = indicator_frames({"I1": X}, categories=["a", "a", "a", "b", "b", "b"])
    x = np.array(X)
    low = _leaf("percentile", data, direction="lower", within="all")
    assert np.allclose(low, (stats.rankdata(-x, method="min") - 1) / 5)
    per_cat = _leaf("zscore", data)
    for part in (slice(0, 3), slice(3, 6)):
        assert np.allclose(per_cat[part], stats.zscore(x[part], ddof=1) / 100)


def test_log_of_a_non_positive_value_is_refused():
    data = indicator_frames({"I1": [1.0, 0.0, 2.0, 3.0]})
    with pytest.raises(PerfsimError, match="key 'tree.I1.log': unit 'U1' has a value of 0 on indicator 'I1'"):
        _leaf("minmax", data, log="true")


def test_divide_by_a_denominator():
    data = indicator_frames({"I1": [10.0, 20.0, 30.0], "POP": [1.0, 4.0, 2.0]})
    # per head: 10, 5, 15 -> min-max 0.5, 0, 1
    assert np.allclose(_leaf("minmax", data, divide_by="POP"), [0.5, 0.0, 1.0])


# --------------------------------------------------------------------------- derived weights

from perfsim.analyses.weights import ahp_weights, objective_weights, optimise_weights, correlation_shares  # noqa: E402
from perfsim.cli import main  # noqa: E402


def test_entropy_weights_published_example():
    """Elsayed, Dawood and Karthikeyan (2017), Evaluating alternatives through the application
    of TOPSIS method with entropy weight, Int. J. Eng. Trends Technol. 46(2): 60-66."""
    m = np.array([[7, 312, 1891, 6613, 163], [72, 88, 728, 941804, 1078], [10, 252, 2594, 3466, 117471],
                  [10, 145, 980, 2371, 86329], [65, 54, 350, 501, 29897], [29, 48, 380, 912, 34051],
                  [7, 476, 3300, 78470, 2212], [70, 87, 650, 733, 819000], [4, 86, 591, 3015, 103],
                  [12, 79, 579, 3240, 96098], [21, 45, 261, 1253, 453], [1, 72, 530, 4333, 0.1048]])
    assert np.round(objective_weights(m, "entropy"), 6).tolist() == [0.104991, 0.069124, 0.071373, 0.449937, 0.304575]


def test_critic_weights_published_example():
    """Tuş and Adalı (2019), The new combination with CRITIC and WASPAS methods for the time
    and attendance software selection problem, Opsearch 56(2): 528-538."""
    m = np.array([[5000, 3, 3, 4, 3, 2], [680, 5, 3, 2, 2, 1], [2000, 3, 2, 3, 4, 3], [600, 4, 3, 1, 2, 2],
                  [800, 2, 4, 3, 3, 4]])
    assert np.round(objective_weights(m, "critic"), 3).tolist() == [0.157, 0.249, 0.168, 0.121, 0.154, 0.151]


def test_ahp_weights_and_consistency_saaty_drinks():
    """Saaty (2008), Decision making with the analytic hierarchy process, Int. J. Services
    Sciences 1(1): 83-98: relative consumption of drinks (coffee, wine, tea, beer, sodas,
    milk, water), AHP weights .177 .019 .042 .116 .190 .129 .327, consistency ratio 0.022."""
    f = lambda a, b: a / b  # noqa: E731
    m = np.array([[1, 9, 5, 2, 1, 1, f(1, 2)], [f(1, 9), 1, f(1, 3), f(1, 9), f(1, 9), f(1, 9), f(1, 9)],
                  [f(1, 5), 3, 1, f(1, 3), f(1, 4), f(1, 3), f(1, 9)], [f(1, 2), 9, 3, 1, f(1, 2), 1, f(1, 3)],
                  [1, 9, 4, 2, 1, 2, f(1, 2)], [1, 9, 3, 1, f(1, 2), 1, f(1, 3)], [2, 9, 9, 3, 2, 3, 1]])
    w, ratios = ahp_weights([m])
    assert np.round(w, 3).tolist() == [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]
    assert round(ratios["combined"], 3) == 0.022
    # two experts: the geometric mean of the judgements; the same matrix twice changes nothing
    w2, _ = ahp_weights([m, m])
    assert np.allclose(w, w2)


def test_optimised_weights_reach_their_target_shares():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 1))
    m = np.hstack([base + rng.normal(scale=s, size=(200, 1)) for s in (0.2, 0.8, 1.5, 0.5)])
    truth = np.array([0.4, 0.2, 0.1, 0.3])
    target = correlation_shares(m, truth)        # shares that some weights reach: recover them
    w, residual = optimise_weights(m, target)
    assert residual < 1e-8
    assert np.allclose(correlation_shares(m, w), target, atol=1e-4)
    assert np.allclose(w, truth, atol=0.02)
    # equal shares cannot be reached here (the first column follows the common factor
    # closely at any weight): the optimum gets closer to them than equal weights do
    equal, residual = optimise_weights(m)
    near = correlation_shares(m, equal)
    assert residual == pytest.approx(np.sum((near - 0.25) ** 2))
    assert np.ptp(near) < np.ptp(correlation_shares(m, np.full(4, 0.25)))


def test_weights_command_writes_a_scenario_that_validates_and_scores(tmp_path, capsys):
    out = tmp_path / "w.yaml"
    assert main(["weights", "params/baseline.yaml", "--node", "tree.targets", "--method", "critic",
                 "--out", str(out)]) == 0
    scenario = perfsim.load_scenario(out)
    got = {k: c.weight for k, c in scenario.scheme.components["targets"].children.items()}
    assert abs(sum(got.values()) - 1) < 1e-5 and len(got) == 6
    assert "critic" in out.read_text(encoding="utf-8").splitlines()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        assert len(perfsim.score(scenario, perfsim.open_dataset(None))) == 108
    # AHP from two experts' CSV files, children given in another order
    kids = list(got)
    for k, scale in enumerate((5, 9)):
        rows = [["", *kids[::-1]]]
        for a in kids:
            rows.append([a, *[(f"{scale}" if kids.index(a) < kids.index(b) else f"1/{scale}") if a != b else "1"
                              for b in kids[::-1]]])
        (tmp_path / f"e{k}.csv").write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    code = main(["weights", "params/baseline.yaml", "--node", "tree.targets", "--method", "ahp",
                 "--pairwise", str(tmp_path / "e0.csv"), "--pairwise", str(tmp_path / "e1.csv"),
                 "--out", str(tmp_path / "ahp.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "consistency ratio" in err and "--allow-inconsistent" in err
    assert main(["weights", "params/baseline.yaml", "--node", "tree.targets", "--method", "ahp", "--allow-inconsistent",
                 "--pairwise", str(tmp_path / "e0.csv"), "--out", str(tmp_path / "ahp.yaml")]) == 0
    ahp = perfsim.load_scenario(tmp_path / "ahp.yaml").scheme.components["targets"].children
    assert ahp[kids[0]].weight > ahp[kids[-1]].weight


@pytest.mark.parametrize("cells, expect", [
    ({(0, 1): "abc"}, "row 2, column 'b': 'abc' is not a number or a fraction"),
    ({(0, 1): "3", (1, 0): "3"}, "a/b is 3 but b/a is 3: they must be reciprocal"),
    ({(0, 0): "2"}, "the diagonal must be 1"),
    ({(0, 1): "-1"}, "comparisons are positive"),
])
def test_bad_pairwise_files(tmp_path, cells, expect):
    from perfsim.analyses.weights import read_pairwise

    grid = [["1", "1", "1"], ["1", "1", "1"], ["1", "1", "1"]]
    for (r, c), v in cells.items():
        grid[r][c] = v
    text = ",a,b,c\n" + "\n".join(f"{n},{','.join(row)}" for n, row in zip("abc", grid)) + "\n"
    (tmp_path / "p.csv").write_text(text, encoding="utf-8")
    with pytest.raises(PerfsimError, match=expect):
        read_pairwise(tmp_path / "p.csv", ["a", "b", "c"])
    (tmp_path / "q.csv").write_text(",a,b\na,1,1\nb,1,1\n", encoding="utf-8")
    with pytest.raises(PerfsimError, match="missing: c"):
        read_pairwise(tmp_path / "q.csv", ["a", "b", "c"])


# --------------------------------------------------------------------------- influence and reduction

from perfsim.analyses.influence import drop_diff, influence, without  # noqa: E402

POINTS = """name: p
tree:
  points: 100
  children:
    targets:
      points: 60
      children:
        econ: {points: 40, children: {I1: {points: 30, rule: ratio}, I2: {points: 10, rule: ratio}}}
        social: {points: 20, children: {I3: {points: 20, rule: band, floor: 0.5}}}
    leader: {points: 40, source: leader_ratings, rule: rating}
"""


def test_dropping_shares_points_out_in_proportion():
    scheme = load_scheme_text(POINTS)
    one = without(scheme, ["tree.targets.econ.I2"]).components["targets"].children
    assert one["econ"].points == 40 and one["econ"].children["I1"].points == 40
    two = without(scheme, ["tree.targets.social.I3"])
    econ = two.components["targets"].children["econ"]
    assert "social" not in two.components["targets"].children           # left without children: gone
    assert econ.points == 60 and econ.children["I1"].points == 45 and econ.children["I2"].points == 15
    assert drop_diff(scheme, ["tree.targets.social.I3"])["remove"] == ["tree.targets.social"]
    with pytest.raises(PerfsimError, match="without indicators"):
        without(scheme, ["tree.targets.econ.I1", "tree.targets.econ.I2", "tree.targets.social.I3",
                         "tree.leader"])


def test_an_indicator_with_weight_zero_has_no_influence(mini):
    text = """name: z
tree:
  points: 100
  children:
    targets:
      points: 100
      children:
        I1: {weight: 1, rule: ratio, cap: 1.2}
        I2: {weight: 0, rule: ratio}
        I3: {weight: 1, rule: band, floor: 0.5}
ranking: {within: all}
"""
    scheme = load_scheme_text(text)
    resolved = perfsim.Resolved(scheme=scheme, path=ROOT / "z.yaml", diffs=(), raw=scheme.model_dump(
        exclude_none=True, exclude_unset=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        table = influence(resolved, mini).set_index("indicator")
    assert table.loc["I2", "units_moved"] == 0 and table.loc["I2", "grade_changes"] == 0
    assert table.loc["I2", "variance_share"] == 0 and table.loc["I2", "nominal_weight"] == 0
    assert table.loc["I2", "tau_min"] == pytest.approx(1.0)
    assert table.loc["I1", "units_moved"] > 0


def test_reduce_on_the_bundled_world_keeps_its_tau(tmp_path, capsys):
    out = tmp_path / "reduced.yaml"
    assert main(["reduce", "params/baseline.yaml", "--min-tau", "0.9", "--out", str(out), "--no-progress"]) == 0
    reduced = perfsim.load_scenario(out)
    full = perfsim.load_scenario("params/baseline.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        world = perfsim.open_dataset(None)
        a = perfsim.score(full, world).set_index("unit_id")
        b = perfsim.score(reduced, world).set_index("unit_id").reindex(a.index)
    taus = [stats.kendalltau(a.loc[a.category == c, "rank"], b.loc[a.category == c, "rank"]).statistic
            for c in sorted(a["category"].unique())]
    assert min(taus) >= 0.9
    from perfsim.analyses.influence import indicator_leaves

    assert len(indicator_leaves(reduced)) < len(indicator_leaves(full))
    printed = capsys.readouterr().out
    assert f"min {min(taus):.3f}" in printed


def test_lower_is_better_for_zscore_frontier_and_target_and_a_log_target():
    data = indicator_frames({"I1": X})
    x = np.array(X)
    assert np.allclose(_leaf("zscore", data, direction="lower", within="all"), stats.zscore(-x, ddof=1) / 100)
    assert np.allclose(_leaf("dist_frontier", data, direction="lower", within="all"), 1 - (x - 1) / 11)
    # lower is better, target 2: the worst value is 12 -> 1 - (x - 2) / (12 - 2)
    assert np.allclose(_leaf("dist_target", data, direction="lower", within="all", target=2), 1 - (x - 2) / 10)
    # on the log scale: target log 10, worst log 1
    assert np.allclose(_leaf("dist_target", data, target=10, log="true"), 1 - (np.log(10) - np.log(x)) / np.log(10))


def test_entropy_weights_with_zeros_follow_0_ln_0_equals_0_by_hand():
    """Column 1 (0, 1, 1): p = (0, 1/2, 1/2), E = ln 2 / ln 3; column 2 (1, 1, 2): p = (1/4,
    1/4, 1/2), E = 1.5 ln 2 / ln 3; w ∝ 1 - E."""
    import math

    from perfsim.analyses.weights import entropy_weights, objective_weights

    m = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    d1 = 1 - math.log(2) / math.log(3)
    d2 = 1 - 1.5 * math.log(2) / math.log(3)
    expected = [d1 / (d1 + d2), d2 / (d1 + d2)]
    assert np.allclose(objective_weights(m, "entropy"), expected, atol=1e-12)
    # where no score is 0 the convention changes nothing: the same as pymcdm's
    positive = np.array([[2.0, 1.0, 5.0], [1.0, 1.0, 2.0], [3.0, 4.0, 2.0], [1.0, 2.0, 2.0]])
    assert np.allclose(entropy_weights(positive), objective_weights(positive, "entropy"), atol=1e-12)
    with pytest.raises(perfsim.PerfsimError, match="need scores of 0 or more"):
        entropy_weights(np.array([[-1.0, 1.0], [1.0, 1.0], [1.0, 2.0]]))
    # a column of zeros: no information, weight 0 and a warning; the others as without it
    with pytest.warns(perfsim.PerfsimWarning, match="1 child"):
        w = entropy_weights(np.column_stack([m, np.zeros(3)]))
    assert np.allclose(w, expected + [0.0], atol=1e-12)
    # one unit, a missing score, or every child spread evenly: refused by name
    with pytest.raises(perfsim.PerfsimError, match="at least 2 units"):
        entropy_weights(np.array([[1.0, 2.0]]))
    with pytest.raises(perfsim.PerfsimError, match="1 are missing"):
        entropy_weights(np.array([[np.nan, 1.0], [1.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(perfsim.PerfsimError, match="spreads evenly"):
        entropy_weights(np.full((7, 3), 0.3))


def test_entropy_weights_at_their_edges():
    """Two units are enough: (0, 1) has entropy 0, (1, 1) entropy 1, so all the weight goes
    to the first child. Integer scores weigh as the same floats. The messages say what is
    wrong in full: the count of negative scores (zeros are not counted), one unit."""
    import re

    from perfsim.analyses.weights import entropy_weights

    assert np.allclose(entropy_weights(np.array([[0.0, 1.0], [1.0, 1.0]])), [1.0, 0.0], atol=1e-12)
    ints = np.array([[0, 1, 3], [1, 1, 1], [2, 5, 1], [1, 2, 2]])
    assert np.allclose(entropy_weights(ints), entropy_weights(ints.astype(float)), atol=1e-12)
    assert entropy_weights(ints).dtype == float
    with pytest.raises(PerfsimError, match="^" + re.escape(
            "entropy weights need scores of 0 or more, but 1 score(s) are negative (a z-score normalisation): "
            "use another method or a min-max normalisation") + "$"):
        entropy_weights(np.array([[0.0, 0.0], [-0.5, 1.0], [1.0, 0.0]]))
    with pytest.raises(PerfsimError, match="^" + re.escape(
            "entropy weights need the scores of at least 2 units (the entropy of one unit is not defined)") + "$"):
        entropy_weights(np.array([[1.0, 2.0]]))
    with pytest.raises(PerfsimError, match="^" + re.escape(
            "entropy weights are not defined for these scores (every child spreads evenly)") + "$"):
        entropy_weights(np.ones((4, 2)))
    # a child scored 0 by every unit leaves the others' weights as they are, and gets none
    with pytest.warns(PerfsimWarning, match=re.escape("1 child(ren) score 0 for every unit: "
                                                      "entropy gives them no weight")):
        w = entropy_weights(np.column_stack([np.zeros(4), ints]))
    assert w[0] == 0.0 and np.allclose(w[1:], entropy_weights(ints), atol=1e-12)



def test_pca_weights_are_the_first_principal_component_of_the_correlations():
    """Against an independent route: the leading eigenvector of the correlation matrix
    (numpy's symmetric eigen-solver, not the SVD the code uses), signed positive and
    normalised; two perfectly correlated columns weigh the same; a column that loads
    negatively gets 0, with a warning."""
    from perfsim.analyses.weights import pca_weights

    rng = np.random.default_rng(5)
    factor = rng.normal(size=60)
    m = np.column_stack([factor + rng.normal(0, s, 60) for s in (0.3, 0.6, 1.2)])
    values, vectors = np.linalg.eigh(np.corrcoef(m, rowvar=False))
    lead = vectors[:, np.argmax(values)]
    lead = lead if lead.sum() > 0 else -lead
    assert np.allclose(pca_weights(m), lead / lead.sum(), atol=1e-10)
    assert pca_weights(m)[0] > pca_weights(m)[1] > pca_weights(m)[2]          # less noise, more weight
    twin = np.column_stack([factor, 3 * factor + 1])
    assert np.allclose(pca_weights(twin), [0.5, 0.5])
    against = np.column_stack([factor, factor + rng.normal(0, 0.2, 60), -factor + rng.normal(0, 0.2, 60)])
    with pytest.warns(PerfsimWarning, match=r"^1 negative PCA loading\(s\) set to weight 0$"):
        w = pca_weights(against)
    assert w[2] == 0 and np.isclose(w.sum(), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # every loading positive: no warning
        pca_weights(m)
    with pytest.raises(PerfsimError, match=r"^PCA weights need every child to vary over the units$"):
        pca_weights(np.column_stack([factor, np.full(60, 0.7)]))


def test_pca_weights_do_not_depend_on_the_sign_the_svd_picks(monkeypatch):
    """A singular vector's sign is arbitrary (LAPACK may return either): the weights are
    signed to sum positive, so a solver returning the negated vector gives the same."""
    from perfsim.analyses.weights import pca_weights

    rng = np.random.default_rng(8)
    factor = rng.normal(size=40)
    m = np.column_stack([factor + rng.normal(0, s, 40) for s in (0.4, 0.8)])
    expected = pca_weights(m)
    real = np.linalg.svd

    def negated(z, full_matrices=True):
        u, s, vt = real(z, full_matrices=full_matrices)
        return -u, s, -vt

    monkeypatch.setattr(np.linalg, "svd", negated)
    assert np.allclose(pca_weights(m), expected, atol=1e-12) and (expected > 0).all()


def test_weights_become_points_where_the_children_carry_points_and_weights_elsewhere(baseline):
    """The root's first three components carry points: weights (0.5, 0.3, 0.2) over them
    become points 0.5 and 0.3 of their sum and the remainder, so the sum is unchanged; the
    dimensions under targets carry weights, so weights stay weights (rounded to 6 digits)."""
    from perfsim.analyses.weights import Derived, weights_diff

    comps = {k: c for k, c in baseline.scheme.components.items() if not c.extra}
    names = list(comps)[:3]
    total = sum(float(comps[n].points) for n in names)
    diff = weights_diff(baseline, Derived("tree", names, np.array([0.5, 0.3, 0.2]), "test"))
    assert diff == {f"tree.{names[0]}.points": round(0.5 * total, 6), f"tree.{names[1]}.points": round(0.3 * total, 6),
                    f"tree.{names[2]}.points": round(total - round(0.5 * total, 6) - round(0.3 * total, 6), 6)}
    assert sum(diff.values()) == pytest.approx(total)
    dims = list(baseline.scheme.components["targets"].children)[:2]
    diff = weights_diff(baseline, Derived("tree.targets", dims, np.array([1 / 3, 2 / 3]), "test"))
    assert diff == {f"tree.targets.{dims[0]}.weight": 0.333333, f"tree.targets.{dims[1]}.weight": 0.666667}


def test_two_different_experts_are_combined_by_the_geometric_mean_of_their_judgements():
    """Expert 1 judges A twice as important as B, expert 2 eight times: the combined
    judgement is sqrt(2 x 8) = 4 (the geometric mean; the arithmetic mean, 5, would give
    other weights). For a 2 x 2 matrix the principal eigenvector is (4, 1) / 5 = (0.8, 0.2)."""
    one = np.array([[1.0, 2.0], [1 / 2, 1.0]])
    two = np.array([[1.0, 8.0], [1 / 8, 1.0]])
    w, ratios = ahp_weights([one, two])
    assert np.allclose(w, [0.8, 0.2], atol=1e-9)
    assert not np.allclose(w, [5 / 6, 1 / 6], atol=1e-3)                   # not the arithmetic mean's
    assert set(ratios) == {"expert 1", "expert 2", "combined"}
    # three alternatives, experts who disagree: weights are those of the element-wise geometric mean
    a = np.array([[1, 3, 5], [1 / 3, 1, 2], [1 / 5, 1 / 2, 1]])
    b = np.array([[1, 1 / 2, 3], [2, 1, 4], [1 / 3, 1 / 4, 1]])
    g = np.sqrt(a * b)
    values, vectors = np.linalg.eig(g)
    lead = np.abs(np.real(vectors[:, np.argmax(np.real(values))]))
    w3, _ = ahp_weights([a, b], allow_inconsistent=True)
    assert np.allclose(w3, lead / lead.sum(), atol=1e-3)


def test_the_weightings_conclusion_says_what_its_numbers_say_in_both_languages():
    """A hand-made comparison: method a moves the ranking most (lowest tau 0.70, 5 units, 1
    grade), b least (0.85, 2 units, 0 grades), c was not computed; I2 carries most beyond its
    weight (0.500 against 0.300), I3 least (0.100 against 0.300); 2 of 3 indicators keep tau
    at or above 0.9 (worst 0.920, mean 0.935). Both texts are checked whole."""
    from types import SimpleNamespace

    from perfsim.analyses.weights import weightings_text

    effects = pd.DataFrame({"method": ["a", "a", "b", "b", "c"], "category": ["x", "y", "x", "y", ""],
                            "units": [4, 3, 4, 3, 0], "tau": [0.9, 0.7, 0.95, 0.85, np.nan],
                            "units_moved": [3, 2, 1, 1, 0], "max_move": [2.0, 1.0, 1.0, 1.0, np.nan],
                            "grade_changes": [1, 0, 0, 0, 0], "note": ["", "", "", "", "no files"]})
    influence = pd.DataFrame({"indicator": ["I1", "I2", "I3"], "nominal_weight": [0.4, 0.3, 0.3],
                              "variance_share": [0.4, 0.5, 0.1], "units_moved": [2, 0, 0]})
    reduction = SimpleNamespace(kept=["I1", "I2"], dropped=["I3"], min_tau=0.9)
    taus = np.array([0.95, 0.92])
    assert weightings_text("tree.t", effects, influence, reduction, taus) == (
        "Re-weighting the children of tree.t by 2 method(s): a moves the ranking most (lowest Kendall tau in a "
        "category 0.70, 5 units change rank, 1 grades change), b least (lowest tau 0.85, 2 units, 0 grades). "
        "Where tau falls below 0.8 the choice of weighting method decides the order as much as the data do: the "
        "weights need a stated reason before the ranking is used. Not computed: c (no files). Measured by their "
        "share of the variance of totals within categories, I2 drives the ranking most beyond its nominal weight "
        "(0.500 against 0.300) and I3 falls furthest short of it (0.100 against 0.300); 2 of 3 indicators move "
        "no unit when dropped. Keeping Kendall tau at or above 0.9 in every category, 2 of 3 indicators suffice "
        "(少而精); the reduced set's tau to the full ranking is 0.920 in the worst category and 0.935 on average.")
    assert weightings_text("tree.t", effects, influence, reduction, taus, lang="zh") == (
        "用 2 种方法重新确定 tree.t 下各项的权重：a 对排名改变最大（类别内最低 Kendall τ 0.70，5 个单位名次改变，1 个等次改变），"
        "b 最小（最低 τ 0.85，2 个单位，0 个等次）。τ 低于 0.8 时，权重方法和数据一样决定先后：排名使用前，权重需要说明理由。"
        "未计算：c（no files）。按类别内总分方差的份额衡量，I2 的实际影响最超出其名义权重（0.500，名义 0.300），I3 最不及"
        "（0.100，名义 0.300）；3 个指标中有 2 个去掉后没有单位名次改变。在每个类别的 Kendall τ 不低于 0.9 的前提下，3 个指标"
        "中保留 2 个即可（少而精）；精简后与完整排名的 τ 最差类别为 0.920，平均 0.935。")
    # every tau at or above 0.8: no warning sentence; nothing else given: the first sentence alone
    calm = effects.assign(tau=effects["tau"].where(effects["tau"].isna(), 0.9)).iloc[:4]
    assert weightings_text("tree.t", calm) == (
        "Re-weighting the children of tree.t by 2 method(s): a moves the ranking most (lowest Kendall tau in a "
        "category 0.90, 5 units change rank, 1 grades change), b least (lowest tau 0.90, 2 units, 0 grades).")


def test_derive_returns_each_methods_weights_and_says_how_they_were_found(baseline, world, tmp_path):
    """derive over the root's three components (108 units): the objective method's weights
    and note, the optimised weights for equal and for given target shares (a child left
    out of the targets gets 0), AHP from a consistent expert file, and each refusal whole."""
    from perfsim.analyses.weights import (METHODS, decision_matrix, derive, objective_weights,
                                          optimise_weights)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        m, dropped = decision_matrix(baseline, world, "tree", 2024)
        critic = derive(baseline, world, "tree", "critic", 2024)
        equal = derive(baseline, world, "tree", "optimise", 2024)
        given = derive(baseline, world, "tree", "optimise", 2024, targets={"targets": 0.6, "leader": 0.4})
    kids = ["targets", "leader", "satisfaction"]
    assert dropped == 0 and len(m) == 108
    assert (critic.node, critic.children, critic.method, critic.units) == ("tree", kids, "critic", 108)
    assert np.allclose(critic.weights, objective_weights(m.to_numpy(), "critic"))
    assert critic.note == "critic weights over 108 units' scores of the children"
    w, residual = optimise_weights(m.to_numpy(), None, False)
    assert (equal.method, equal.units, equal.children) == ("optimise", 108, kids) and np.allclose(equal.weights, w)
    assert equal.note == f"correlation shares matched to equal targets (sum of squared differences {residual:.2e})"
    w, residual = optimise_weights(m.to_numpy(), np.array([0.6, 0.4, 0.0]), False)
    assert np.allclose(given.weights, w) and not np.allclose(given.weights, equal.weights)
    assert given.note == f"correlation shares matched to given targets (sum of squared differences {residual:.2e})"
    # AHP: one expert who finds each child twice as important as the next (consistent: CR 0)
    (tmp_path / "e.csv").write_text(",targets,leader,satisfaction\ntargets,1,2,4\nleader,1/2,1,2\n"
                                    "satisfaction,1/4,1/2,1\n", encoding="utf-8")
    ahp = derive(baseline, world, "tree", "ahp", pairwise=[tmp_path / "e.csv"])
    assert np.allclose(ahp.weights, [4 / 7, 2 / 7, 1 / 7]) and ahp.method == "ahp" and ahp.units == 0
    assert ahp.consistency["combined"] == pytest.approx(0.0, abs=1e-9)
    assert ahp.note == f"AHP over 1 expert(s), combined consistency ratio {ahp.consistency['combined']:.3f}"
    refusals = [
        (dict(method="nope"), f"unknown method 'nope' (one of {', '.join(METHODS)})"),
        (dict(method="ahp"), "--method ahp needs --pairwise FILE (one CSV matrix per expert)"),
        (dict(method="optimise", targets={"bogus": 1.0}),
         "target shares name bogus, not children of tree (targets, leader, satisfaction)"),
        (dict(method="optimise", targets={"targets": -0.1, "leader": 1.0}),
         "target shares must be non-negative and not all 0"),
        (dict(method="optimise", targets={"targets": 0.0}), "target shares must be non-negative and not all 0"),
        (dict(method="equal", node="tree.nowhere"), None),
        (dict(method="equal", node="tree.satisfaction"),
         f"{baseline.path}: --node 'tree.satisfaction' has 0 child(ren) to weigh: at least two are needed"),
    ]
    for kwargs, message in refusals:
        node = kwargs.pop("node", "tree")
        with pytest.raises(PerfsimError) as caught, warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            derive(baseline, world, node, year=2024, **kwargs)
        if message is not None:
            assert str(caught.value) == message, kwargs
    # the unknown node: the nodes with children listed (all 9 here; past 12, the first 12 and "...")
    missing = str(pytest.raises(PerfsimError, derive, baseline, world, "tree.nowhere", "equal").value)
    assert missing == (f"{baseline.path}: --node 'tree.nowhere' is not a node of the scheme (nodes with children: "
                       "tree, tree.targets, tree.targets.economic, tree.targets.political, tree.targets.cultural, "
                       "tree.targets.social, tree.targets.ecological, tree.targets.party_building, tree.special)")
    from perfsim.analyses.weights import _node

    dims = "".join(f"        d{k}: {{weight: 1, children: {{A{k}: {{rule: ratio, weight: 1}}, "
                   f"B{k}: {{rule: ratio, weight: 1}}}}}}\n" for k in range(13))
    wide = load_scheme_text(f"name: wide\ntree:\n  points: 100\n  children:\n    t:\n      points: 100\n"
                            f"      children:\n{dims}")
    many = str(pytest.raises(PerfsimError, _node, wide, "tree.x", "wide.yaml").value)
    assert many == ("wide.yaml: --node 'tree.x' is not a node of the scheme (nodes with children: tree, tree.t, "
                    + ", ".join(f"tree.t.d{k}" for k in range(10)) + " ...)")
