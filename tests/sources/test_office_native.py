"""Office workbooks as offices write them, imported without hand edits (issue 27): Chinese
values of every enumeration, value maps that extend them, long sheets without a year
(constants), blank optional columns, every problem of a workbook in one run, no special
sheet, the template a clerk fills in, a zip bomb and a large workbook under a memory cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

import perfsim
from perfsim.cli import main
from perfsim.core.contract import VALUE_ALIASES, translate_values, validate_frames
from perfsim.core.errors import PerfsimError, PerfsimErrors
from perfsim.sources.importer import write_template

from ..bigbook import big_world_book, write_book, zip_bomb
from ..conftest import ROOT

SCHEME = """\
name: office
tree:
  points: 100
  children:
    targets:
      points: 70
      children:
        gdp: {weight: 1, rule: ratio, cap: 1.2}
        accidents: {weight: 1, rule: ratio}
    leader: {points: 10, source: leader_ratings, rule: rating}
    satisfaction: {points: 20, source: satisfaction, rule: rating}
    special:
      points: 5
      extra: true
      applies_to: {kind: [district]}
      children:
        contribution: {source: special, facet: contribution, rule: rating, weight: 1}
adjustments:
  bonus: {cap: 3}
  deduction: {cap: 5}
  veto: true
"""

UNITS = [("单位名称", "单位类型", "考核类别"), ("甲区", "区", "区县"), ("乙区", "区", "区县"),
         ("财政局", "市直部门", "党群部门"), ("商务局", "市直部门", "党群部门")]
INDICATORS = [("指标编码", "指标名称", "方向", "报送频率", "指标类型", "计量单位"),
              ("gdp", "地区生产总值", "正向", "年度", "常规指标", "亿元"),
              ("accidents", "安全生产事故", "逆向", "季度", "常规指标", "起")]
#: the office's wide sheet: two header rows, raters as columns
WIDE = [("单位", "地区生产总值", None, "安全生产事故", None, "张副市长", "李副市长"),
        (None, "目标", "完成", "目标", "完成", None, None),
        ("甲区", 100, 110, 10, 8, 90, 88), ("乙区", 50, 52, 20, 25, 85, 80),
        ("财政局", 10, 9, 5, 5, 80, 82), ("商务局", 10, 12, 5, 4, 70, 75)]
SATISFACTION = [("单位", "调查群体", "满意度得分", "样本数"), ("甲区", "市民", 85.5, 300), ("乙区", "市民", 80, 280),
                ("财政局", "企业", 90, 120), ("商务局", "企业", 88, 100)]
ADJUSTMENTS = [("单位", "加减分类型", "事项", "分值"), ("甲区", "加分", "国家级表彰", 1.0),
               ("乙区", "减分", "安全事故", 2.0), ("商务局", "一票否决", "重大事故", None)]

MAPPING = """\
name: 区县与部门 2025
indicators: {}
values:
  category: {区县: district, 党群部门: party_admin}
sheets:
  - {sheet: 单位, table: units, headers: {unit_id: 单位名称, name: 单位名称}}
  - {sheet: 指标, table: indicators}
  - sheet: 考核数据
    year: 2025
    header_rows: 2
    unit_column: 单位
    columns:
      地区生产总值/目标: {table: targets, indicator: gdp}
      地区生产总值/完成: {table: actuals, indicator: gdp}
      安全生产事故/目标: {table: targets, indicator: accidents}
      安全生产事故/完成: {table: actuals, indicator: accidents}
      张副市长: {table: leader_ratings, rater: zhang}
      李副市长: {table: leader_ratings, rater: li}
  - sheet: 满意度
    table: satisfaction
    headers: {unit_id: 单位, group: 调查群体, score: 满意度得分, respondents: 样本数}
    constants: {year: 2025}
  - sheet: 加减分
    table: adjustments
    headers: {unit_id: 单位, type: 加减分类型, item: 事项, points: 分值}
    constants: {year: 2025}
"""


def _book(path: Path, sheets: dict[str, list[tuple]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    book.save(path)
    return path


@pytest.fixture()
def office(tmp_path):
    # the mapping declares no indicator: they come from the 指标 sheet, whose values are Chinese
    text = MAPPING.replace("indicators: {}\n", "")
    (tmp_path / "mapping.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "scheme.yaml").write_text(SCHEME, encoding="utf-8")
    book = _book(tmp_path / "office.xlsx", {"单位": UNITS, "指标": INDICATORS, "考核数据": WIDE,
                                            "满意度": SATISFACTION, "加减分": ADJUSTMENTS})
    return tmp_path, book


def _import(folder: Path, book: Path, capsys=None) -> tuple[int, str]:
    code = main(["import", str(book), "--mapping", str(folder / "mapping.yaml"), "--out", str(folder / "data")])
    return code, (capsys.readouterr().err if capsys else "")


def test_chinese_values_long_sheets_without_a_year_and_no_special_sheet_import_and_score(office, capsys):
    folder, book = office
    code, err = _import(folder, book, capsys)
    assert code == 0, err
    data = perfsim.load_dataset(folder / "data")
    units = data.units.set_index("unit_id")
    assert units.loc["甲区", "kind"] == "district" and units.loc["财政局", "kind"] == "department"
    assert units.loc["甲区", "category"] == "district" and units.loc["商务局", "category"] == "party_admin"
    ind = data.indicators.set_index("indicator_id")
    assert ind.loc["gdp", "direction"] == "higher" and ind.loc["accidents", "direction"] == "lower"
    assert ind.loc["gdp", "frequency"] == "annual" and ind.loc["accidents", "frequency"] == "quarterly"
    assert set(data.satisfaction["year"]) == {2025} and set(data.adjustments["year"]) == {2025}
    adj = data.adjustments.set_index("unit_id")["type"]
    assert adj.to_dict() == {"甲区": "bonus", "乙区": "deduction", "商务局": "veto"}
    assert not data.has("special")
    # scored by the scheme as it is: applies_to {kind: [district]} matches the 区 units,
    # the absent special table adds 0 and is said and listed
    code = main(["score", str(folder / "scheme.yaml"), "--data", str(folder / "data"),
                 "--out", str(folder / "s" / "scores.csv")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "table 'special' has no rows for year 2025" in captured.err and "adds 0 points for 2 unit(s)" in captured.err
    assert "2 without data (no table: an extra component adds 0)" in captured.out
    missing = pd.read_csv(folder / "s" / "missing.csv", encoding="utf-8-sig")
    absent = missing[missing["rule"] == "absent"]
    assert sorted(absent["unit_id"]) == ["乙区", "甲区"] and set(absent["path"]) == {"tree.special.contribution"}
    scores = pd.read_csv(folder / "s" / "scores.csv", encoding="utf-8-sig").set_index("unit_id")
    # 甲区 by hand: gdp min(110/100, 1.2) = 1.1, accidents 10/8 -> capped 1: 35 x 2.1 = 73.5;
    # leader (90 + 88) / 2 / 100 x 10 = 8.9; satisfaction 85.5 / 100 x 20 = 17.1; bonus 1; special 0
    assert scores.loc["甲区", "total"] == pytest.approx(73.5 + 8.9 + 17.1 + 1.0)
    assert scores.loc["甲区", "special"] == 0
    assert scores.loc["乙区", "deduction"] == 2.0 and bool(scores.loc["商务局", "veto"])


def test_a_value_map_extends_the_built_in_chinese_forms():
    frame = pd.DataFrame({"direction": ["正向", "逆向", "越小越好", "上升"], "kind": ["常规指标"] * 4})
    out = translate_values(frame.copy(), "indicators", {"direction": {"上升": "higher"}})
    assert list(out["direction"]) == ["higher", "lower", "lower", "higher"]
    assert list(out["kind"]) == ["continuing"] * 4
    unmapped = translate_values(frame.copy(), "indicators")
    assert list(unmapped["direction"]) == ["higher", "lower", "lower", "上升"]      # left for validation


def test_an_unknown_value_names_its_cell_and_the_chinese_forms(office, capsys):
    folder, _ = office
    bad = [list(r) for r in INDICATORS]
    bad[2][2] = "向下"
    book = _book(folder / "office.xlsx", {"单位": UNITS, "指标": bad, "考核数据": WIDE, "满意度": SATISFACTION,
                                          "加减分": ADJUSTMENTS})
    code, err = _import(folder, book, capsys)
    assert code == 2
    assert ("office.xlsx, sheet '指标', row 3, column 'direction': '向下': must be one of higher, lower "
            "(or in Chinese: 正向=higher, 逆向=lower)") in err


def test_every_problem_of_a_workbook_in_one_run(office, capsys):
    """Five problems in four sheets: one run names them all, each with its sheet and cell."""
    folder, _ = office
    indicators = [list(r) for r in INDICATORS]
    indicators[1][3] = "每两月"                                   # frequency not allowed
    wide = [list(r) for r in WIDE]
    wide[2][2] = "110亿"                                          # not a number
    wide[4][5] = 120                                              # a rating above 100
    satisfaction = [list(r) for r in SATISFACTION]
    satisfaction[2][0] = "丙区"                                   # a unit not in the list
    adjustments = [list(r) for r in ADJUSTMENTS]
    adjustments[1][1] = "奖励"                                    # no such type
    book = _book(folder / "office.xlsx", {"单位": UNITS, "指标": indicators, "考核数据": wide,
                                          "满意度": satisfaction, "加减分": adjustments})
    code, err = _import(folder, book, capsys)
    lines = err.splitlines()
    assert code == 2 and all(line.startswith("perfsim: error: ") for line in lines)
    assert lines[0].startswith("perfsim: error: 5 problems in the import of")
    assert "sheet '考核数据', cell C3: '110亿' is not a number" in err
    assert "sheet '满意度', row 3: unit '丙区' is not in the units list" in err
    assert "sheet '指标', row 2, column 'frequency': '每两月': must be one of monthly, quarterly, annual" in err
    assert "sheet '考核数据', cell F5" in err and "must be between 0 and 100" in err
    assert "sheet '加减分', row 2, column 'type': '奖励': must be one of bonus, deduction, veto" in err
    assert not (folder / "data").exists()                                  # nothing written


def test_blank_optional_columns_take_their_defaults():
    frames = {
        "units": pd.DataFrame({"unit_id": ["A", "B"], "name": ["甲", ""], "kind": ["", ""], "category": ["c", "c"],
                               "district_type": ["", ""]}),
        "indicators": pd.DataFrame({"indicator_id": ["I1"], "direction": ["正向"], "kind": [""], "frequency": [""],
                                    "visibility": [""]}),
        "targets": pd.DataFrame({"year": ["2025", "2025"], "unit_id": ["A", "B"], "indicator_id": ["I1", "I1"],
                                 "target": ["1", "1"], "method": ["自报", ""]}),
        "actuals": pd.DataFrame({"period": ["2025年12月"], "unit_id": ["A"], "indicator_id": ["I1"], "value": ["1"]}),
    }
    with pytest.warns(UserWarning) as seen:
        data = validate_frames(frames)
    units = data.units.set_index("unit_id")
    assert units.loc["B", "name"] == "B" and units.loc["A", "name"] == "甲"     # name defaults to the id
    assert set(units["kind"]) == {"unit"} and data.defaulted("units", "kind")    # all blank = absent
    row = data.indicators.iloc[0]
    assert (row["direction"], row["kind"], row["frequency"], row["visibility"]) == (
        "higher", "continuing", "annual", "visible")
    assert list(data.targets["method"]) == ["self", "unspecified"]
    assert any("1 empty cell(s) of column 'method' take its default ('unspecified'; rows 3)" in str(w.message)
               for w in seen)


def test_template_filled_by_a_clerk_imports_and_the_untouched_one_says_it_is_empty(tmp_path, capsys):
    book_path, mapping = write_template(tmp_path / "t")
    code = main(["import", str(book_path), "--mapping", str(mapping), "--out", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert code == 2 and "the template is empty: its 11 example row(s) are skipped" in err
    assert len(err.splitlines()) == 1
    book = load_workbook(book_path)
    notes = [tuple(c.value for c in row) for row in book["说明"].iter_rows()]
    head = notes.index(("工作表", "列（表头）", "必填", "可选值", "默认值（留空时）", "说明", "英文列名 (contract column)"))
    listed = {(r[0], r[6]): r for r in notes[head + 1:]}
    assert listed[("指标", "direction")][2] == "是" and listed[("指标", "direction")][3] == "正向、逆向、higher、lower"
    assert listed[("指标", "frequency")][4] == "年度"                     # the default, in Chinese
    assert listed[("单位", "name")][4] == "同单位编码"
    lists = {(ws.title, str(dv.sqref)): dv.formula1 for ws in book.worksheets for dv in ws.data_validations.dataValidation}
    assert lists[("指标", "E2:E2000")] == '"正向,逆向,higher,lower"'
    assert lists[("加减分", "C2:C2000")] == '"加分,减分,一票否决,bonus,deduction,veto"'
    assert ("单位", "D2:D2000") in lists and ("目标", "E2:E2000") in lists
    assert book["单位"]["B2"].value == "示例区"                          # an example row
    # a clerk keeps the example rows, adds two districts and leaves optional columns blank
    units, inds = book["单位"], book["指标"]
    units.append(["Q1", "青山区", None, "区", "district"])
    units.append(["Q2", "绿水区", None, "区", "district"])
    inds.append(["E01", "地区生产总值增速", None, None, "正向"])
    for uid, target, actual in (("Q1", 6.0, 6.6), ("Q2", 6.0, 5.4)):
        book["目标"].append([2025, uid, "E01", target])
        book["完成值"].append(["2025年12月", uid, "E01", actual])
    book.save(book_path)
    code = main(["import", str(book_path), "--mapping", str(mapping), "--out", str(tmp_path / "data")])
    assert code == 0, capsys.readouterr().err
    data = perfsim.load_dataset(tmp_path / "data")
    assert list(data.units["unit_id"]) == ["Q1", "Q2"] and set(data.units["kind"]) == {"district"}
    assert data.indicators.iloc[0]["frequency"] == "annual"
    recorded = json.loads((tmp_path / "data" / "import.json").read_text(encoding="utf-8"))["defaults"]
    assert "visibility" in recorded["indicators"] and "kind" not in recorded["units"]
    assert sorted(data.actuals["value"]) == [5.4, 6.6]


def test_the_example_row_is_skipped_when_the_template_is_read_as_a_contract_workbook(tmp_path):
    book_path, _ = write_template(tmp_path / "t")
    book = load_workbook(book_path)
    book["单位"].append(["Q1", "青山区", None, "区", "district"])
    book["指标"].append(["E01", "增速", None, None, "正向"])
    book["目标"].append([2025, "Q1", "E01", 6.0])
    book["完成值"].append(["2025-12", "Q1", "E01", 6.5])
    book.save(book_path)
    with pytest.warns(UserWarning, match="row 2 is the template's example row and is skipped"):
        data = perfsim.load_dataset(book_path)
    assert list(data.units["unit_id"]) == ["Q1"] and list(data.targets["unit_id"]) == ["Q1"]


def test_a_zip_bomb_is_refused_in_one_line_within_seconds(tmp_path, capsys):
    bomb = zip_bomb(tmp_path / "bomb.xlsx", gib=0.1)
    assert bomb.stat().st_size < 1_000_000
    for argv in (["validate", str(ROOT / "params" / "baseline.yaml"), "--data", str(bomb)],
                 ["import", str(bomb), "--mapping", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "o")]):
        (tmp_path / "m.yaml").write_text("sheets: [{sheet: 数据, table: units}]\n", encoding="utf-8")
        start = time.perf_counter()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert time.perf_counter() - start < 10
        assert err.count("\n") == 1 and "inflates from 0.2 MB" in err and "refused as a zip bomb" in err


def test_too_many_cells_are_refused_before_reading(tmp_path, monkeypatch):
    from perfsim.sources import xlsx

    book = write_book(tmp_path / "b.xlsx", {"units": [("unit_id", "category")] + [(f"U{k}", "c") for k in range(60)]})
    assert xlsx.check_workbook(book) == 122
    monkeypatch.setattr(xlsx, "MAX_CELLS", 100)
    with pytest.raises(PerfsimError, match="more than 100 cells"):
        perfsim.load_dataset(book)


def test_a_damaged_workbook_is_one_error(tmp_path):
    book = tmp_path / "broken.xlsx"
    book.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(PerfsimError, match="not a readable .xlsx workbook"):
        perfsim.load_dataset(book)


@pytest.mark.slow
def test_a_large_workbook_imports_under_a_memory_cap(tmp_path, world_tables):
    """The world's actuals widened by 37 columns an office keeps (about 31,000 rows x 41
    columns, 1.3 million cells): imported in a child process limited to 3 GB of address
    space, whose own peak resident memory stays under 700 MB."""
    world = tmp_path / "world"
    world.mkdir()
    for table in ("units", "indicators", "targets", "actuals"):
        world_tables[table].to_csv(world / f"{table}.csv", index=False)
    book, rows, columns = big_world_book(tmp_path / "big.xlsx", world, extra=37)
    (tmp_path / "m.yaml").write_text("sheets:\n  - {sheet: 单位, table: units}\n  - {sheet: 指标, table: indicators}\n"
                                     "  - {sheet: 目标, table: targets}\n  - {sheet: 完成值, table: actuals}\n",
                                     encoding="utf-8")
    cap = 3 * 2 ** 30
    script = ("import resource, sys\n"
              f"resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))\n"
              "from perfsim.cli import main\n"
              f"code = main(['import', {str(book)!r}, '--mapping', {str(tmp_path / 'm.yaml')!r}, "
              f"'--out', {str(tmp_path / 'data')!r}])\n"
              "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
              "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stdout.split("peak")[-1])
    assert peak_kib < 700 * 1024, peak_kib
    data = perfsim.load_dataset(tmp_path / "data")
    assert len(data.actuals) == rows - 1 and columns == 41


def test_value_aliases_map_onto_allowed_values_only():
    from perfsim.core.contract import ENUMERATIONS

    for key, aliases in VALUE_ALIASES.items():
        assert set(aliases.values()) <= set(ENUMERATIONS[key]), key


def test_several_problems_are_one_exception_with_each_line():
    exc = PerfsimErrors([f"f.xlsx, row {k}: bad" for k in range(60)], what="import of f.xlsx")
    assert exc.lines[0] == "60 problems in the import of f.xlsx (the first 50 listed):"
    assert exc.lines[-1] == "... and 10 more" and len(exc.lines) == 52
