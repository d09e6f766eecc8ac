"""A real office's data: optional columns, encodings, periods as offices write them,
Chinese sheet names, declared missing-data rules (hand-computed), outlier treatment
against scipy, and several years (panel ranks against per-year scores)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.cli import main
from perfsim.core.contract import DEFAULTS, REQUIRED_COLUMNS, normalise_period, normalise_year, validate_frames
from perfsim.core.engine import score, score_detail
from perfsim.core.errors import PerfsimError, PerfsimWarning
from perfsim.core.scheme import load_scheme_text
from perfsim.core.treat import treat

from ..conftest import MINI, MINI_SCHEME


# --------------------------------------------------------------------------- contract

@pytest.mark.parametrize("text, period", [
    ("2024-12", "2024-12"), ("2024-6", "2024-06"), ("2024/06", "2024-06"), ("2024年6月", "2024-06"),
    ("2024-06-30", "2024-06"), ("2024-06-01 00:00:00", "2024-06"), ("2024/6/30", "2024-06"),
    ("2024年6月30日", "2024-06"), ("2024", "2024-12"), ("2024年", "2024-12"), ("2024.0", "2024-12"),
    ("2024Q2", "2024-06"), ("2024-Q4", "2024-12"), ("2024年第三季度", "2024-09"),
    # not unambiguous: left as written, refused by validation
    ("2024-13", "2024-13"), ("Jun 2024", "Jun 2024"), ("24-06", "24-06"), ("45473", "45473"),
])
def test_periods_as_offices_write_them(text, period):
    assert normalise_period(text) == period


@pytest.mark.parametrize("text, year", [("2024", "2024"), ("2024.0", "2024"), ("2024年", "2024"),
                                        ("二〇二四", "二〇二四")])
def test_years_as_offices_write_them(text, year):
    assert normalise_year(text) == year


def _minimal_frames() -> dict[str, pd.DataFrame]:
    """Only the required columns of the required tables."""
    units = pd.DataFrame({"unit_id": ["A", "B", "C"], "category": ["x", "x", "x"]})
    indicators = pd.DataFrame({"indicator_id": ["I1"], "direction": ["higher"]})
    targets = pd.DataFrame({"year": ["2024"] * 3, "unit_id": ["A", "B", "C"], "indicator_id": ["I1"] * 3,
                            "target": ["10", "10", "10"]})
    actuals = pd.DataFrame({"period": ["2024"] * 3, "unit_id": ["A", "B", "C"], "indicator_id": ["I1"] * 3,
                            "value": ["12", "8", "5"]})
    return {"units": units, "indicators": indicators, "targets": targets, "actuals": actuals}


def test_optional_columns_take_documented_defaults():
    data = validate_frames(_minimal_frames())
    assert data.defaults["units"] == ("name", "name_en", "kind", "district_type", "staff", "budget",
                                      "consumption")
    assert list(data.units["name"]) == ["A", "B", "C"]            # name defaults to the id
    assert set(data.units["kind"]) == {DEFAULTS["units"]["kind"]}
    assert set(data.indicators["frequency"]) == {"annual"}
    assert set(data.targets["method"]) == {"unspecified"}
    assert list(data.actuals["period"]) == ["2024-12"] * 3        # a year is the year's figure
    scheme = load_scheme_text("name: s\ntree: {points: 100, children: {I1: {points: 100, rule: ratio}}}\n")
    table = score(scheme, data)
    assert dict(zip(table["unit_id"], table["total"])) == {"A": 100.0, "B": 80.0, "C": 50.0}


def test_every_missing_column_in_one_message():
    frames = _minimal_frames()
    frames["targets"] = frames["targets"].drop(columns=["unit_id", "target"])
    with pytest.raises(PerfsimError) as err:
        validate_frames(frames)
    assert "missing columns 'unit_id', 'target' (required: " + ", ".join(REQUIRED_COLUMNS["targets"]) in str(err.value)
    assert "headed in Chinese: 单位编码, 目标值" in str(err.value)


def test_unknown_columns_are_reported_not_dropped_silently():
    frames = _minimal_frames()
    frames["indicators"] = frames["indicators"].assign(frequence="monthly")     # a typo
    with pytest.warns(PerfsimWarning, match="column\\(s\\) 'frequence' are not part of the contract"):
        validate_frames(frames)


def test_other_unit_kinds_are_allowed_unless_the_scheme_lists_kinds():
    frames = _minimal_frames()
    frames["units"] = frames["units"].assign(kind=["街道", "国有企业", "district"])
    data = validate_frames(frames)
    tree = "tree: {points: 100, children: {I1: {points: 100, rule: ratio}}}\n"
    assert len(score(load_scheme_text("name: s\n" + tree), data)) == 3
    with pytest.raises(PerfsimError, match="'街道' is not one of the unit kinds in key 'unit_kinds'"):
        score(load_scheme_text("name: s\nunit_kinds: [district]\n" + tree), data)


def test_a_scheme_that_reads_a_defaulted_column_is_refused():
    data = validate_frames(_minimal_frames())
    scheme = load_scheme_text("name: s\ntree: {points: 100, children: {I1: {points: 100, rule: ratio, "
                              "applies_to: {district_type: [central]}}}}\n")
    with pytest.raises(PerfsimError, match="applies_to.district_type': .* has no column 'district_type'"):
        score(scheme, data)


def test_gbk_folder_is_detected_and_scores_like_utf8(tmp_path, mini_scheme):
    folder = tmp_path / "gbk"
    shutil.copytree(MINI, folder)
    for path in folder.glob("*.csv"):
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    assert "中心城区甲".encode("gbk") in (folder / "units.csv").read_bytes()
    gbk = perfsim.load_dataset(folder)
    assert list(gbk.units["name"]) == list(perfsim.load_dataset(MINI).units["name"])
    pd.testing.assert_frame_equal(score(mini_scheme, gbk), score(mini_scheme, perfsim.load_dataset(MINI)))


def test_encoding_option(tmp_path, capsys):
    folder = tmp_path / "gbk"
    shutil.copytree(MINI, folder)
    for path in folder.glob("*.csv"):
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    assert main(["validate", str(MINI_SCHEME), "--data", str(folder), "--encoding", "gbk"]) == 0
    assert main(["validate", str(MINI_SCHEME), "--data", str(folder), "--encoding", "utf-8"]) == 2
    assert "units.csv: not utf-8 text" in capsys.readouterr().err
    assert main(["validate", str(MINI_SCHEME), "--data", str(folder), "--encoding", "klingon"]) == 2
    assert "'klingon' is not a known text encoding" in capsys.readouterr().err


def test_workbook_with_chinese_sheet_names_and_excel_dates(tmp_path, mini_scheme):
    """An office workbook: sheets named in Chinese, periods as Excel date cells, years as
    number cells, no optional columns."""
    import datetime

    from openpyxl import Workbook

    mini = perfsim.load_dataset(MINI)
    book = Workbook()
    book.remove(book.active)
    names = {"units": "单位", "indicators": "指标", "targets": "目标", "actuals": "实绩",
             "leader_ratings": "领导评价", "satisfaction": "满意度", "adjustments": "加减分", "special": "专项"}
    for table, sheet_name in names.items():
        frame = mini.tables[table]
        keep = [c for c in frame.columns if c in REQUIRED_COLUMNS[table]
                or (table, c) in {("satisfaction", "respondents"), ("units", "kind"), ("units", "name"),
                                  ("adjustments", "item"), ("adjustments", "points")}]
        sheet = book.create_sheet(sheet_name)
        sheet.append(keep)
        for row in frame[keep].itertuples(index=False):
            cells = []
            for column, value in zip(keep, row):
                if column == "period":            # an Excel date cell, last day of the month
                    y, m = map(int, value.split("-"))
                    value = datetime.date(y, m, 28)
                elif column in ("year", "target", "value", "rating", "score", "points", "respondents"):
                    value = None if pd.isna(value) else float(value)
                cells.append(value)
            sheet.append(cells)
    path = tmp_path / "office.xlsx"
    book.save(path)
    data = perfsim.load_dataset(path)
    assert data.sources["units"].endswith("sheet '单位'")
    assert set(data.actuals["period"]) == set(mini.actuals["period"])
    pd.testing.assert_frame_equal(score(mini_scheme, data), score(mini_scheme, mini))


# --------------------------------------------------------------------------- missing data

def _missing_case() -> perfsim.Dataset:
    """Four units of one category, two indicators (target 10 each). Unit D has no 2025
    actual of I1; its 2024 actual was 7. Unit C has no actual of I1 in either year.

    I1 ratios of the donors A, B: 10/10 = 1, 20/10 = 2 (C and D missing)."""
    units = pd.DataFrame({"unit_id": list("ABCD"), "category": ["k"] * 4})
    indicators = pd.DataFrame({"indicator_id": ["I1", "I2"], "direction": ["higher", "higher"]})
    targets = pd.DataFrame([(2025, u, i, 10) for u in "ABCD" for i in ("I1", "I2")],
                           columns=["year", "unit_id", "indicator_id", "target"])
    actuals = pd.DataFrame([("2025-12", "A", "I1", 10), ("2025-12", "B", "I1", 20),
                            ("2025-12", "A", "I2", 10), ("2025-12", "B", "I2", 10),
                            ("2025-12", "C", "I2", 8), ("2025-12", "D", "I2", 5),
                            ("2024-12", "D", "I1", 7)], columns=["period", "unit_id", "indicator_id", "value"])
    return validate_frames({"units": units, "indicators": indicators, "targets": targets, "actuals": actuals})


def _scheme(missing: str) -> perfsim.Scheme:
    return load_scheme_text(f"""name: m
tree:
  points: 100
  children:
    targets:
      points: 100
      {missing}
      children:
        I1: {{weight: 1, rule: ratio, cap: 10}}
        I2: {{weight: 1, rule: ratio, cap: 10}}
""")


# totals of C and D by rule: I2 scores C 0.8, D 0.5 (the mean of the two leaves x 100)
@pytest.mark.parametrize("missing, total_c, total_d, rules", [
    ("", 40.0, 25.0, {"zero"}),                                      # the default of ratio: 0
    ("missing: zero", 40.0, 25.0, {"zero"}),
    ("missing: exclude", 80.0, 50.0, {"exclude"}),                   # I2 alone carries the points
    # median of the ratios 1, 2 is 1.5: imputed actual 15, score 1.5
    ("{missing: impute, impute: category_median}", 115.0, 100.0, {"impute:category_median"}),
    ("{missing: impute, impute: category_mean}", 115.0, 100.0, {"impute:category_mean"}),
    # D's 2024 actual 7 against the 2025 target: 0.7; C has no earlier actual: excluded
    ("{missing: impute, impute: previous_year}", 80.0, 60.0, {"impute:previous_year", "exclude"}),
    # the unit's other indicator under the same parent: C 0.8, D 0.5
    ("{missing: impute, impute: unit_mean}", 80.0, 50.0, {"impute:unit_mean"}),
])
def test_missing_data_rules_by_hand(missing, total_c, total_d, rules):
    text = missing if not missing.startswith("{") else missing.strip("{}").replace(", ", "\n      ")
    scheme = _scheme(text)
    data = _missing_case()
    with pytest.warns(PerfsimWarning, match="2 assessed cell\\(s\\) in year 2025 have no actual"):
        detail = score_detail(scheme, data, 2025)
    totals = dict(zip(detail.table["unit_id"], detail.table["total"]))
    assert totals["A"] == pytest.approx(100.0) and totals["B"] == pytest.approx(150.0)
    assert totals["C"] == pytest.approx(total_c) and totals["D"] == pytest.approx(total_d)
    table = detail.missing
    assert list(table["unit_id"]) == ["C", "D"] and set(table["indicator_id"]) == {"I1"}
    assert set(table["rule"]) == rules
    if "category" in missing:
        assert list(table["value"]) == [15.0, 15.0] and list(table["score"]) == [1.5, 1.5]
    if "previous_year" in missing:
        row = table.set_index("unit_id")
        assert row.loc["D", "value"] == 7.0 and row.loc["D", "score"] == pytest.approx(0.7)
        assert np.isnan(row.loc["C", "score"]) and row.loc["C", "note"] == "no value to impute by previous_year"


def test_category_mean_and_median_differ_with_three_donors():
    data = _missing_case()
    actuals = pd.concat([data.actuals, pd.DataFrame({"period": ["2025-12"], "unit_id": ["C"],
                                                     "indicator_id": ["I1"], "value": [60.0]})], ignore_index=True)
    data = data.replace(actuals=actuals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        med = score_detail(_scheme("missing: impute\n      impute: category_median"), data, 2025).missing
        mean = score_detail(_scheme("missing: impute\n      impute: category_mean"), data, 2025).missing
    assert med["score"].tolist() == [2.0] and mean["score"].tolist() == [3.0]   # ratios 1, 2, 6


def test_score_writes_missing_csv_and_validate_lists_it(tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(MINI, folder)
    actuals = pd.read_csv(folder / "actuals.csv")
    actuals[~((actuals.unit_id == "U4") & (actuals.indicator_id == "I1"))].to_csv(folder / "actuals.csv", index=False)
    assert main(["score", str(MINI_SCHEME), "--data", str(folder), "--out", str(tmp_path / "o" / "s.csv"),
                 "--quiet"]) == 0
    out = capsys.readouterr()
    assert "missing actuals: 1 cell(s): 1 scored 0 (missing: zero)" in out.out
    assert "perfsim: warning: 1 assessed cell(s) in year 2025 have no actual" in out.err
    missing = pd.read_csv(tmp_path / "o" / "missing.csv", encoding="utf-8-sig")
    assert missing[["unit_id", "indicator_id", "rule", "score"]].values.tolist() == [["U4", "I1", "zero", 0.0]]
    assert main(["validate", str(MINI_SCHEME), "--data", str(folder)]) == 0
    assert "missing actuals: 1 (1 scored 0 (missing: zero))" in capsys.readouterr().out


# --------------------------------------------------------------------------- treatment

def test_treatment_follows_coinr_and_scipy():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(10, 1, 40), [40.0, 60.0]])
    s0, k0 = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    assert abs(s0) > 2 and k0 > 3.5                            # fails COINr's check
    out = treat(x, max_points=5)
    assert out.method == "winsorise" and out.points == 2       # the two outliers, one at a time
    assert out.values.max() == np.sort(x)[-3]                  # both set to the next value inward
    assert out.skew_after == pytest.approx(stats.skew(out.values, bias=False))
    assert abs(out.skew_after) < 2 or out.kurtosis_after < 3.5
    few = treat(x, max_points=1)                               # not enough: log of the original
    lo, hi = x.min(), x.max()
    assert few.method == "log" and np.allclose(few.values, np.log(x - lo + 0.01 * (hi - lo)))
    calm = rng.normal(0, 1, 50)
    assert treat(calm).method == "none" and np.array_equal(treat(calm).values, calm)


# --------------------------------------------------------------------------- several years

def test_panel_ranks_equal_per_year_scores(world):
    scheme = perfsim.load_scenario("params/baseline.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        result = perfsim.panel(scheme, world)
        assert len(result.years) >= 3
        for year in result.years:
            own = score(scheme, world, year).set_index("unit_id")
            part = result.scores[result.scores["year"] == year].set_index("unit_id")
            assert (part.loc[own.index, "rank"] == own["rank"]).all()
            assert (result.wide.set_index("unit_id").loc[own.index, f"rank_{year}"] == own["rank"]).all()
    a, b = result.years[-2:]
    row = result.persistence.query("year_from == @a and category == 'district'").iloc[0]
    left = result.scores.query("year == @a and category == 'district'").set_index("unit_id")["rank"]
    right = result.scores.query("year == @b and category == 'district'").set_index("unit_id")["rank"]
    assert row["tau"] == pytest.approx(stats.kendalltau(left, right.loc[left.index]).statistic)
    assert row["tau"] > 0          # persistent unit effects: ranks carry over from year to year


def test_history_targets_ratchet():
    data = _missing_case()
    targets = perfsim.history_targets(data, 2026, "ratchet", growth=0.1)
    got = targets.set_index(["unit_id", "indicator_id"])["target"]
    assert got.loc[("B", "I1")] == pytest.approx(22.0) and got.loc[("D", "I2")] == pytest.approx(5.5)
    assert set(targets["method"]) == {"history"}


def test_track_shows_each_unit_against_its_own_history(world):
    table = perfsim.progress(world, "2025-06")
    row = table[(table["judged_period"] == "2025-06") & table["actual"].notna()].iloc[0]
    before = world.actuals.query("period == '2024-06' and unit_id == @row.unit_id "
                                 "and indicator_id == @row.indicator_id")["value"].iloc[0]
    lower = world.indicators.set_index("indicator_id").loc[row.indicator_id, "direction"] == "lower"
    assert row.last_year == before
    assert row.vs_last_year == pytest.approx(before / row.actual if lower else row.actual / before)


def test_synthetic_worlds_are_marked(tmp_path):
    from perfsim.sources import synth

    folder = synth.write(tmp_path / "w", seed=3)
    assert perfsim.load_dataset(folder).synthetic
    (folder / "SYNTHETIC_README.txt").unlink()          # a user's copy is data like any other
    assert not perfsim.load_dataset(folder).synthetic
    book = synth.write(tmp_path / "b", seed=3, fmt="xlsx")
    assert book.name == "b.xlsx" and perfsim.load_dataset(book).synthetic


def test_two_sheets_for_one_table_are_refused(tmp_path):
    from perfsim.sources.readers import write_dataset

    mini = perfsim.load_dataset(MINI)
    path = write_dataset({**mini.tables, "单位": mini.units}, tmp_path / "two", fmt="xlsx")
    with pytest.raises(PerfsimError, match="sheets 'units', '单位' both hold table 'units': keep one"):
        perfsim.load_dataset(path)


def test_year_all_skips_a_year_the_scheme_cannot_score(tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(MINI, folder)
    actuals = pd.read_csv(folder / "actuals.csv", dtype=str)
    earlier = actuals.assign(period=actuals["period"].str.replace("2025", "2024"))
    pd.concat([earlier, actuals]).to_csv(folder / "actuals.csv", index=False)
    assert main(["score", str(MINI_SCHEME), "--data", str(folder), "--year", "all", "--out",
                 str(tmp_path / "o" / "s.csv"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "perfsim: warning: year 2024 not scored:" in err and "needs table" in err
    assert set(pd.read_csv(tmp_path / "o" / "s.csv", encoding="utf-8-sig")["year"]) == {2025}


def test_history_targets_refuse_what_they_cannot_do():
    data = _missing_case()
    with pytest.raises(PerfsimError, match="no year before 2024"):
        perfsim.history_targets(data, 2024)
    with pytest.raises(PerfsimError, match="unknown history method 'median'"):
        perfsim.history_targets(data, 2026, "median")


def test_previous_year_imputation_without_any_earlier_year_excludes_both_cells():
    data = _missing_case()
    data = data.replace(actuals=data.actuals[data.actuals["period"] != "2024-12"].reset_index(drop=True))
    assert 2024 not in data.years
    with pytest.warns(PerfsimWarning, match="2 excluded, weights re-normalised"):
        detail = score_detail(_scheme("missing: impute\n      impute: previous_year"), data, 2025)
    table = detail.missing.set_index("unit_id")
    assert list(table.index) == ["C", "D"] and set(table["rule"]) == {"exclude"}
    assert (table["note"] == "no value to impute by previous_year").all()
    totals = dict(zip(detail.table["unit_id"], detail.table["total"]))
    assert totals["C"] == pytest.approx(80.0) and totals["D"] == pytest.approx(50.0)     # I2 alone


def test_missing_summary_names_each_rule_with_its_count():
    from perfsim.core.engine import missing_summary

    table = pd.DataFrame({"rule": ["zero", "impute:unit_mean", "zero", "exclude", "impute:category_median"]})
    assert missing_summary(table) == ("1 excluded, weights re-normalised (missing: exclude), "
                                      "1 imputed by category_median, 1 imputed by unit_mean, "
                                      "2 scored 0 (missing: zero)")


def test_unit_mean_imputation_averages_the_units_own_siblings_by_hand():
    """Three indicators, target 10 each. C lacks I1: its own I2 0.8 and I3 0.6 give 0.7.
    D lacks I1 and I3: only its own I2 (0.5) is a donor, for both."""
    base = _missing_case()
    indicators = pd.DataFrame({"indicator_id": ["I1", "I2", "I3"], "direction": ["higher"] * 3})
    targets = pd.DataFrame([(2025, u, i, 10) for u in "ABCD" for i in ("I1", "I2", "I3")],
                           columns=["year", "unit_id", "indicator_id", "target"])
    extra = pd.DataFrame([("2025-12", "A", "I3", 10), ("2025-12", "B", "I3", 10), ("2025-12", "C", "I3", 6)],
                         columns=["period", "unit_id", "indicator_id", "value"])
    actuals = pd.concat([base.actuals[base.actuals["period"] == "2025-12"], extra], ignore_index=True)
    data = validate_frames({"units": base.units, "indicators": indicators, "targets": targets, "actuals": actuals})
    scheme = load_scheme_text("""name: m
tree:
  points: 100
  children:
    targets:
      points: 100
      missing: impute
      impute: unit_mean
      children:
        I1: {weight: 1, rule: ratio, cap: 10}
        I2: {weight: 1, rule: ratio, cap: 10}
        I3: {weight: 1, rule: ratio, cap: 10}
""")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        detail = score_detail(scheme, data, 2025)
    scores = detail.missing.set_index(["unit_id", "indicator_id"])["score"]
    assert scores[("C", "I1")] == pytest.approx(0.7)
    assert scores[("D", "I1")] == pytest.approx(0.5) and scores[("D", "I3")] == pytest.approx(0.5)
    totals = dict(zip(detail.table["unit_id"], detail.table["total"]))
    assert totals["C"] == pytest.approx(70.0) and totals["D"] == pytest.approx(50.0)
    assert totals["A"] == pytest.approx(100.0) and totals["B"] == pytest.approx(400 / 3)
