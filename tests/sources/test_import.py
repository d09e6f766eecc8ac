"""perfsim import: office workbooks (wide, two merged header rows, Chinese headers) into
the contract; the synthetic world round-trips through one; the template round-trips the
mini dataset; every error names the workbook, sheet and cell."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

import perfsim
from perfsim.cli import main
from perfsim.core.errors import PerfsimWarning
from perfsim.sources.importer import (import_workbooks, load_mapping, norm_header, write_office_workbook,
                                      write_template)

from ..conftest import MINI, TESTS

BAD_MAPPINGS = sorted((TESTS / "bad" / "mappings").glob("*.yaml"))


def office_book(path: Path, year: int = 2024, extra_rows=()) -> Path:
    """A workbook as a district office might keep it: a merged title row, two header rows
    (indicator name and unit merged over 目标 | 完成; 序号 and 单位 merged down), a
    header with a line break, full-width brackets, a dash, an empty cell, numbers written
    as text with a thousands separator, a 合计 row and a note below the table."""
    book = Workbook()
    ws = book.active
    ws.title = f"{year}年"
    ws.append([f"{year}年度各区绩效考核指标完成情况"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "单位", "地区生产总值\n（亿元）", None, "安全生产事故（起）", None, "市领导评价", "群众满意度"])
    ws.append([None, None, "目标", "完成", "目标", "完成", None, None])
    for rng in ("A2:A3", "B2:B3", "C2:D2", "E2:F2", "G2:G3", "H2:H3"):
        ws.merge_cells(rng)
    ws.append([1, "甲区", 100, 110, 10, 8, 90, 85.5])
    ws.append([2, "乙区", 50, "1,040", 20, "—", 85, 80])          # accidents: a dash
    ws.append([3, "丙区", 10, 9, 20, 25, None, 70])               # no leader rating
    ws.append([4, "丁区", 10, None, 5, 5, 70, 90])                 # GDP actual missing
    for row in extra_rows:
        ws.append(list(row))
    ws.append([None, "合计", 170, 1159, 55, 38, None, None])
    ws.append(["注：数据截至12月底"])
    book.save(path)
    return path


MAPPING = """\
name: 区县考核 2024
units:
  category: district
  kind: district
indicators:
  gdp: {name: 地区生产总值, direction: higher, unit_of_measure: 亿元}
  accidents: {name: 安全生产事故, direction: lower, unit_of_measure: 起}
sheets:
  - sheet: "*年"
    year: from_name
    header_row: 2
    header_rows: 2
    unit_column: 单位
    skip: [合计]
    columns:
      地区生产总值（亿元）/目标: {table: targets, indicator: gdp}
      地区生产总值（亿元）/完成: {table: actuals, indicator: gdp}
      安全生产事故（起）/目标: {table: targets, indicator: accidents}
      安全生产事故（起）/完成: {table: actuals, indicator: accidents}
      市领导评价: {table: leader_ratings, rater: city}
      群众满意度: {table: satisfaction, group: public}
"""

SCHEME = """\
name: office
tree:
  points: 100
  children:
    targets:
      points: 80
      children:
        gdp: {weight: 1, rule: ratio, cap: 1.2}
        accidents: {weight: 1, rule: ratio}
    leader: {points: 10, source: leader_ratings, rule: rating}
    satisfaction: {points: 10, source: satisfaction, rule: rating}
"""


@pytest.fixture()
def office(tmp_path):
    book = office_book(tmp_path / "考核2024.xlsx")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "scheme.yaml").write_text(SCHEME, encoding="utf-8")
    return tmp_path, book


def test_headers_are_normalised():
    assert norm_header("地区生产总值\n（亿元） / 目标") == "地区生产总值(亿元)/目标"


def test_office_workbook_imports_audits_and_scores(office, capsys):
    folder, book = office
    out = folder / "data"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(["import", str(book), "--mapping", str(folder / "mapping.yaml"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # 4 unit rows x 6 columns = 24 cells: 21 values, 3 empty (丙 leader, 丁 GDP), 1 dash
    assert "4 unit rows, 21 values; 2 empty cell(s) and 1 dash/无 cell(s) give no row" in printed, printed
    assert "1 row(s) skipped" in printed
    assert not any("注" in str(w.message) for w in seen)             # the note is no unit
    data = perfsim.load_dataset(out)
    assert list(data.units["unit_id"]) == ["甲区", "乙区", "丙区", "丁区"]
    actuals = data.actuals.set_index(["unit_id", "indicator_id"])["value"]
    assert actuals[("乙区", "gdp")] == 1040.0 and ("乙区", "accidents") not in actuals.index
    assert set(data.actuals["period"]) == {"2024-12"}
    code = main(["score", str(folder / "scheme.yaml"), "--data", str(out), "--out", str(folder / "s" / "s.csv")])
    assert code == 0
    missing = pd.read_csv(folder / "s" / "missing.csv", encoding="utf-8-sig")
    assert sorted(map(tuple, missing[["unit_id", "indicator_id", "rule"]].values)) == [
        ("丁区", "gdp", "zero"), ("乙区", "accidents", "zero")]
    scores = pd.read_csv(folder / "s" / "s.csv", encoding="utf-8-sig").set_index("unit_id")
    # 甲区: gdp min(110/100, 1.2) = 1.1, accidents 10/8 capped at 1 -> 40 x 2.1 = 84; + 9 + 8.55
    assert scores.loc["甲区", "total"] == pytest.approx(84 + 9 + 8.55)
    # 丙区 has no leader rating: its 90 other points are re-normalised over the 100
    assert scores.loc["丙区", "leader"] == 0


def test_import_report_names_sources(office, capsys):
    folder, _ = office
    book = office_book(folder / "y.xlsx", extra_rows=[(5, "戊区")])     # a unit row with no values
    dataset, report = import_workbooks(book, load_mapping(folder / "mapping.yaml"))
    assert "戊区" not in set(dataset.units["unit_id"])
    assert main(["import", str(book), "--mapping", str(folder / "mapping.yaml"), "--out", str(folder / "o")]) == 0
    assert "1 row(s) with a unit but no values were not read as units: row 8 ('戊区')" in capsys.readouterr().err
    assert report.sources[0]["sheets"] == ["2024年"] and len(report.sources[0]["sha256"]) == 64
    assert report.sheets[0]["skipped_rows"] == 1 and report.totals()["rows_without_values"] == 1


def test_folder_of_workbooks_one_per_year(tmp_path):
    office_book(tmp_path / "a.xlsx", 2023)
    office_book(tmp_path / "b.xlsx", 2024)
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    dataset, report = import_workbooks(tmp_path, load_mapping(tmp_path / "m.yaml"))
    assert dataset.years == [2023, 2024] and len(report.sheets) == 2


def test_synthetic_world_round_trips_through_a_wide_workbook(tmp_path):
    world = perfsim.open_dataset(None)
    book, mapping = write_office_workbook(world, tmp_path / "office")
    back, _ = import_workbooks(book, load_mapping(mapping))
    scheme = perfsim.load_scenario("params/baseline.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        for year in world.years:
            a, b = perfsim.score(scheme, world, year), perfsim.score(scheme, back, year)
            pd.testing.assert_frame_equal(a, b)
    cols = ["unit_id", "name", "kind", "category", "district_type"]
    pd.testing.assert_frame_equal(back.units[cols].reset_index(drop=True), world.units[cols].reset_index(drop=True))


def test_template_round_trips_the_mini_dataset(tmp_path, mini_scheme):
    from openpyxl import load_workbook

    from perfsim.sources.importer import CHINESE_HEADERS, TEMPLATE_SHEETS

    book_path, mapping = write_template(tmp_path / "t")
    book = load_workbook(book_path)
    assert book.sheetnames[0] == "说明"
    mini = perfsim.load_dataset(MINI)
    for table, sheet_name in TEMPLATE_SHEETS.items():
        ws = book[sheet_name]
        headers = [c.value for c in ws[1]]
        columns = [c for c in CHINESE_HEADERS[table] if any(h.rstrip("*") == CHINESE_HEADERS[table][c] for h in headers)]
        assert len(columns) == len(headers)
        frame = mini.tables[table]
        for row in frame.itertuples(index=False):
            record = row._asdict()
            ws.append([None if pd.isna(record.get(c)) else record.get(c) for c in columns])
    book.save(book_path)
    back, _ = import_workbooks(book_path, load_mapping(mapping))
    pd.testing.assert_frame_equal(perfsim.score(mini_scheme, back), perfsim.score(mini_scheme, mini))


def test_cli_template(tmp_path, capsys):
    assert main(["import", "--template", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "perfsim_template.xlsx").exists() and (tmp_path / "t" / "mapping.yaml").exists()
    assert main(["import", str(tmp_path), "--template", str(tmp_path / "u")]) == 2


# --------------------------------------------------------------------------- errors

def _err(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines and all(line.startswith("perfsim: error: ") for line in lines) and "Traceback" not in err
    return err


@pytest.mark.parametrize("cell, value, expect", [
    ("D4", "110亿元", "sheet '2024年', cell D4: '110亿元' is not a number"),
    ("C5", __import__("datetime").datetime(2024, 5, 1), "cell C5: a date (2024-05-01) where a number belongs"),
    ("D5", "2024-01-01", "sheet '2024年', cell D5: '2024-01-01' is not a number"),
])
def test_bad_cell_is_named(office, capsys, cell, value, expect):
    from openpyxl import load_workbook

    folder, book = office
    wb = load_workbook(book)
    wb.active[cell] = value
    wb.save(book)
    err = _err(["import", str(book), "--mapping", str(folder / "mapping.yaml"), "--out", str(folder / "o")], capsys)
    assert expect in err and "考核2024.xlsx" in err
    assert not (folder / "o").exists()                              # nothing written


def test_values_without_unit_are_named(office, capsys):
    from openpyxl import load_workbook

    folder, book = office
    wb = load_workbook(book)
    wb.active["B6"] = None
    wb.save(book)
    err = _err(["import", str(book), "--mapping", str(folder / "mapping.yaml"), "--out", str(folder / "o")], capsys)
    assert "cell B6: a row with values but no unit" in err


def test_duplicate_record_names_both_cells(tmp_path, capsys):
    book = office_book(tmp_path / "x.xlsx", extra_rows=[(5, "甲区", 1, 2, 3, 4, 5, 6)])
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    err = _err(["import", str(book), "--mapping", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "o")], capsys)
    assert "cell C8: the same targets record as" in err and "cell C4" in err
    # every duplicated value of the row is named, in one run
    assert err.splitlines()[0].startswith("perfsim: error: 6 problems in the import of")
    for cell, first in (("C8", "C4"), ("D8", "D4"), ("E8", "E4"), ("F8", "F4"), ("G8", "G4"), ("H8", "H4")):
        assert f"cell {cell}: the same" in err and f"cell {first}\n" in err


def test_unit_not_in_list(office, capsys):
    folder, book = office
    text = MAPPING.replace("  kind: district\n", "  kind: district\n  list: {甲区: {unit_id: D1}, 乙区: {unit_id: D2}}\n")
    (folder / "m.yaml").write_text(text, encoding="utf-8")
    err = _err(["import", str(book), "--mapping", str(folder / "m.yaml"), "--out", str(folder / "o")], capsys)
    assert "cell C6: unit '丙区' is not in the units list (key units.list" in err


@pytest.mark.parametrize("path", BAD_MAPPINGS, ids=[p.stem for p in BAD_MAPPINGS])
def test_bad_mapping(office, capsys, path):
    folder, book = office
    expect = next(line.split(":", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines()
                  if line.startswith("# expect:"))
    err = _err(["import", str(book), "--mapping", str(path), "--out", str(folder / "o")], capsys)
    assert expect in err, err


def test_readme_mapping_example_is_valid_and_reads_the_office_book(tmp_path):
    """The mapping shown in the guide (docs/guide/office-data.md) parses, and (its columns that
    this workbook has) read the office workbook."""
    import re

    from ..conftest import ROOT

    text = (ROOT / "docs" / "guide" / "office-data.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "unit_column" in b)
    path = tmp_path / "readme_mapping.yaml"
    path.write_text(block, encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.sheets[0].header_rows == 2 and mapping.indicators["gdp"].direction == "higher"
    book = office_book(tmp_path / "2024.xlsx")
    keep = {k: v for k, v in mapping.sheets[0].columns.items() if not k.startswith(("专项", "类别"))}
    sheet = mapping.sheets[0].model_copy(update={"columns": keep})
    dataset, _ = import_workbooks(book, mapping.model_copy(update={"sheets": [sheet]}))
    assert len(dataset.units) == 4 and set(dataset.units["category"]) == {"district"}


def test_category_merged_down_and_names_with_spaces(tmp_path):
    """A 类别 column merged down over its units gives each unit the category; a unit written
    with a space in another sheet is the same unit."""
    book = Workbook()
    ws = book.active
    ws.title = "经济"
    ws.append(["类别", "单位", "产值"])
    ws.append(["中心城区", "甲区", 10])
    ws.append([None, "乙区", 20])
    ws.append(["远城区", "丙区", 30])
    ws.merge_cells("A2:A3")
    other = book.create_sheet("社会")
    other.append(["单位", "事故"])
    other.append(["甲 区", 1])
    other.append(["乙区", 2])
    other.append(["丙区", 3])
    book.save(tmp_path / "b.xlsx")
    (tmp_path / "m.yaml").write_text("""indicators:
  out: {direction: higher}
  acc: {direction: lower}
sheets:
  - {sheet: 经济, year: 2024, unit_column: 单位, columns: {产值: {table: actuals, indicator: out},
                                                          类别: {table: units, column: category}}}
  - {sheet: 社会, year: 2024, unit_column: 单位, columns: {事故: {table: actuals, indicator: acc}}}
""", encoding="utf-8")
    data, _ = import_workbooks(tmp_path / "b.xlsx", load_mapping(tmp_path / "m.yaml"))
    assert dict(zip(data.units["unit_id"], data.units["category"])) == {"甲区": "中心城区", "乙区": "中心城区",
                                                                       "丙区": "远城区"}
    assert len(data.actuals) == 6 and set(data.actuals["unit_id"]) == {"甲区", "乙区", "丙区"}


def test_indicator_columns_find_every_indicator_by_its_header(office):
    """indicator_columns reads "<indicator header>/<sub-header>" for every indicator: by an
    explicit header, or by 'name(unit)'; the result equals the column-by-column mapping."""
    folder, book = office
    short = MAPPING.split("indicators:")[0] + """indicators:
  gdp: {header: 地区生产总值（亿元）, direction: higher}
  accidents: {name: 安全生产事故, direction: lower, unit_of_measure: 起}
  unused: {name: 不存在, direction: higher}
sheets:
  - sheet: "*年"
    year: from_name
    header_row: 2
    header_rows: 2
    unit_column: 单位
    skip: [合计]
    indicator_columns: {目标: targets, 完成: actuals}
    columns:
      市领导评价: {table: leader_ratings, rater: city}
      群众满意度: {table: satisfaction, group: public}
"""
    (folder / "short.yaml").write_text(short, encoding="utf-8")
    with pytest.warns(PerfsimWarning, match="no sheet has a column of indicator\\(s\\) unused"):
        short_data, _ = import_workbooks(book, load_mapping(folder / "short.yaml"), "short.yaml")
    full_data, _ = import_workbooks(book, load_mapping(folder / "mapping.yaml"))
    for table in ("targets", "actuals", "leader_ratings", "satisfaction"):
        key = [c for c in short_data.tables[table].columns if c not in ("value", "target", "rating", "score")]
        a = short_data.tables[table].sort_values(key).reset_index(drop=True)
        b = full_data.tables[table].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_sheet_without_a_year_in_its_name(tmp_path, capsys):
    book = office_book(tmp_path / "data.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(book)
    wb.active.title = "数据"
    wb.save(book)
    (tmp_path / "m.yaml").write_text(MAPPING.replace('"*年"', "数据"), encoding="utf-8")
    err = _err(["import", str(book), "--mapping", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "o")], capsys)
    assert "sheet '数据': no year in the sheet's or the workbook's name: give 'year:'" in err
