"""Data envelopment analysis against the published worked example of Cooper, Seiford and
Tone (2007), *Data Envelopment Analysis*, 2nd ed. (the 12 hospitals: inputs doctors and
nurses, outputs outpatients and inpatients; CCR efficiencies as printed), and BCC against
an independent linear program (the multiplier form, the dual of the envelopment form)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import perfsim
from perfsim.analyses.efficiency import cost_per_point, dea, disclosure, efficiency
from perfsim.cli import main
from perfsim.core.errors import PerfsimError, PerfsimWarning

DOCTORS_NURSES = np.array([[20, 151], [19, 131], [25, 160], [27, 168], [22, 158], [55, 255], [33, 235],
                           [31, 206], [30, 244], [50, 268], [53, 306], [38, 284]], dtype=float)
PATIENTS = np.array([[100, 90], [150, 50], [160, 55], [180, 72], [94, 66], [230, 90], [220, 88], [152, 80],
                     [190, 100], [250, 100], [260, 147], [250, 120]], dtype=float)
# Cooper, Seiford and Tone (2007): hospitals A-L, CCR efficiency
PUBLISHED_CCR = [1.000, 1.000, 0.883, 1.000, 0.763, 0.835, 0.902, 0.796, 0.960, 0.871, 0.955, 0.958]


def _multiplier(x: np.ndarray, y: np.ndarray, o: int, variable: bool) -> float:
    """max u'y_o - u0 s.t. v'x_o = 1, u'y_j - v'x_j - u0 <= 0, u, v >= 0 (u0 free under BCC)."""
    m, s = x.shape[1], y.shape[1]
    c = -np.r_[y[o], np.zeros(m), -1.0 if variable else 0.0]
    a_ub = np.c_[y, -x, -np.ones(len(x)) if variable else np.zeros(len(x))]
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(len(x)), A_eq=np.r_[np.zeros(s), x[o], 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * (s + m) + [(None, None) if variable else (0, 0)], method="highs")
    return -res.fun


def test_ccr_matches_the_published_hospital_example():
    result = dea(DOCTORS_NURSES, PATIENTS, "constant")
    assert np.allclose(np.round(result.theta, 3), PUBLISHED_CCR)
    assert list(np.flatnonzero(result.efficient)) == [0, 1, 3]          # A, B, D
    # each inefficient hospital's projection is a combination of efficient peers
    for o in np.flatnonzero(~result.efficient):
        assert set(np.flatnonzero(result.peers[o])) <= {0, 1, 3}
        projected = result.peers[o] @ DOCTORS_NURSES
        assert np.allclose(projected + result.input_slack[o], result.theta[o] * DOCTORS_NURSES[o], atol=1e-6)
        assert np.all(result.peers[o] @ PATIENTS >= PATIENTS[o] - 1e-6)


@pytest.mark.parametrize("returns", ["constant", "variable"])
def test_envelopment_equals_the_independent_multiplier_form(returns):
    theta = dea(DOCTORS_NURSES, PATIENTS, returns).theta
    dual = [_multiplier(DOCTORS_NURSES, PATIENTS, o, returns == "variable") for o in range(12)]
    assert np.allclose(theta, dual, atol=1e-7)


def test_bcc_is_at_least_ccr_and_sums_peers_to_one():
    ccr, bcc = dea(DOCTORS_NURSES, PATIENTS, "constant"), dea(DOCTORS_NURSES, PATIENTS, "variable")
    assert np.all(bcc.theta >= ccr.theta - 1e-9) and np.all(bcc.theta <= 1 + 1e-9)
    assert np.allclose(bcc.peers.sum(axis=1), 1.0)


def test_a_weakly_efficient_unit_shows_its_slack():
    # B uses the same nurses as A but more doctors for the same output: theta 1, a doctor slack of 10
    x = np.array([[10.0, 10.0], [20.0, 10.0], [10.0, 20.0]])
    y = np.ones((3, 1))
    result = dea(x, y, "constant")
    assert result.theta[1] == pytest.approx(1.0) and not result.efficient[1]
    assert result.input_slack[1] == pytest.approx([10.0, 0.0])


def test_bad_dea_input_is_an_error():
    """Each refusal whole; an output of 0 is allowed (a unit that did no such work), an
    input of 0, a missing value or a shape that does not fit is not."""
    shape = r"^DEA needs inputs and outputs as units x columns with the same units$"
    values = r"^DEA needs finite inputs above 0 and outputs at least 0$"
    for x, y, message in [(np.array([[0.0], [1.0]]), np.ones((2, 1)), values),
                          (np.ones((2, 1)), np.array([[1.0], [np.nan]]), values),
                          (np.array([[1.0], [np.inf]]), np.ones((2, 1)), values),
                          (np.ones((2, 1)), np.array([[1.0], [-0.5]]), values),
                          (np.ones(2), np.ones((2, 1)), shape), (np.ones((2, 1)), np.ones(2), shape),
                          (np.ones((3, 1)), np.ones((2, 1)), shape)]:
        with pytest.raises(PerfsimError, match=message):
            dea(x, y)
    with pytest.raises(PerfsimError, match=r"^returns 'increasing': one of constant, variable$"):
        dea(np.ones((2, 1)), np.ones((2, 1)), "increasing")
    zero = dea(np.array([[1.0], [1.0], [2.0]]), np.array([[0.0], [0.5], [2.0]]), "constant")
    assert np.allclose(zero.theta, [0.0, 0.5, 1.0])


def test_efficiency_on_the_bundled_world_and_its_disclosure(baseline):
    """Districts with their volumes (GDP and budget revenue, 亿元): DEA per category against
    the independent multiplier form; the cost per point and both disclosures."""
    world = perfsim.open_dataset(None)
    eff = efficiency(baseline, world, outputs=["indicator:E01", "indicator:E06"])
    assert set(eff["category"]) == {"district"} and len(eff) == 13
    assert (eff["ccr"] <= eff["bcc"] + 1e-9).all() and eff["ccr"].max() == pytest.approx(1.0)
    x = eff[["staff", "budget", "consumption"]].to_numpy()
    y = eff[["output_E01", "output_E06"]].to_numpy()
    assert np.allclose(eff["ccr"], [_multiplier(x, y, o, False) for o in range(len(eff))], atol=1e-7)
    assert np.allclose(eff["scale"], eff["ccr"] / eff["bcc"])
    # the input targets are the projection onto the frontier: theta x input - slack
    assert np.allclose(eff["target_staff"], eff["ccr"] * eff["staff"] - eff["slack_staff"])
    actual = world.actuals[(world.actuals["period"] == f"{world.years[-1]}-12") & (world.actuals["indicator_id"] == "E01")]
    assert np.allclose(eff.set_index("unit_id")["output_E01"],
                       actual.set_index("unit_id")["value"].reindex(eff["unit_id"]).to_numpy())
    cost = cost_per_point(baseline, world, draws=300, seed=1)
    assert ((cost["cost_q05"] <= cost["cost_per_point"] * 1.001) & (cost["cost_per_point"] <= cost["cost_q95"] * 1.001)).mean() > 0.9
    assert np.allclose(cost["cost_per_point"], cost["budget"] / cost["total"])
    table = disclosure(eff, cost)
    assert list(table.columns[:3]) == ["单位编号", "单位", "类别"] and len(table) == 13
    alone = disclosure(None, cost, world.units)
    assert len(alone) == 108 and "每分成本（万元）" in alone.columns and "综合效率（CCR）" not in alone.columns
    assert (alone.groupby("类别")["每分成本（万元）"].apply(lambda v: v.is_monotonic_increasing)).all()


def test_volume_outputs_find_the_productive_unit_where_a_score_ranks_by_smallness():
    """Six units of sizes 1-6 (every input proportional to size). Their work is
    productivity x size, productivity (1.0, 0.9, 0.8, 1.2, 0.7, 0.95); their scores are
    nearly equal. With the volume as output CCR is productivity / 1.2 (by hand: one output,
    proportional inputs): the size-4 unit is the frontier. With the score as output the
    smallest unit is the frontier and efficiency falls with size: the size ranking."""
    size = np.arange(1.0, 7.0)
    x = np.column_stack([100 * size, 5000 * size, 300 * size])
    productivity = np.array([1.0, 0.9, 0.8, 1.2, 0.7, 0.95])
    volume = dea(x, (productivity * size * 10)[:, None], "constant")
    assert np.allclose(volume.theta, productivity / 1.2)
    assert list(np.flatnonzero(volume.efficient)) == [3]
    score = dea(x, np.array([80.0, 81.0, 79.0, 80.0, 82.0, 80.0])[:, None], "constant")
    assert list(np.flatnonzero(score.efficient)) == [0]
    from scipy import stats

    assert stats.spearmanr(score.theta, size).statistic == pytest.approx(-1.0)


def test_score_outputs_are_warned_and_rates_refused(mini_scheme, mini):
    with pytest.warns(PerfsimWarning, match="are scores, not volumes of work"):
        eff = efficiency(mini_scheme, mini, outputs=["total"])
    assert len(eff) == 5
    with pytest.raises(PerfsimError, match="a rate or a lower-is-better indicator is no volume of work"):
        efficiency(mini_scheme, mini, outputs=["indicator:I3"])
    with pytest.raises(PerfsimError, match="a rate or a lower-is-better indicator is no volume of work"):
        efficiency(mini_scheme, mini, outputs=["indicator:I2"])
    with pytest.raises(PerfsimError, match="needs at least one output"):
        efficiency(mini_scheme, mini, outputs=[])
    with pytest.warns(PerfsimWarning, match="1 unit\\(s\\) have no value of output\\(s\\) indicator:I1"):
        volume = efficiency(mini_scheme, mini, outputs=["indicator:I1"])
    assert sorted(volume["unit_id"]) == ["U1", "U2", "U3", "U4"]            # U5 reports no I1
    assert volume.set_index("unit_id").loc["U1", "output_I1"] == 110.0


def test_a_flat_output_is_warned(mini_scheme, mini):
    units = mini.units.copy()
    units.loc[units["unit_id"] == "U2", ["staff", "budget", "consumption"]] = [3000, 90000, 7000]
    same = mini.replace(units=units)
    actuals = mini.actuals.copy()
    actuals.loc[(actuals["unit_id"] == "U2") & (actuals["indicator_id"] == "I1"), "value"] = 111.0
    with pytest.warns(PerfsimWarning, match="category district: output\\(s\\) indicator:I1 vary by less than 5%"):
        efficiency(mini_scheme, same.replace(actuals=actuals), outputs=["indicator:I1"])


def test_efficiency_command(tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["efficiency", "params/baseline.yaml", "--outputs", "indicator:E01,indicator:E06", "--draws", "200",
                 "--out", str(out)]) == 0
    eff = pd.read_csv(out / "efficiency.csv")
    assert {"output_E01", "output_E06", "ccr", "bcc", "scale", "peers"} <= set(eff.columns)
    assert (out / "disclosure.csv").exists() and (out / "cost_per_point.csv").exists()
    assert f"{int(eff['efficient'].sum())} / 13 个单位处在本类别的效率前沿上" in capsys.readouterr().out
    # without volumes: the cost per point alone, and no DEA
    assert main(["efficiency", "params/baseline.yaml", "--draws", "100", "--out", str(tmp_path / "c")]) == 0
    assert "未做数据包络分析" in capsys.readouterr().out
    assert not (tmp_path / "c" / "efficiency.csv").exists() and (tmp_path / "c" / "cost_per_point.csv").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        assert main(["efficiency", "params/baseline.yaml", "--outputs", "bogus", "--out", str(tmp_path / "x")]) == 2
        assert main(["efficiency", "params/baseline.yaml", "--draws", "0", "--out", str(tmp_path / "y")]) == 2


def test_the_protocol_analysis_passes_its_year_inputs_and_draws_on(baseline):
    """perfsim.analyse("efficiency", ...) gives the tables the functions give for the same
    year, inputs and draws (2023 is not the default year); without draws there is no cost
    table; with neither outputs nor draws it refuses, saying what to give."""
    import re

    from perfsim.analyses.efficiency import analysis

    world = perfsim.open_dataset(None)
    outputs = ["indicator:E01", "indicator:E06"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        got = analysis(baseline, world, year=2023, seed=3, outputs=outputs, draws=40, inputs=("staff", "budget"))
        eff = efficiency(baseline, world, 2023, inputs=("staff", "budget"), outputs=outputs)
        cost = cost_per_point(baseline, world, 40, 3, 2023)
        latest = efficiency(baseline, world, inputs=("staff", "budget"), outputs=outputs)
        alone = analysis(baseline, world, outputs=outputs)
    pd.testing.assert_frame_equal(got.tables["efficiency"], eff)
    pd.testing.assert_frame_equal(got.tables["cost_per_point"], cost)
    assert not np.allclose(eff["output_E01"], latest["output_E01"])          # 2023 is another year's data
    assert got.facts["inputs"] == ["staff", "budget"] and got.facts["efficient"] == int(eff["efficient"].sum())
    assert f"{got.facts['efficient']} of {len(eff)} units" in got.text("en")
    assert "cost_per_point" not in alone.tables and alone.facts["draws"] == 0
    # the Result whole: its name, titles, figure, facts, both texts, the table the page shows
    f = got.facts
    assert got.analysis == "efficiency" and dict(got.title) == {"zh": "行政效率与行政成本",
                                                                "en": "Administrative efficiency and cost"}
    chart = got.figures["efficiency"]
    assert (chart.draw, chart.tables, dict(chart.title)) == (
        "efficiency", ("efficiency", "cost_per_point"), {"zh": "效率前沿与每分成本", "en": "Frontier and cost per point"})
    assert alone.figures["efficiency"].tables == ("efficiency",)
    assert {k: f[k] for k in ("scheme", "inputs", "outputs", "draws", "units")} == {
        "scheme": baseline.name, "inputs": ["staff", "budget"], "outputs": outputs, "draws": 40, "units": len(eff)}
    per = cost["cost_per_point"]
    assert (f["ccr_median"], f["cost_median"], f["cost_min"], f["cost_max"]) == (
        eff["ccr"].median(), per.median(), per.min(), per.max())
    assert got.text("en") == (
        f"DEA (input-oriented; inputs staff, budget; outputs indicator:E01, indicator:E06): {f['efficient']} of "
        f"{len(eff)} units are on their category's frontier; median CCR efficiency {f['ccr_median']:.3f}. Budget per "
        f"point of the total: median {per.median():.0f} ten-thousand yuan (range {per.min():.0f} to {per.max():.0f}); "
        f"intervals over 40 uncertainty draws.")
    assert got.text("zh") == (
        f"数据包络分析（投入导向；投入：staff、budget；产出：indicator:E01、indicator:E06）：{f['efficient']} / {len(eff)} "
        f"个单位处在本类别的效率前沿上，综合效率中位数 {f['ccr_median']:.3f}。总分每分预算中位数 {per.median():.0f} 万元"
        f"（{per.min():.0f} 至 {per.max():.0f}），区间来自 40 次不确定性抽样。")
    assert got.shown == (("disclosure", "行政效率和行政成本公示表", "Efficiency and cost disclosure table"),)
    assert got.scenarios["scheme"] is baseline
    assert "综合效率（CCR）" in got.tables["disclosure"].columns           # the disclosure carries the DEA too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        costs_only = analysis(baseline, world, draws=20, seed=3)
    assert costs_only.text("en").startswith(
        "No DEA: a frontier needs volume outputs that grow with the work done (--outputs indicator:ID). Budget per")
    assert costs_only.text("zh").startswith("未做数据包络分析：效率前沿需要随工作量增长的产出（--outputs indicator:ID）。总分每分预算")
    assert "efficiency" not in costs_only.tables and costs_only.figures["efficiency"].tables == ("cost_per_point",)
    with pytest.raises(PerfsimError, match=re.escape(
            "nothing to compute: give volume outputs for DEA (--outputs indicator:ID,...) or draws for the cost "
            "per point (--draws N)")):
        analysis(baseline, world)


def test_efficiency_refuses_and_leaves_out_by_name(mini_scheme, mini):
    """Each refusal whole (unknown or no inputs, unknown output, a per-mille rate, no unit
    left); units without every input above 0 (0 or missing) left out with a warning that
    counts them and names the first; a score output read in the year asked for."""
    import re

    def refused(message, **kwargs):
        with pytest.raises(PerfsimError) as caught, warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            efficiency(mini_scheme, mini if "data" not in kwargs else kwargs.pop("data"), **kwargs)
        assert re.fullmatch(message, str(caught.value)), str(caught.value)

    refused(r"inputs bogus: choose from staff, budget, consumption", inputs=["bogus"], outputs=["indicator:I1"])
    refused(r"inputs \(none\): choose from staff, budget, consumption", inputs=[], outputs=["indicator:I1"])
    refused(re.escape("DEA needs at least one output: a volume of work, indicator:ID (the unit's year-end actual "
                      "of an amount or count indicator); without one, read the cost per point"), outputs=[])
    refused(r"outputs bogus: choose volumes indicator:ID from the indicators table, or \(with a warning\) scores "
            r"total, .*", outputs=["bogus"])
    permille = mini.indicators.copy()
    permille.loc[permille["indicator_id"] == "I1", "unit_of_measure"] = "‰"
    refused(r"output\(s\) indicator:I1: a rate or a lower-is-better indicator is no volume of work.*",
            outputs=["indicator:I1"], data=mini.replace(indicators=permille))
    nobody = mini.units.assign(staff=np.nan)
    refused(r".*units\.csv: no unit has staff, budget, consumption and indicator:I1: efficiency needs the units "
            r"table's reference columns and the outputs' values", outputs=["indicator:I1"],
            data=mini.replace(units=nobody))
    units = mini.units.copy()
    units.loc[units["unit_id"] == "U2", "staff"] = 0                  # 0 is no input
    units.loc[units["unit_id"] == "U3", "budget"] = np.nan            # nor is a missing one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eff = efficiency(mini_scheme, mini.replace(units=units), outputs=["indicator:I1"])
    said = [str(w.message) for w in caught if "above 0" in str(w.message)]
    assert said == ["2 unit(s) without staff, budget, consumption above 0 are left out of the efficiency analysis "
                    "(first: U3)"]
    assert sorted(eff["unit_id"]) == ["U1", "U4"] and list(eff.index) == [0, 1]
    small = mini.units.copy()
    small.loc[small["unit_id"] == "U2", "consumption"] = 0.5          # below 1 but above 0: kept
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        assert "U2" in set(efficiency(mini_scheme, mini.replace(units=small), outputs=["indicator:I1"])["unit_id"])


def test_the_disclosure_table_by_hand():
    """Two units in one category, the units table in another order than the cost table: the
    disclosure an office publishes, whole, with DEA (by CCR rank, then cost) and without it
    (by cost per point), rounded for reading; neither table given is refused."""
    eff = pd.DataFrame({"unit_id": ["B", "A"], "name": ["乙", "甲"], "category": ["c", "c"], "staff": [20.0, 10.0],
                        "budget": [400.0, 300.0], "consumption": [5.0, 4.0], "ccr": [0.81234, 1.0],
                        "bcc": [0.91234, 1.0], "scale": [0.89041, 1.0], "rank_ccr": [2, 1], "peers": ["A", ""]})
    cost = pd.DataFrame({"unit_id": ["A", "B"], "category": ["c", "c"], "budget": [300.0, 400.0],
                         "total": [90.456, 80.004], "cost_per_point": [3.31654, 4.99975],
                         "cost_q05": [3.21, 4.81], "cost_q95": [3.46, 5.27]})
    units = pd.DataFrame({"unit_id": ["B", "A"], "name": ["乙", "甲"], "staff": [20.0, 10.0], "consumption": [5.0, 4.0]})
    both = disclosure(eff, cost)
    assert both.to_dict("list") == {
        "单位编号": ["A", "B"], "单位": ["甲", "乙"], "类别": ["c", "c"], "人员编制": [10.0, 20.0],
        "预算（万元）": [300.0, 400.0], "综合消耗": [4.0, 5.0], "综合效率（CCR）": [1.0, 0.812],
        "纯技术效率（BCC）": [1.0, 0.912], "规模效率": [1.0, 0.89], "类别内效率排名": [1, 2], "标杆单位": ["", "A"],
        "每分成本（万元）": [3.3, 5.0], "每分成本 90% 区间": ["3.2-3.5", "4.8-5.3"]}
    assert list(both.index) == [0, 1]
    alone = disclosure(None, cost, units)
    assert alone.to_dict("list") == {
        "单位编号": ["A", "B"], "单位": ["甲", "乙"], "类别": ["c", "c"], "人员编制": [10.0, 20.0],
        "预算（万元）": [300.0, 400.0], "综合消耗": [4.0, 5.0], "总分": [90.46, 80.0], "每分成本（万元）": [3.3, 5.0],
        "每分成本 90% 区间": ["3.2-3.5", "4.8-5.3"]}
    assert list(alone.index) == [0, 1]
    with pytest.raises(PerfsimError, match=r"^a disclosure needs the efficiency table, or the cost per point and "
                                           r"the units$"):
        disclosure(None, cost)


def test_the_cost_per_point_is_the_budget_over_the_total_of_the_year_asked_for(baseline):
    world = perfsim.open_dataset(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        early = cost_per_point(baseline, world, draws=20, seed=2, year=2023)
        totals = perfsim.score(baseline, world, 2023).set_index("unit_id")["total"]
    assert np.allclose(early["total"], totals.reindex(early["unit_id"]).to_numpy())
    budget = world.units.set_index("unit_id")["budget"].reindex(early["unit_id"]).to_numpy()
    assert np.allclose(early["budget"], budget) and np.allclose(early["cost_per_point"], budget / early["total"])
    assert list(early["category"]) == list(world.units.set_index("unit_id")["category"].reindex(early["unit_id"]))
