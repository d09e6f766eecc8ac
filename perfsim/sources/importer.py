"""``perfsim import``: the workbooks an office keeps, turned into the data contract.

An office keeps one sheet per year (or per indicator group), units in rows, indicators
in columns, Chinese headers, often two header rows with merged cells and a title row
above them, a 合计 row below. A *mapping* file (YAML, validated whole like a scenario)
says how to read them::

    name: 2024 考核数据
    units:                      # every unit named in the sheets; its id is its name
      category: district        #   unless a 'units' sheet or 'list' says otherwise
    indicators:                 # the indicators the columns refer to
      gdp: {name: 地区生产总值, direction: higher, unit_of_measure: 亿元}
    sheets:
      - sheet: "20*年"          # a sheet name, or a pattern with * and ?
        year: from_name         # or 2024
        header_row: 2           # the first header row (rows above are titles)
        header_rows: 2          # two header rows: "地区生产总值（亿元）/目标"
        unit_column: 单位
        skip: [合计]
        columns:
          地区生产总值（亿元）/目标: {table: targets, indicator: gdp}
          地区生产总值（亿元）/完成: {table: actuals, indicator: gdp}

Headers are compared after removing white space and turning full-width brackets,
colons and slashes into their ASCII forms; a header under a merged cell takes the
merged cell's text, and an empty upper header cell takes the text to its left when
the cell below it is filled (an unmerged two-row header). Every error names the
workbook, the sheet and the cell.

A long-format sheet (one row per record, as in the contract) is read with ``table:``
and ``headers:`` (contract column -> header text); :func:`write_template` writes a blank
workbook of such sheets with Chinese headers and its mapping.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.contract import (COLUMN_LABELS_ZH, DEFAULTS, Copy, ENUMERATIONS, REQUIRED_COLUMNS, TABLE_COLUMNS,
                             TEMPLATE_EXAMPLES, VALUE_ALIASES, Dataset, header_name, is_template_example,
                             translate_values, validate_frames)
from ..core.errors import PerfsimError, PerfsimErrors, raise_problems
from ..core.scheme import pydantic_error
from ..core.yamlio import load_yaml

#: cell texts that mean "no value" in office tables
EMPTY_MARKS = frozenset({"-", "--", "—", "——", "–", "/", "无", "暂无", "N/A", "n/a", "NA", "na", "…", "...",
                         "null", "NULL", "空"})
WIDE_TABLES = ("actuals", "targets", "leader_ratings", "satisfaction", "special", "adjustments", "units")
UNIT_COLUMNS = ("name", "name_en", "kind", "category", "district_type", "staff", "budget", "consumption")

#: Chinese headers of the template (and of long-format sheets read without ``headers:``)
CHINESE_HEADERS = COLUMN_LABELS_ZH
TEMPLATE_SHEETS = {"units": "单位", "indicators": "指标", "targets": "目标", "actuals": "完成值",
                   "leader_ratings": "领导评价", "satisfaction": "满意度", "adjustments": "加减分",
                   "special": "专项", "peers": "对标", "goals": "城市目标", "responsibilities": "责任分工"}


# --------------------------------------------------------------------------- the mapping

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: per wide table, the fields a column target must give and may give
_TARGET_FIELDS = {
    "actuals": ({"indicator"}, {"period"}),
    "targets": ({"indicator"}, {"method"}),
    "leader_ratings": ({"rater"}, set()),
    "satisfaction": ({"group"}, {"respondents"}),
    "special": ({"facet"}, set()),
    "adjustments": ({"type"}, {"item"}),
    "units": ({"column"}, set()),
}


def _alias(table: str, column: str):
    """A pydantic before-validator that reads the Chinese forms of an enumeration."""
    aliases = {"".join(k.split()): v for k, v in VALUE_ALIASES[(table, column)].items()}

    def read(value: Any) -> Any:
        return aliases.get("".join(value.split()), value) if isinstance(value, str) else value

    return read


class ColumnTarget(_Strict):
    """What one column of a wide sheet holds."""

    table: Literal["actuals", "targets", "leader_ratings", "satisfaction", "special", "adjustments", "units"]
    indicator: str | None = None
    period: str | None = None
    method: str | None = None
    rater: str | None = None
    group: str | None = None
    respondents: int | None = Field(default=None, ge=1)
    facet: str | None = None
    type: Literal["bonus", "deduction", "veto"] | None = None
    item: str | None = None
    column: Literal["name", "name_en", "kind", "category", "district_type", "staff", "budget",
                    "consumption"] | None = None

    _type = field_validator("type", mode="before")(_alias("adjustments", "type"))

    @model_validator(mode="after")
    def _check(self) -> "ColumnTarget":
        needed, optional = _TARGET_FIELDS[self.table]
        given = {f for f in self.model_fields_set if f != "table"}
        missing = sorted(needed - given)
        if missing:
            raise ValueError(f"table {self.table} needs {', '.join(missing)}")
        unused = sorted(given - needed - optional)
        if unused:
            raise ValueError(f"field(s) {', '.join(unused)} not used for table {self.table} "
                             f"(it uses {', '.join(sorted(needed | optional))})")
        return self


class SheetSpec(_Strict):
    """Which sheets to read and how: wide (``unit_column`` + ``columns``) or long
    (``table`` + ``headers``)."""

    sheet: str = Field(min_length=1)
    workbook: str = "*"
    required: bool = True
    header_row: int = Field(default=1, ge=1, le=1000)
    header_rows: int = Field(default=1, ge=1, le=5)
    year: int | Literal["from_name"] | None = None
    month: int | Literal["from_name"] | None = None
    # wide
    unit_column: str | None = None
    skip: list[str] = []
    columns: dict[str, ColumnTarget] = {}
    #: sub-header -> table for every indicator found in the sheet by its header:
    #: {年度目标: targets, 实际完成: actuals} reads "<header>/年度目标" and "<header>/实际完成";
    #: {"": actuals} reads a column headed by the indicator alone
    indicator_columns: dict[str, Literal["targets", "actuals"]] = {}
    # long
    table: Literal["units", "indicators", "targets", "actuals", "leader_ratings", "satisfaction",
                   "adjustments", "special", "peers", "goals", "responsibilities"] | None = None
    headers: dict[str, str] | None = None
    #: columns the sheet does not have, the same for every row: {year: 2025}
    constants: dict[str, str | int | float] = {}

    @model_validator(mode="after")
    def _check(self) -> "SheetSpec":
        if self.table is None and self.unit_column is None:
            raise ValueError("give unit_column and columns (a wide sheet) or table (a long sheet)")
        if self.table is not None:
            wide = [f for f in ("unit_column", "columns", "skip", "month", "indicator_columns")
                    if f in self.model_fields_set]
            if wide:
                raise ValueError(f"a long sheet (table: {self.table}) does not use {', '.join(wide)}")
            if "year" in self.model_fields_set:
                raise ValueError(f"a long sheet (table: {self.table}) takes its year from a column, or for "
                                 "every row from 'constants: {year: 2025}'")
            unknown = sorted(set(self.headers or {}) - set(TABLE_COLUMNS[self.table]))
            if unknown:
                raise ValueError(f"headers names {', '.join(unknown)}, not columns of table {self.table} "
                                 f"({', '.join(TABLE_COLUMNS[self.table])})")
            unknown = sorted(set(self.constants) - set(TABLE_COLUMNS[self.table]))
            if unknown:
                raise ValueError(f"constants names {', '.join(unknown)}, not columns of table {self.table} "
                                 f"({', '.join(TABLE_COLUMNS[self.table])})")
            both = sorted(set(self.constants) & set(self.headers or {}))
            if both:
                raise ValueError(f"column(s) {', '.join(both)} are given both in headers and in constants")
        else:
            if self.headers is not None:
                raise ValueError("headers is for a long sheet (with table)")
            if self.constants:
                raise ValueError("constants is for a long sheet (with table); a wide sheet takes year: and month:")
            if isinstance(self.year, int) and not 1900 <= self.year <= 2200:
                raise ValueError(f"year {self.year} is not a plausible year")
            if isinstance(self.month, int) and not 1 <= self.month <= 12:
                raise ValueError(f"month {self.month} is not 1 to 12")
        return self


class UnitEntry(_Strict):
    unit_id: str | None = None
    category: str | None = None
    kind: str | None = None
    district_type: str | None = None
    name_en: str | None = None


class UnitsSpec(_Strict):
    """How to build the units table when no sheet holds it: every unit named in the wide
    sheets, id = name unless ``list`` gives one, category and kind as given here."""

    category: str = "all"
    kind: str | None = None
    list: dict[str, UnitEntry] | None = None


class IndicatorSpec(_Strict):
    #: the indicator's (upper) header in the wide sheets; default: its name, or "name(unit)"
    header: str | None = None
    name: str | None = None
    name_en: str | None = None
    dimension: str | None = None
    direction: Literal["higher", "lower"]
    unit_of_measure: str | None = None
    kind: Literal["continuing", "annual_task"] | None = None
    frequency: Literal["monthly", "quarterly", "annual"] | None = None
    visibility: Literal["visible", "latent"] | None = None

    _direction = field_validator("direction", mode="before")(_alias("indicators", "direction"))
    _kind = field_validator("kind", mode="before")(_alias("indicators", "kind"))
    _frequency = field_validator("frequency", mode="before")(_alias("indicators", "frequency"))
    _visibility = field_validator("visibility", mode="before")(_alias("indicators", "visibility"))


class Mapping(_Strict):
    name: str | None = None
    description: str | None = None
    units: UnitsSpec = UnitsSpec()
    indicators: dict[str, IndicatorSpec] = {}
    #: wide columns shared by every wide sheet (a sheet's own columns add to them)
    columns: dict[str, ColumnTarget] = {}
    sheets: list[SheetSpec] = Field(min_length=1)
    #: value maps: column (or table.column) -> {as written: contract value}; they extend
    #: the built-in Chinese forms of the contract's enumerations
    values: dict[str, dict[str, str]] = {}

    @model_validator(mode="after")
    def _check(self) -> "Mapping":
        sheet_of_units = next((k for k, sheet in enumerate(self.sheets) if sheet.table == "units"), None)
        if sheet_of_units is not None and "units" in self.model_fields_set:
            raise ValueError(f"'units': not used: the units come from the sheet of key 'sheets.{sheet_of_units}' "
                             "(give their category and kind there, or drop that sheet)")
        tables = self.tables_read()
        for key, table_map in self.values.items():
            table, _, column = key.rpartition(".")
            targets = [table] if table else [t for t in tables if column in TABLE_COLUMNS[t]]
            if table and table not in TABLE_COLUMNS:
                raise ValueError(f"'values.{key}': {table} is not a table of the contract")
            if not targets or any(column not in TABLE_COLUMNS[t] for t in targets):
                read = ", ".join(sorted(tables))
                raise ValueError(f"'values.{key}': no table this mapping reads ({read}) has a column {column!r}")
            for t in targets:
                allowed = ENUMERATIONS.get((t, column))
                if allowed and (t, column) != ("units", "kind"):
                    bad = sorted({str(v) for v in table_map.values()} - set(allowed))
                    if bad:
                        raise ValueError(f"'values.{key}': {', '.join(bad)} is not one of {', '.join(allowed)}")
        from_sheet = any(sheet.table == "indicators" for sheet in self.sheets)   # checked by the contract then
        for s_i, sheet in enumerate(self.sheets):
            for header, target in {**self.columns, **sheet.columns}.items():
                if target.indicator is not None and target.indicator not in self.indicators and not from_sheet:
                    where = f"sheets.{s_i}.columns" if header in sheet.columns else "columns"
                    raise ValueError(f"'{where}.{header}.indicator': '{target.indicator}' is not in key "
                                     f"'indicators' ({', '.join(self.indicators) or 'none'})")
        return self

    def tables_read(self) -> set[str]:
        """The contract tables this mapping can fill."""
        out = {"units", "indicators", "targets", "actuals"}
        for sheet in self.sheets:
            if sheet.table is not None:
                out.add(sheet.table)
            for target in {**self.columns, **sheet.columns}.values():
                out.add(target.table)
            out.update(sheet.indicator_columns.values())
        return out

    def value_maps(self, table: str) -> dict[str, dict[str, str]]:
        """The value maps that apply to one table's columns."""
        out: dict[str, dict[str, str]] = {}
        for key, table_map in self.values.items():
            t, _, column = key.rpartition(".")
            if (not t or t == table) and column in TABLE_COLUMNS[table]:
                out.setdefault(column, {}).update({str(k): str(v) for k, v in table_map.items()})
        return out


def load_mapping(path: str | Path) -> Mapping:
    path = Path(path)
    raw = load_yaml(path)
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, str(path)) from None


# --------------------------------------------------------------------------- cells

_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "／": "/", "，": ",", "　": "", "【": "[", "】": "]"})


def norm_header(text: Any) -> str:
    """A header as compared: white space removed, full-width brackets, colons and slashes
    made ASCII."""
    return re.sub(r"\s+", "", str(text).translate(_FULL_WIDTH))


def cell_name(row: int, col: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(col)}{row}"


def _text(value: Any) -> str | None:
    """A cell as text (None when empty): whole numbers without '.0', dates as ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    text = str(value).strip()
    return text or None


def parse_number(value: Any, where: str) -> float | str | None:
    """A numeric cell: a float; ``None`` when empty; ``"mark"`` for a dash or 无.
    Thousands separators are dropped and ``95%`` reads 95 (the number as written)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PerfsimError(f"{value!r} is not a number", where=where)
    if isinstance(value, (int, float)):
        if not math.isfinite(float(value)):
            raise PerfsimError(f"{value!r} is not a finite number", where=where)
        return float(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        raise PerfsimError(f"a date ({value}) where a number belongs", where=where)
    text = str(value).strip()
    if not text:
        return None
    if text in EMPTY_MARKS:
        return "mark"
    cleaned = text.replace(",", "").replace("，", "").rstrip("%％").strip()
    try:
        number = float(cleaned)
    except ValueError:
        raise PerfsimError(f"{text!r} is not a number", where=where) from None
    if not math.isfinite(number):
        raise PerfsimError(f"{text!r} is not a finite number", where=where)
    return number


@dataclass
class Grid:
    """One sheet's cells, its header texts and where it came from."""

    book: Path
    name: str
    rows: list[tuple]                       # every row's values (row 1 first)
    merged: list[tuple[int, int, int, int]]  # (min_row, min_col, max_row, max_col)

    def where(self, row: int | None = None, col: int | None = None) -> str:
        text = f"{self.book}, sheet '{self.name}'"
        return text + (f", cell {cell_name(row, col)}" if row is not None and col is not None else "")

    def __post_init__(self) -> None:
        # every cell inside a merged range reads the range's (top-left) value: a category
        # merged down over its units belongs to each of them
        self._merged_value = {}
        for r0, c0, r1, c1 in self.merged:
            top = self._raw(r0, c0)
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if (r, c) != (r0, c0):
                        self._merged_value[(r, c)] = top

    def _raw(self, row: int, col: int) -> Any:
        r = self.rows[row - 1] if row - 1 < len(self.rows) else ()
        return r[col - 1] if col - 1 < len(r) else None

    def value(self, row: int, col: int) -> Any:
        hit = self._merged_value.get((row, col))
        return hit if hit is not None else self._raw(row, col)

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)

    def headers(self, first: int, count: int) -> list[str]:
        """Header text of every column, the header rows joined with '/'."""
        # (a cell under a merged range reads the merged text: see value)
        grid = [[self.value(r, c) for c in range(1, self.width + 1)] for r in range(first, first + count)]
        for k in range(count - 1):                            # unmerged two-row headers
            for c in range(1, self.width):
                if _text(grid[k][c]) is None and _text(grid[k + 1][c]) is not None:
                    grid[k][c] = grid[k][c - 1]
        out = []
        for c in range(self.width):
            parts: list[str] = []
            for k in range(count):
                t = _text(grid[k][c])
                if t is not None and (not parts or parts[-1] != norm_header(t)):
                    parts.append(norm_header(t))
            out.append("/".join(parts))
        return out


def read_book(path: Path) -> dict[str, Grid]:
    """Every sheet of a workbook as a :class:`Grid` (formulas as their last computed
    values), checked before reading and read row by row (:mod:`perfsim.sources.xlsx`)."""
    from .xlsx import read_sheets

    return {name: Grid(path, name, sheet.rows, sheet.merged) for name, sheet in read_sheets(path).items()}


# --------------------------------------------------------------------------- reading

@dataclass
class Report:
    """What an import read, for import.json and the summary line."""

    sources: list[dict] = field(default_factory=list)
    sheets: list[dict] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        keys = ("rows", "values", "empty", "marks", "skipped_rows")
        out = {k: sum(s.get(k, 0) for s in self.sheets) for k in keys}
        out["rows_without_values"] = sum(len(s.get("rows_without_values", ())) for s in self.sheets)
        return out


def _year_of(spec: SheetSpec, grid: Grid) -> int | None:
    if spec.year is None or isinstance(spec.year, int):
        return spec.year
    for text in (grid.name, grid.book.stem):
        m = re.search(r"(?<!\d)(19\d\d|2[01]\d\d)(?!\d)", text)
        if m:
            return int(m.group(1))
    raise PerfsimError("no year in the sheet's or the workbook's name: give 'year:' in the mapping",
                       where=grid.where())


def _month_of(spec: SheetSpec, grid: Grid) -> int:
    if spec.month is None:
        return 12
    if isinstance(spec.month, int):
        return spec.month
    m = re.search(r"(?<!\d)(1[0-2]|0?[1-9])\s*月", grid.name) or re.search(r"\d{4}[-_./](1[0-2]|0?[1-9])(?!\d)",
                                                                           grid.name)
    if not m:
        raise PerfsimError("no month in the sheet's name (such as 6月): give 'month:' in the mapping",
                           where=grid.where())
    return int(m.group(1))


def _locate(headers: list[str], wanted: str, grid: Grid, spec: SheetSpec) -> int:
    key = norm_header(wanted)
    hits = [i for i, h in enumerate(headers) if h == key]
    if len(hits) > 1:
        cols = ", ".join(cell_name(spec.header_row, i + 1)[:-len(str(spec.header_row))] for i in hits)
        raise PerfsimError(f"two columns are headed {wanted!r} (columns {cols})", where=grid.where())
    if not hits:
        rows = (f"row {spec.header_row}" if spec.header_rows == 1
                else f"rows {spec.header_row}-{spec.header_row + spec.header_rows - 1}")
        shown = ", ".join(h for h in headers if h) or "none"
        raise PerfsimError(f"no column headed {wanted!r} in header {rows} (headers: {shown})", where=grid.where())
    return hits[0] + 1


def _read_long(spec: SheetSpec, grid: Grid, frames: dict[str, list], report: dict) -> None:
    table = spec.table
    headers = grid.headers(spec.header_row, spec.header_rows)
    # the columns 'headers:' names, then any other headed by its contract or Chinese name
    # (a trailing * ignored)
    cols = {column: _locate(headers, header, grid, spec) for column, header in (spec.headers or {}).items()}
    taken = set(cols.values())
    for k, h in enumerate(headers, start=1):
        column = header_name(table, h) if h else ""
        if column in TABLE_COLUMNS[table] and column not in cols and k not in taken and column not in spec.constants:
            cols[column] = k
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in cols and c not in spec.constants]
    if missing:
        names = ", ".join(f"{c} ({COLUMN_LABELS_ZH[table].get(c, c)})" for c in missing)
        shown = ", ".join(h for h in headers if h) or "none"
        raise PerfsimError(f"table {table} needs column(s) {names}: no such header in row {spec.header_row} "
                           f"(headers: {shown}); name them in 'headers:' of the mapping, or give a value for "
                           "every row in 'constants:'", where=grid.where())
    constants = {k: _text(v) for k, v in spec.constants.items()}
    first = spec.header_row + spec.header_rows
    rows, examples = [], 0
    for r in range(first, len(grid.rows) + 1):
        record = {column: _text(grid.value(r, c)) for column, c in cols.items()}
        if all(v is None for v in record.values()):
            continue
        if is_template_example(table, record):
            examples += 1
            continue
        record.update(constants)
        record["_where"] = f"{grid.where()}, row {r}"
        rows.append(record)
    if rows:
        frames.setdefault(table, []).extend(rows)
    report.update(rows=len(rows), values=sum(sum(v is not None for k, v in row.items() if k != "_where")
                                             for row in rows))
    if examples:
        report["example_rows"] = examples


def _indicator_columns(spec: SheetSpec, indicators: dict[str, "IndicatorSpec"], headers: list[str]
                       ) -> dict[tuple[str, str], tuple[str, ColumnTarget]]:
    """The columns ``indicator_columns`` names in this sheet: (indicator, sub-header) ->
    (header, target), for every indicator whose header the sheet has."""
    present = set(headers)
    out = {}
    for iid, ind in indicators.items():
        candidates = [ind.header] if ind.header else [c for c in (
            ind.name or iid, f"{ind.name or iid}({ind.unit_of_measure})" if ind.unit_of_measure else None) if c]
        for sub, table in spec.indicator_columns.items():
            for candidate in candidates:
                header = norm_header(candidate) + (f"/{norm_header(sub)}" if sub else "")
                if header in present:
                    out[(iid, sub)] = (header, ColumnTarget(table=table, indicator=iid))
                    break
    return out


def _read_wide(spec: SheetSpec, grid: Grid, shared: dict[str, ColumnTarget], frames: dict[str, list],
               report: dict, seen: dict, indicators: dict[str, "IndicatorSpec"], problems: list[str]) -> None:
    headers = grid.headers(spec.header_row, spec.header_rows)
    unit_col = _locate(headers, spec.unit_column, grid, spec)
    columns = {**shared, **spec.columns}
    if not columns and not spec.indicator_columns:
        raise PerfsimError("no columns to read: give 'columns:' (header -> table) or 'indicator_columns:' "
                           "in the mapping", where=grid.where())
    located = {}
    for header, target in columns.items():
        if header in spec.columns or spec.required:
            located[header] = (_locate(headers, header, grid, spec), target)
        elif norm_header(header) in headers:
            located[header] = (_locate(headers, header, grid, spec), target)
    for (iid, _sub), (header, target) in _indicator_columns(spec, indicators, headers).items():
        if header not in located:
            located[header] = (_locate(headers, header, grid, spec), target)
            report.setdefault("indicators", []).append(iid)
    year = _year_of(spec, grid)
    needs_year = any(t.table != "units" and not (t.table == "actuals" and t.period) for _, t in located.values())
    if year is None and needs_year:
        raise PerfsimError("the sheet's year is not given: add 'year: 2024' or 'year: from_name' to the mapping",
                           where=grid.where())
    month = _month_of(spec, grid)
    skip = {norm_header(s) for s in spec.skip}
    first = spec.header_row + spec.header_rows
    counts = {"rows": 0, "values": 0, "empty": 0, "marks": 0, "skipped_rows": 0}
    for r in range(first, len(grid.rows) + 1):
        unit = _text(grid.value(r, unit_col))
        if unit is None:
            if any(_text(grid.value(r, c)) is not None for c, _ in located.values()):
                problems.append(f"{grid.where(r, unit_col)}: a row with values but no unit")
            continue
        if norm_header(unit) in skip:
            counts["skipped_rows"] += 1
            continue
        if all(_text(grid.value(r, c)) is None for c, _ in located.values()):
            report.setdefault("rows_without_values", []).append(f"row {r} ({unit!r})")
            continue
        counts["rows"] += 1
        for header, (c, target) in located.items():
            where = grid.where(r, c)
            if target.table == "units":
                value = _text(grid.value(r, c))
                if value is not None:
                    frames.setdefault("_unit_attrs", []).append({"unit": unit, "column": target.column,
                                                                 "value": value, "_where": where})
                continue
            try:
                number = parse_number(grid.value(r, c), where)
            except PerfsimError as exc:
                problems.append(str(exc))
                continue
            if number is None or number == "mark":
                counts["empty" if number is None else "marks"] += 1
                continue
            counts["values"] += 1
            record = _record(target, unit, number, year, month)
            key = (target.table, *[str(v) for k, v in record.items() if k not in ("value", "target", "rating",
                                                                                "score", "points", "note")])
            if key in seen:
                problems.append(f"{where}: the same {target.table} record as {seen[key]}")
                continue
            seen[key] = where
            record["_where"] = where
            frames.setdefault(target.table, []).append(record)
    report.update(counts)


def _record(target: ColumnTarget, unit: str, number: float, year: int | None, month: int) -> dict:
    base = {"unit_id": unit}
    if target.table == "actuals":
        period = target.period or f"{year}-{month:02d}"
        return {"period": period, **base, "indicator_id": target.indicator, "value": number}
    if target.table == "targets":
        return {"year": year, **base, "indicator_id": target.indicator, "target": number,
                "method": target.method or "unspecified"}
    if target.table == "leader_ratings":
        return {"year": year, "rater_id": target.rater, **base, "rating": number}
    if target.table == "satisfaction":
        return {"year": year, **base, "group": target.group, "respondents": target.respondents or 1,
                "score": number}
    if target.table == "special":
        return {"year": year, **base, "facet": target.facet, "score": number}
    return {"year": year, **base, "type": target.type, "item": target.item or "", "points": number}


def _books(source: Path) -> list[Path]:
    if source.is_dir():
        books = sorted(p for p in source.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm")
                       and not p.name.startswith(("~$", ".")))
        if not books:
            raise PerfsimError("no .xlsx workbooks in this folder", where=source)
        return books
    if not source.exists():
        raise PerfsimError("no such workbook or folder", where=source)
    if source.suffix.lower() not in (".xlsx", ".xlsm"):
        raise PerfsimError("perfsim import reads .xlsx workbooks (or a folder of them)", where=source)
    return [source]


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _units(mapping: Mapping, frames: dict[str, list], where: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The units table and the lookup from what sheets write (id or name) to unit_id."""
    if "units" in frames:
        units = pd.DataFrame(frames.pop("units"))
        lookup = {}
        for row in units.itertuples():
            lookup[norm_header(row.unit_id)] = str(row.unit_id)
            if getattr(row, "name", None):
                lookup.setdefault(norm_header(row.name), str(row.unit_id))
        return units, lookup
    names: dict[str, None] = {}
    for table in WIDE_TABLES:
        for record in frames.get(table, []):
            names.setdefault(record["unit_id"], None)
    for record in frames.get("_unit_attrs", []):
        names.setdefault(record["unit"], None)
    listed = mapping.units.list
    rows, lookup = [], {}
    if listed is not None:
        for name, entry in listed.items():
            uid = entry.unit_id or name
            rows.append({"unit_id": uid, "name": name, "category": entry.category or mapping.units.category,
                         "kind": entry.kind or mapping.units.kind, "district_type": entry.district_type,
                         "name_en": entry.name_en})
            lookup[norm_header(name)] = lookup[norm_header(uid)] = uid
    else:
        for name in names:
            if norm_header(name) in lookup:          # the same unit written with other spacing
                continue
            rows.append({"unit_id": name, "name": name, "category": mapping.units.category,
                         "kind": mapping.units.kind})
            lookup[norm_header(name)] = name
    units = pd.DataFrame(rows)
    if "kind" in units and units["kind"].isna().all():
        units = units.drop(columns=["kind"])
    return units, lookup


def import_workbooks(source: str | Path, mapping: Mapping, mapping_path: str = "<mapping>"
                     ) -> tuple[Dataset, Report]:
    """Read every sheet the mapping names from a workbook (or a folder of workbooks) and
    return the validated dataset and a report of what was read."""
    source = Path(source)
    books = _books(source)
    frames: dict[str, list] = {}
    report = Report()
    seen: dict = {}
    problems: list[str] = []
    matched = [0] * len(mapping.sheets)
    for book in books:
        grids = read_book(book)
        report.sources.append({"workbook": str(book), "sha256": _sha256(book), "sheets": list(grids)})
        for s_i, spec in enumerate(mapping.sheets):
            if not fnmatch.fnmatchcase(book.name, spec.workbook):
                continue
            for name, grid in grids.items():
                if not fnmatch.fnmatchcase(name.strip(), spec.sheet):
                    continue
                matched[s_i] += 1
                entry = {"workbook": str(book), "sheet": name, "spec": s_i}
                try:
                    if spec.table is not None:
                        _read_long(spec, grid, frames, entry)
                    else:
                        _read_wide(spec, grid, mapping.columns, frames, entry, seen, mapping.indicators, problems)
                except PerfsimError as exc:        # the sheet cannot be read: say so, read the others
                    problems.append(str(exc))
                report.sheets.append(entry)
    if any(spec.indicator_columns for spec in mapping.sheets):
        found = {i for sheet in report.sheets for i in sheet.get("indicators", ())}
        lost = [i for i in mapping.indicators if i not in found and not any(
            t.indicator == i for spec in mapping.sheets for t in {**mapping.columns, **spec.columns}.values())]
        if lost:
            import warnings

            from ..core.errors import PerfsimWarning

            warnings.warn(f"{mapping_path}: no sheet has a column of indicator(s) {', '.join(lost)} (looked for "
                          "their header, or name, or 'name(unit)', over the indicator_columns sub-headers)",
                          PerfsimWarning, stacklevel=2)
    for s_i, spec in enumerate(mapping.sheets):
        if not matched[s_i] and spec.required:
            names = "; ".join(f"{Path(s['workbook']).name}: {', '.join(s['sheets'])}" for s in report.sources)
            problems.append(f"{mapping_path}: key 'sheets.{s_i}.sheet': no sheet matches {spec.sheet!r} "
                            f"(sheets: {names})")
    if not problems and not any(frames.get(t) for t in ("units", "indicators", "targets", "actuals", *WIDE_TABLES)):
        examples = sum(s.get("example_rows", 0) for s in report.sheets)
        raise PerfsimError("the workbook is empty: no sheet the mapping reads has a row of data"
                           + (f" (the template is empty: its {examples} example row(s) are skipped; fill in at "
                              "least 单位, 指标, 目标 and 完成值)" if examples else ""), where=source)
    return _assemble(mapping, frames, str(source), mapping_path, problems), report


def _assemble(mapping: Mapping, frames: dict[str, list], origin: str, mapping_path: str,
              problems: list[str] | None = None) -> Dataset:
    problems = [] if problems is None else problems
    from_sheet = "units" in frames
    locate: dict[str, Any] = {}
    if from_sheet:
        locate["units"] = [r.get("_where", "") for r in frames["units"]]
    units, lookup = _units(mapping, frames, mapping_path)
    for record in frames.pop("_unit_attrs", []):
        uid = lookup.get(norm_header(record["unit"]))
        if uid is None:
            problems.append(f"{record['_where']}: unit {record['unit']!r} is not in the units list")
            continue
        column = record["column"]
        if column not in units:
            units[column] = pd.Series(pd.NA, index=units.index, dtype=object)
        units.loc[units["unit_id"] == uid, column] = record["value"]
    out: dict[str, pd.DataFrame] = {"units": units.drop(columns=["_where"], errors="ignore")}
    if "indicators" in frames:
        records = frames.pop("indicators")
        locate["indicators"] = [r.get("_where", "") for r in records]
        out["indicators"] = pd.DataFrame(records).drop(columns=["_where"], errors="ignore")
    else:
        rows = []
        for iid, spec in mapping.indicators.items():
            row = {"indicator_id": iid, **{k: v for k, v in spec.model_dump().items() if v is not None and k != "header"}}
            row.setdefault("name", iid)
            rows.append(row)
        out["indicators"] = pd.DataFrame(rows, columns=None if rows else ["indicator_id", "direction"])
    for table in TABLE_COLUMNS:
        if table in out or table not in frames:
            continue
        records, kept = frames[table], []
        for record in records:
            uid = record.get("unit_id")
            if uid is not None:
                key = norm_header(uid)
                if key not in lookup:
                    problems.append(f"{record['_where']}: unit {uid!r} is not in the units list "
                                    f"({'the units sheet' if from_sheet else 'key units.list of ' + mapping_path})")
                    continue
                record["unit_id"] = lookup[key]
            kept.append(record)
        locate[table] = [r["_where"] for r in kept]
        out[table] = pd.DataFrame(kept).drop(columns=["_where"], errors="ignore")
    for table in ("targets", "actuals"):
        out.setdefault(table, pd.DataFrame(columns=list(REQUIRED_COLUMNS[table])))
    for table, frame in out.items():
        maps = mapping.value_maps(table)
        if maps:
            out[table] = translate_values(frame, table, maps)
    finders = {t: (lambda i, w=w: w[i] if 0 <= i < len(w) and w[i] else f"row {i + 2}") for t, w in locate.items()}
    if problems and not len(out["units"]):         # nothing to check the rest against
        raise_problems(problems, what=f"import of {origin}")
    try:
        dataset = validate_frames(out, origin=f"import of {origin}", locate=finders)
    except PerfsimErrors as exc:
        problems += exc.problems
    except PerfsimError as exc:
        problems.append(str(exc))
    raise_problems(problems, what=f"import of {origin}")
    return dataset


# --------------------------------------------------------------------------- writing

def write_import(dataset: Dataset, report: Report, out: str | Path, mapping_path: str) -> list[Path]:
    """The imported tables as a contract folder (CSV), with import.json; all or nothing."""
    from ..core.files import OutputSet

    with OutputSet(out) as outputs:
        for name, frame in dataset.tables.items():
            if len(frame) or name in ("units", "indicators", "targets", "actuals"):
                outputs.csv(frame, f"{name}.csv")
        outputs.json({"mapping": mapping_path, "sources": report.sources, "sheets": report.sheets,
                      "totals": report.totals(), "defaults": {k: list(v) for k, v in dataset.defaults.items()}},
                     "import.json")
    return [Path(out) / n for n in outputs.names]


#: what each template column means (the 说明 sheet), where the column name alone does not say
COLUMN_NOTES_ZH: dict[tuple[str, str], str] = {
    ("units", "category"): "同类单位横向比较、排名的类别，须与考核方案的类别一致（如 district、party_admin）",
    ("units", "kind"): "区 或 市直部门；方案的 applies_to 按此区分区与部门",
    ("units", "district_type"): "仅区填写：中心城区 或 外围城区",
    ("indicators", "direction"): "正向：越大越好；逆向：越小越好",
    ("indicators", "kind"): "常规指标按完成值计分；年度任务按是否完成计分",
    ("indicators", "visibility"): "显绩：当年可见的工作；潜绩：长期、基础性的工作",
    ("indicators", "season"): "季节性（可留空）",
    ("targets", "method"): "目标如何确定：单位自报、逐级分解、对标、历史",
    ("actuals", "period"): "2025-12、2025年12月、2025 或日期；年度数写 2025",
    ("leader_ratings", "rater_id"): "评价人编号（可匿名，如 R01）",
    ("leader_ratings", "panel"): "评价组（可留空：全部为市领导）",
    ("satisfaction", "respondents"): "样本数，用于按样本加权（可留空：1）",
    ("adjustments", "type"): "加分、减分 或 一票否决",
    ("adjustments", "points"): "分值（一票否决可留空）",
    ("special", "facet"): "实际贡献率、社会影响性、群众满意度、行政成本",
    ("responsibilities", "role"): "牵头 或 配合",
    ("responsibilities", "share"): "分担比例，0 到 1 之间",
}


def _allowed(table: str, column: str) -> list[str]:
    """The values a column's drop-down list offers: each value's first Chinese form, then
    the contract's own name."""
    allowed = ENUMERATIONS.get((table, column))
    if not allowed:
        return []
    chinese: dict[str, str] = {}
    for written, value in VALUE_ALIASES.get((table, column), {}).items():
        chinese.setdefault(value, written)
    return [chinese[v] for v in allowed if v in chinese] + list(allowed)


def write_template(out: str | Path) -> tuple[Path, Path]:
    """An office workbook to fill in (one sheet per table, Chinese headers with * on the
    required ones, an example row under each header, drop-down lists for every
    enumeration, a 说明 sheet listing every column: required or not, allowed values and
    default) and the mapping that imports it: ``perfsim import DIR/perfsim_template.xlsx
    --mapping DIR/mapping.yaml --out data/``. An untouched example row is skipped on import,
    so importing the untouched template says that it is empty."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..core.files import OutputSet
    from .readers import stable_workbook
    from .xlsx import fit_to_page

    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["perfsim 考核数据模板"])
    notes["A1"].font = Font(bold=True, size=14)
    for line in ("填写方法：每张表一行一条记录。带 * 的列必填，其余可留空（取默认值）。每张表第 2 行是示例"
                 "（灰色斜体），导入时原样不动的示例行会被跳过，可直接覆盖或删除。",
                 "下拉列表中的中文和英文取值都可以使用；期间可写 2025-06、2025年6月、2025 或日期。",
                 "导入：perfsim import perfsim_template.xlsx --mapping mapping.yaml --out 我的数据/",
                 "English: one record per row; * marks a required column; row 2 of each sheet is an example "
                 "that is skipped while unchanged; Chinese or English values from the drop-down lists."):
        notes.append([line])
        row = notes.max_row
        notes.merge_cells(start_row=row, start_column=1, end_row=row, end_column=7)
        notes.cell(row=row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        notes.row_dimensions[row].height = 32
    notes.append([])
    head = ["工作表", "列（表头）", "必填", "可选值", "默认值（留空时）", "说明", "英文列名 (contract column)"]
    notes.append(head)
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE3F0")
    grey = Font(italic=True, color="808080")
    for table, sheet_name in TEMPLATE_SHEETS.items():
        sheet = book.create_sheet(sheet_name)
        columns = [c for c in TABLE_COLUMNS[table] if c in CHINESE_HEADERS[table]]
        headers = []
        for column in columns:
            required = column in REQUIRED_COLUMNS[table]
            headers.append(CHINESE_HEADERS[table][column] + ("*" if required else ""))
            default = DEFAULTS.get(table, {}).get(column)
            if required:
                shown_default = "（必填）"
            elif default is None:
                shown_default = "空"
            elif isinstance(default, Copy):
                shown_default = f"同{CHINESE_HEADERS[table].get(str(default), str(default))}"
            else:
                chinese = {v: k for k, v in reversed(list(VALUE_ALIASES.get((table, column), {}).items()))}
                shown_default = chinese.get(str(default), str(default))
            allowed = _allowed(table, column)
            notes.append([sheet_name, headers[-1], "是" if required else "否", "、".join(allowed),
                          shown_default, COLUMN_NOTES_ZH.get((table, column), ""), column])
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDE3F0")
        example = TEMPLATE_EXAMPLES.get(table, {})
        sheet.append([_example_value(example.get(c)) for c in columns])
        for cell in sheet[2]:
            cell.font = grey
        for k, column in enumerate(columns):
            letter = sheet.cell(row=1, column=k + 1).column_letter
            sheet.column_dimensions[letter].width = max(12, 2 * len(headers[k]) + 4)
            allowed = _allowed(table, column)
            if allowed:
                open_list = (table, column) == ("units", "kind")
                check = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True,
                                       showErrorMessage=True, errorStyle="warning" if open_list else "stop",
                                       errorTitle="取值不在列表中",
                                       error="请从下拉列表中选择：" + "、".join(allowed))
                check.add(f"{letter}2:{letter}2000")
                sheet.add_data_validation(check)
        sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFG", (12, 16, 6, 40, 14, 60, 22)):
        notes.column_dimensions[letter].width = width
    for ws in book.worksheets:
        fit_to_page(ws, None if ws is notes else "1:1")
    lines = ["# Mapping of the perfsim office template: perfsim import perfsim_template.xlsx "
             "--mapping mapping.yaml --out my_data/",
             "# Each sheet is read by its Chinese headers; add value maps under 'values:' if your",
             "# workbook writes a value in its own way, e.g. values: {category: {党群部门: party_admin}}",
             "name: perfsim 数据模板", "sheets:"]
    for table, sheet_name in TEMPLATE_SHEETS.items():
        required = "true" if table in ("units", "indicators", "targets", "actuals") else "false"
        lines += [f"  - sheet: {sheet_name}", f"    table: {table}", f"    required: {required}"]
    text = "\n".join(lines) + "\n"
    book.properties.creator = book.properties.lastModifiedBy = "perfsim"
    raw = io.BytesIO()
    book.save(raw)
    data = stable_workbook(raw.getvalue())
    out = Path(out)
    with OutputSet(out) as outputs:
        outputs.path("perfsim_template.xlsx").write_bytes(data)
        outputs.text(text, "mapping.yaml")
    return out / "perfsim_template.xlsx", out / "mapping.yaml"


def _example_value(text: str | None) -> Any:
    """An example cell as Excel would hold it: numbers as numbers."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def write_office_workbook(dataset: Dataset, out: str | Path, years: list[int] | None = None
                          ) -> tuple[Path, Path]:
    """The dataset as an office keeps it: a 单位 sheet, and one sheet per year with a
    title row, two merged header rows (indicator name and unit over 目标 | 完成), units in
    rows and a 合计 row; with the mapping that imports it back (year-end actuals)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from ..core.engine import year_end_actuals
    from ..core.files import OutputSet

    years = list(dataset.years if years is None else years)
    book = Workbook()
    units_sheet = book.active
    units_sheet.title = "单位"
    ucols = [c for c in CHINESE_HEADERS["units"] if dataset.units[c].notna().any()]
    units_sheet.append([CHINESE_HEADERS["units"][c] for c in ucols])
    for row in dataset.units[ucols].itertuples(index=False):
        units_sheet.append([None if pd.isna(v) else v for v in row])
    ind = dataset.indicators.reset_index(drop=True)
    heads = [f"{r.name}（{r.unit_of_measure}）" if isinstance(r.unit_of_measure, str) and r.unit_of_measure
             else str(r.name) for r in ind.itertuples()]
    for year in years:
        ws = book.create_sheet(f"{year}年")
        width = 2 + 2 * len(ind)
        ws.append([f"{year}年度绩效考核指标完成情况表"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        ws.append(["序号", "单位", *[h for h in heads for _ in (0, 1)]])
        ws.append([None, None, *["目标", "完成"] * len(ind)])
        ws.merge_cells(start_row=2, start_column=1, end_row=3, end_column=1)
        ws.merge_cells(start_row=2, start_column=2, end_row=3, end_column=2)
        for k in range(len(ind)):
            ws.merge_cells(start_row=2, start_column=3 + 2 * k, end_row=2, end_column=4 + 2 * k)
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        targets = dataset.targets[dataset.targets["year"].astype(int) == year]
        t = targets.pivot_table(index="unit_id", columns="indicator_id", values="target", aggfunc="first")
        a = year_end_actuals(dataset, year).pivot_table(index="unit_id", columns="indicator_id",
                                                        values="value", aggfunc="first")
        for n, unit in enumerate(dataset.units.itertuples(), start=1):
            row: list[Any] = [n, unit.name]
            for iid in ind["indicator_id"]:
                for frame in (t, a):
                    v = frame.at[unit.unit_id, iid] if unit.unit_id in frame.index and iid in frame.columns else None
                    row.append(None if v is None or pd.isna(v) else float(v))
            ws.append(row)
        ws.append([None, "合计"])
    long_tables = [t for t in ("leader_ratings", "satisfaction", "adjustments", "special", "peers", "goals",
                               "responsibilities") if dataset.has(t)]
    for table in long_tables:                # the other tables as long sheets with Chinese headers
        ws = book.create_sheet(TEMPLATE_SHEETS[table])
        frame = dataset.tables[table]
        cols = [c for c in CHINESE_HEADERS[table] if c in frame and frame[c].notna().any()]
        ws.append([CHINESE_HEADERS[table][c] for c in cols])
        for row in frame[cols].itertuples(index=False):
            ws.append([None if pd.isna(v) else (float(v) if isinstance(v, (int, float)) else v) for v in row])
    lines = ["# perfsim import mapping of an office workbook written by write_office_workbook",
             "name: office workbook", "indicators:"]
    for r in ind.itertuples():
        fields = {"name": r.name, "name_en": r.name_en, "direction": r.direction,
                  "unit_of_measure": r.unit_of_measure, "dimension": r.dimension, "kind": r.kind,
                  "frequency": r.frequency, "visibility": r.visibility}
        body = ", ".join(f"{k}: {_yaml_str(v)}" for k, v in fields.items() if isinstance(v, str) and v)
        lines.append(f"  {r.indicator_id}: {{{body}}}")
    lines += ["sheets:", "  - sheet: 单位", "    table: units", "  - sheet: \"*年\"", "    year: from_name",
              "    header_row: 2", "    header_rows: 2", "    unit_column: 单位", "    skip: [合计]",
              "    columns:"]
    for r, head in zip(ind.itertuples(), heads):
        lines.append(f"      {_yaml_str(head + '/目标')}: {{table: targets, indicator: {r.indicator_id}}}")
        lines.append(f"      {_yaml_str(head + '/完成')}: {{table: actuals, indicator: {r.indicator_id}}}")
    for table in long_tables:
        lines += [f"  - sheet: {TEMPLATE_SHEETS[table]}", f"    table: {table}"]
    out = Path(out)
    with OutputSet(out) as outputs:
        book.save(outputs.path("office.xlsx"))
        outputs.text("\n".join(lines) + "\n", "mapping.yaml")
    return out / "office.xlsx", out / "mapping.yaml"


def _yaml_str(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
