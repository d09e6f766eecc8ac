"""perfsim methods: TOPSIS, VIKOR and PROMETHEE II on the scheme's leaf scores, checked
against the methods' textbook formulas computed here independently (Hwang & Yoon 1981 for
TOPSIS; Opricovic & Tzeng 2004 for VIKOR with v = 0.5; Brans & Vincke 1985 for PROMETHEE II
with the usual preference function), and the decision matrix against the scheme's own sums."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import perfsim
from perfsim.analyses.methods import decision_matrices, method_rankings, methods_text
from perfsim.cli import main
from perfsim.core.engine import check_fit, score_arrays
from perfsim.core.errors import PerfsimWarning
from perfsim.core.scheme import load_scheme_text

from ..factories import indicator_frames

VALUES = {"I1": [3.0, 7.0, 6.0, 1.0, 12.0, 5.0, 9.0],
          "I2": [40.0, 10.0, 25.0, 35.0, 5.0, 30.0, 20.0],
          "I3": [0.2, 0.9, 0.4, 0.6, 0.3, 0.8, 0.1]}
SCHEME = """name: m
tree:
  points: 100
  children:
    I1: {points: 50, rule: minmax}
    I2: {points: 30, rule: minmax}
    I3: {points: 20, rule: minmax}
"""


def _independent(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Scores (higher is better) of each method from its textbook formula."""
    v = w * x / np.sqrt((x ** 2).sum(axis=0))
    plus, minus = np.sqrt(((v - v.max(0)) ** 2).sum(1)), np.sqrt(((v - v.min(0)) ** 2).sum(1))
    topsis = minus / (plus + minus)
    gap = (x.max(0) - x) / (x.max(0) - x.min(0))
    s_, r_ = (w * gap).sum(1), (w * gap).max(1)
    q = 0.5 * (s_ - s_.min()) / (s_.max() - s_.min()) + 0.5 * (r_ - r_.min()) / (r_.max() - r_.min())
    pref = (x[:, None, :] > x[None, :, :]).astype(float)          # usual criterion: 1 if strictly better
    pi = (pref * w).sum(2)
    net = (pi.sum(1) - pi.sum(0)) / (len(x) - 1)
    return {"TOPSIS": topsis, "VIKOR": -q, "PROMETHEE_II": net}


def test_methods_match_their_textbook_formulas():
    data = indicator_frames(VALUES)
    scheme = load_scheme_text(SCHEME)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        ranks, summary = method_rankings(scheme, data)
    x = np.column_stack([(np.array(v) - min(v)) / (max(v) - min(v)) for v in VALUES.values()])
    for method, score in _independent(x, np.array([0.5, 0.3, 0.2])).items():
        expected = stats.rankdata(-score, method="min")
        assert np.array_equal(ranks[f"rank_{method}"].to_numpy(), expected), method
        tau = stats.kendalltau(ranks["rank_scheme"], expected).statistic
        assert summary.set_index("method").loc[method, "tau"] == pytest.approx(tau)
    # the scheme's own ranking is the weighted sum of the same matrix
    assert np.array_equal(ranks["rank_scheme"], stats.rankdata(-(x @ [0.5, 0.3, 0.2]), method="min"))


def test_the_decision_matrix_sums_to_the_scheme_points(world, baseline):
    year = check_fit(baseline, world, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        s = score_arrays(baseline.scheme, world, year)
    checked = 0
    for m in decision_matrices(s, baseline.scheme):
        held = s.node_held[np.ix_(m.on, m.leaves)]
        if not np.allclose(held, held[0]):
            continue                      # a leaf applies to some units only: weights are means
        dropped = [i for i in perfsim.core.engine.Tree.of(baseline.scheme).leaves if i not in set(m.leaves)]
        constant = s.node_points[np.ix_(m.on, dropped)].sum(1)
        points = m.values @ m.weights * held[0].sum() + constant
        assert np.allclose(points + s.bonus[m.on] - s.deduction[m.on], s.total[m.on], atol=0.011)
        checked += 1
    assert checked >= 3


def test_too_few_units_are_reported_not_ranked():
    data = indicator_frames({k: v[:2] for k, v in VALUES.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        ranks, summary = method_rankings(load_scheme_text(SCHEME), data)
    assert summary["tau"].isna().all() and ranks["rank_TOPSIS"].isna().all()
    assert "too few units" in summary["note"].iloc[0]
    assert "Not ranked" in methods_text(summary)


def test_methods_command(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["methods", "params/baseline.yaml", "--out", str(out)]) == 0
    import pandas as pd

    summary = pd.read_csv(out / "method_summary.csv")
    assert set(summary["method"]) == {"TOPSIS", "VIKOR", "PROMETHEE_II"}
    assert (out / "methods.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert f"{summary['tau'].min():.2f}" in printed


def test_compare_weightings_matches_the_scenario_perfsim_weights_writes(tmp_path, baseline):
    from perfsim.analyses.weights import compare_weightings, weightings_text

    world = perfsim.open_dataset(None)               # what perfsim weights reads without --data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        weights, effects = compare_weightings(baseline, world, "tree.targets", ["ahp", "entropy"])
    said = [str(w.message) for w in caught if issubclass(w.category, PerfsimWarning)]
    # once each: the units the data-driven weights leave out (95 departments lack the
    # districts' dimensions), and the method that could not be applied
    assert said == ["95 unit(s) lack a score on some child of tree.targets and are left out of the data-driven "
                    "weights", "ahp weights for tree.targets skipped: no pairwise comparison files were given"]
    out = tmp_path / "entropy.yaml"
    assert main(["weights", str(baseline.path), "--node", "tree.targets", "--method", "entropy",
                 "--out", str(out)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        a = perfsim.score(baseline, world).set_index("unit_id")
        b = perfsim.score(perfsim.load_scenario(out), world).set_index("unit_id").reindex(a.index)
    got = effects[effects["method"] == "entropy"].set_index("category")
    for category, part in a.groupby("category"):
        tau = stats.kendalltau(part["rank"], b.loc[part.index, "rank"]).statistic
        assert got.loc[category, "tau"] == pytest.approx(tau)
        assert got.loc[category, "units_moved"] == int((part["rank"] != b.loc[part.index, "rank"]).sum())
        assert got.loc[category, "units"] == len(part)
        assert got.loc[category, "max_move"] == (part["rank"] - b.loc[part.index, "rank"]).abs().max()
        assert got.loc[category, "grade_changes"] == int((part["grade"] != b.loc[part.index, "grade"]).sum())
    assert set(got.index) == set(a["category"])
    # the method that cannot be applied: one row, its reason, nothing measured; the next still runs
    skipped = effects[effects["method"] == "ahp"]
    assert len(skipped) == 1 and skipped.iloc[0][["category", "units", "units_moved", "grade_changes", "note"]].tolist() \
        == ["", 0, 0, 0, "no pairwise comparison files were given"]
    assert skipped[["tau", "max_move"]].isna().all(axis=None)
    assert list(effects.columns) == ["method", "category", "units", "tau", "units_moved", "max_move",
                                     "grade_changes", "note"]
    assert weights["weight"].sum() == pytest.approx(1.0)
    # another year's data give that year's weights
    from perfsim.analyses.weights import derive

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        early, _ = compare_weightings(baseline, world, "tree.targets", ["entropy"], year=2023)
        expected = derive(baseline, world, "tree.targets", "entropy", 2023).table(baseline.scheme)
    assert np.allclose(early["weight"], expected["weight"]) and not np.allclose(early["weight"], weights["weight"])
    text = weightings_text("tree.targets", effects)
    assert f"{got['tau'].min():.2f}" in text and "ahp (no pairwise comparison files were given)" in text
