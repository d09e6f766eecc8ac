"""perfsim audit: availability counted by hand, outlier statistics against scipy,
correlations against pandas, pairs above the threshold, correlations with the levels
above against the engine's node scores, and the files the command writes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.analyses.audit import audit, scored_values
from perfsim.cli import main
from perfsim.core.contract import validate_frames
from perfsim.core.errors import PerfsimWarning

from ..conftest import MINI, MINI_SCHEME


def _dataset(n: int = 30, seed: int = 0):
    """n units of one category; I1 and I2 almost the same, I3 independent with two
    outliers, I4 without targets reported by all but one unit."""
    rng = np.random.default_rng(seed)
    base = rng.normal(100, 10, n)
    values = {"I1": base, "I2": base * 1.01 + rng.normal(0, 0.5, n), "I3": rng.normal(50, 5, n),
              "I4": rng.normal(10, 1, n)}
    values["I3"][:2] = [200.0, 260.0]
    ids = [f"U{k:02d}" for k in range(n)]
    units = pd.DataFrame({"unit_id": ids, "category": "c"})
    indicators = pd.DataFrame({"indicator_id": list(values), "direction": "higher"})
    targets = pd.DataFrame([(2025, u, i, 100.0 if i != "I3" else 50.0) for u in ids for i in ("I1", "I2", "I3")],
                           columns=["year", "unit_id", "indicator_id", "target"])
    rows = [("2025-12", u, i, float(values[i][k])) for k, u in enumerate(ids) for i in values]
    actuals = pd.DataFrame(rows, columns=["period", "unit_id", "indicator_id", "value"])
    actuals = actuals[~((actuals.unit_id == "U05") & (actuals.indicator_id == "I1"))]   # one missing actual
    actuals = actuals[~((actuals.unit_id == "U07") & (actuals.indicator_id == "I4"))]   # one not reported
    return validate_frames({"units": units, "indicators": indicators, "targets": targets, "actuals": actuals}), values


def test_availability_by_hand():
    data, _ = _dataset()
    result = audit(None, data)
    per_ind = result.indicators.set_index("indicator_id")
    assert per_ind.loc["I1", ["expected", "with_actual", "missing"]].tolist() == [30, 29, 1]
    # I4 has no targets: every unit of the category is expected to report it
    assert per_ind.loc["I4", ["expected", "with_actual", "missing"]].tolist() == [30, 29, 1]
    per_unit = result.units.set_index("unit_id")
    assert per_unit.loc["U05", "missing"] == 1 and per_unit.loc["U01", "missing"] == 0
    assert per_unit.loc["U05", "share"] == pytest.approx(3 / 4)
    tables = result.tables.set_index("table")
    assert tables.loc["actuals", "rows_in_year"] == 118 and tables.loc["targets", "units"] == 30


def test_outlier_statistics_against_scipy():
    data, values = _dataset()
    result = audit(None, data).indicators.set_index("indicator_id")
    x = values["I3"] / 50.0                                 # scored as achievement actual/target
    assert result.loc["I3", "skew"] == pytest.approx(stats.skew(x, bias=False))
    assert result.loc["I3", "kurtosis"] == pytest.approx(stats.kurtosis(x, bias=False))
    assert result.loc["I3", "flagged"] and result.loc["I3", "treatment"].startswith("winsorise")
    assert not result.loc["I1", "flagged"] and result.loc["I4", "basis"] == "actual"


def test_correlations_against_pandas_and_pairs_above_threshold():
    data, _ = _dataset()
    result = audit(None, data, threshold=0.9)
    values, _ = scored_values(data, 2025)
    pd.testing.assert_frame_equal(result.matrix, values.corr(min_periods=10), check_names=False)
    assert result.pairs[["indicator_a", "indicator_b"]].values.tolist() == [["I1", "I2"]]
    assert result.pairs["units"].tolist() == [29]
    spearman = audit(None, data, method="spearman")
    assert spearman.matrix.loc["I1", "I3"] == pytest.approx(values["I1"].corr(values["I3"], method="spearman"))


def test_level_correlations_against_node_scores(mini, mini_scheme):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        result = audit(mini_scheme, mini, min_units=3)
        detail = perfsim.score_detail(mini_scheme, mini)
    levels = result.levels.set_index("path")
    on = detail.node_held["tree.targets.econ.I1"] > 0
    leaf = detail.node_scores.loc[on, "tree.targets.econ.I1"]
    assert levels.loc["tree.targets.econ.I1", "r_component"] == pytest.approx(
        leaf.corr(detail.node_scores.loc[on, "tree.targets"]))
    total = detail.table.set_index("unit_id")["total"]
    assert levels.loc["tree.targets.econ.I1", "r_total"] == pytest.approx(leaf.corr(total[leaf.index]))
    assert np.isnan(levels.loc["tree.leader", "r_component"])      # a component that is a leaf


def test_cli_audit_writes_page_and_tables(tmp_path, capsys):
    assert main(["audit", str(MINI_SCHEME), "--data", str(MINI), "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "可得率" in printed and "|r| ≥ 0.9" in printed
    facts = json.loads((tmp_path / "a" / "run.json").read_text(encoding="utf-8"))["facts"]
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"audit.html", "availability.png", "outliers.png", "correlations.png", "levels.csv",
            "collinear.csv", "availability_units.csv"} <= names
    page = (tmp_path / "a" / "audit.html").read_text(encoding="utf-8")
    assert f"应有 {facts['expected_cells']} 个实绩" in page
    assert main(["audit", "--data", str(MINI), "--out", str(tmp_path / "b"), "--threshold", "1.5"]) == 2


def test_concentration_flags_an_indicator_that_re_normalisation_makes_decisive(mini):
    """I1 applies to districts only, I3 to all; 60 target points, 40 leader points. The
    outer district U2 has both targets: 30 + 30 (0.3 each). The central district U1 has no I3
    target, so I1 takes all 60 (0.6). Departments hold all 60 on I3 (0.6): above 0.5."""
    from perfsim.core.engine import concentration, score_detail
    from perfsim.core.scheme import load_scheme_text

    scheme = load_scheme_text("""
name: conc
tree:
  points: 100
  children:
    targets:
      points: 60
      children:
        I1: {rule: ratio, weight: 1, applies_to: {kind: [district]}}
        I3: {rule: ratio, weight: 1}
    leader: {points: 40, source: leader_ratings, rule: rating}
""")
    detail = score_detail(scheme, mini)
    table = concentration(detail, mini, max_share=0.5).set_index(["unit_type", "path"])
    assert table.loc[("outer district", "tree.targets.I1"), "share"] == pytest.approx(0.3)
    assert table.loc[("outer district", "tree.targets.I3"), "share"] == pytest.approx(0.3)
    assert table.loc[("central district", "tree.targets.I1"), "share"] == pytest.approx(0.6)
    assert ("central district", "tree.targets.I3") not in table.index          # holds no points there
    assert table.loc[("A", "tree.targets.I3"), ["units", "mean_points", "share"]].tolist() == pytest.approx([2, 60.0, 0.6])
    assert ("A", "tree.targets.I1") not in table.index
    assert table.loc[("B", "tree.leader"), "share"] == pytest.approx(0.4)
    flagged = sorted(table.index[table["flagged"]])
    assert flagged == [("A", "tree.targets.I3"), ("B", "tree.targets.I3"), ("central district", "tree.targets.I1")]
    assert not concentration(detail, mini, max_share=0.6)["flagged"].any()       # 0.6 is not above 0.6
    with pytest.raises(perfsim.PerfsimError, match="above 0 and at most 1"):
        concentration(detail, mini, max_share=1.5)
    with pytest.raises(perfsim.PerfsimError, match=r"^the largest share of a unit's points must be above 0 and at "
                                                   r"most 1 \(got 0\)$"):
        concentration(detail, mini, max_share=0)
    whole = concentration(detail, mini, max_share=1.0)                  # 1 is allowed: nothing is above it
    assert not whole["flagged"].any()
    assert list(whole.columns) == ["unit_type", "path", "units", "mean_points", "share", "max_share", "flagged"]
    assert list(whole.index) == list(range(len(whole)))
    order = list(zip(-whole["share"].round(12), whole["unit_type"]))
    assert order == sorted(order)                                       # largest share first, then by type
    # the warning names each flagged indicator with its share and points, largest first
    from perfsim.core.engine.scoring import warn_concentration

    with pytest.warns(perfsim.PerfsimWarning) as said:
        warn_concentration(concentration(detail, mini, max_share=0.5), 0.5)
    assert str(said[0].message) == (
        "3 indicator(s) carry more than 50% of a unit's points after re-normalisation: I3 carries 60.0% of the "
        "points of A units (mean 60.0 points); I3 carries 60.0% of the points of B units (mean 60.0 points); I1 "
        "carries 60.0% of the points of central district units (mean 60.0 points)")
    # an indicator that holds less than one point is still listed
    small = score_detail(load_scheme_text("""
name: small
tree:
  points: 100
  children:
    targets: {points: 0.5, children: {I3: {rule: ratio, weight: 1}}}
    leader: {points: 99.5, source: leader_ratings, rule: rating}
"""), mini)
    assert concentration(small, mini).set_index(["unit_type", "path"]).loc[("A", "tree.targets.I3"), "share"] \
        == pytest.approx(0.005)


def test_audit_reports_concentration_of_the_baseline(capsys, tmp_path):
    """The baseline gives S04 (petitions closed on time) 31.8 of 100 points for every
    party-organ unit: the audit flags it, writes it and says it."""
    out = tmp_path / "a"
    assert main(["audit", "params/baseline.yaml", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(out / "concentration.csv", encoding="utf-8-sig")
    flagged = table[table["flagged"]]
    assert list(zip(flagged["unit_type"], flagged["path"])) == [("party_admin", "tree.targets.social.S04")]
    assert flagged["max_share"].iloc[0] == pytest.approx(7 / 22, abs=1e-9)
    assert "tree.targets.social.S04 (party_admin): 31.8%" in captured.out
    assert "S04 carries 31.8% of the points of party_admin units" in captured.err
    assert "S04 占综合党群类部门单位总分的 31.8%" in (out / "audit.html").read_text(encoding="utf-8")   # the scheme's label
