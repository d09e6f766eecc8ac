"""The data contract (DESIGN section 3): load and validate a dataset.

A dataset is a folder of CSV files (``units.csv``, ``indicators.csv``, ...) or one .xlsx
workbook with one sheet per table. Every table is validated with a pandera schema built
for this dataset (so references to units and indicators are checked against the units
and indicators actually present). The first problem found becomes one
:class:`~perfsim.errors.PerfsimError` naming the file (and sheet), the row and the column.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.

Only the columns in :data:`REQUIRED_COLUMNS` must be present; every other contract column
is optional and takes the default in :data:`DEFAULTS` (recorded in
:attr:`Dataset.defaults`, printed by ``perfsim validate --data`` and refused by
:func:`perfsim.core.engine.check_fit` when the scheme at hand needs that column).
Periods may be written ``YYYY-MM``, ``YYYY-M``, ``YYYY/MM``, ``YYYY年M月``, as an Excel
date (``2024-12-01 00:00:00``, ``2024-12-31``) or as a year ``YYYY``/``YYYY年`` (the
year's figure, period ``YYYY-12``); years may be written ``2024``, ``2024.0`` or
``2024年``. Each is normalised before validation.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import Check

from .errors import PerfsimError, PerfsimWarning

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
DIMENSIONS = ("economic", "political", "cultural", "social", "ecological", "party_building")
FACETS = ("contribution", "social_impact", "satisfaction", "admin_cost")

#: Every table of the contract with its required columns, in the order of DESIGN section 3.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("unit_id", "name", "name_en", "kind", "category", "district_type",
              "staff", "budget", "consumption"),
    "indicators": ("indicator_id", "name", "name_en", "dimension", "direction",
                   "unit_of_measure", "kind", "frequency", "visibility", "season"),
    "targets": ("year", "unit_id", "indicator_id", "target", "method"),
    "actuals": ("period", "unit_id", "indicator_id", "value"),
    "leader_ratings": ("year", "rater_id", "unit_id", "rating", "panel"),
    "satisfaction": ("year", "unit_id", "group", "respondents", "score"),
    "adjustments": ("year", "unit_id", "type", "item", "points", "note"),
    "special": ("year", "unit_id", "facet", "score"),
    "peers": ("period", "city", "indicator_id", "value"),
    "truth": ("unit_id", "theta", "visible", "latent", "year"),
    "goals": ("year", "indicator_id", "goal"),
    "responsibilities": ("year", "unit_id", "indicator_id", "role", "share"),
}
#: Tables a dataset must have. The others may be absent; a scheme that needs one says so.
REQUIRED_TABLES = ("units", "indicators", "targets", "actuals")
#: The unit kinds of the source document. Any other kind (a street office, a state-owned
#: enterprise) is allowed too; a scheme may list the kinds it accepts (``unit_kinds``).
UNIT_KINDS = ("district", "department")
TARGET_METHODS = ("self", "cascade", "benchmark", "history", "unspecified")


class Copy(str):
    """A default that copies another column of the same row (``name`` defaults to the id)."""


#: Columns every table must have; the other columns of :data:`TABLE_COLUMNS` are optional.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("unit_id", "category"),
    "indicators": ("indicator_id", "direction"),
    "targets": ("year", "unit_id", "indicator_id", "target"),
    "actuals": ("period", "unit_id", "indicator_id", "value"),
    "leader_ratings": ("year", "rater_id", "unit_id", "rating"),
    "satisfaction": ("year", "unit_id", "group", "score"),
    "adjustments": ("year", "unit_id", "type"),
    "special": ("year", "unit_id", "facet", "score"),
    "peers": ("period", "city", "indicator_id", "value"),
    "truth": ("unit_id", "theta"),
    "goals": ("year", "indicator_id", "goal"),
    "responsibilities": ("year", "unit_id", "indicator_id", "role", "share"),
}
#: What an absent optional column means (``None``: empty; :class:`Copy`: another column).
DEFAULTS: dict[str, dict[str, object]] = {
    "units": {"name": Copy("unit_id"), "name_en": None, "kind": "unit", "district_type": None,
              "staff": None, "budget": None, "consumption": None},
    "indicators": {"name": Copy("indicator_id"), "name_en": None, "dimension": None,
                   "unit_of_measure": None, "kind": "continuing", "frequency": "annual",
                   "visibility": "visible", "season": None},
    "targets": {"method": "unspecified"},
    "leader_ratings": {"panel": "leaders"},
    "satisfaction": {"respondents": "1"},
    "adjustments": {"item": "", "points": None, "note": None},
    "truth": {"visible": None, "latent": None, "year": None},
}
#: Chinese names of the tables, accepted as sheet names of a workbook.
SHEET_ALIASES: dict[str, tuple[str, ...]] = {
    "units": ("单位", "责任单位", "被考核单位"),
    "indicators": ("指标",),
    "targets": ("目标", "目标值"),
    "actuals": ("实绩", "完成值", "实际值", "实际"),
    "leader_ratings": ("领导评价", "市领导评价"),
    "satisfaction": ("满意度", "满意度评价", "群众满意度"),
    "adjustments": ("加减分", "加分减分"),
    "special": ("专项", "特色指标", "专项指标"),
    "peers": ("对标", "对标城市"),
    "truth": ("真值",),
    "goals": ("城市目标", "全市目标"),
    "responsibilities": ("责任分工", "主责分办"),
}


@dataclass(frozen=True)
class Dataset:
    """Validated tables of the data contract, plus where each came from.

    ``tables[name]`` is a DataFrame whose index is the 0-based data row of the source
    file (so ``index + 2`` is the spreadsheet row). ``sources[name]`` names the file
    (and sheet). Absent optional tables are empty frames with the contract's columns.
    """

    tables: Mapping[str, pd.DataFrame]
    sources: Mapping[str, str] = field(default_factory=dict)
    origin: str = "<memory>"
    #: per table, the optional columns the source did not have (filled with DEFAULTS)
    defaults: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: True for a synthetic world (generated by perfsim, marked as such on disk)
    synthetic: bool = False
    #: derived views (per-year slices and pivots) computed once; never part of equality
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Only contract table names resolve; anything else is a plain AttributeError.
        if name in TABLE_COLUMNS:
            return self.tables[name]
        raise AttributeError(name)

    def replace(self, origin: str | None = None, **tables: pd.DataFrame) -> "Dataset":
        """A new dataset with some tables replaced (already valid frames; nothing is
        re-validated, nothing of this dataset changes). Derived views are not carried over."""
        unknown = set(tables) - set(TABLE_COLUMNS)
        if unknown:
            raise ValueError(f"not tables of the contract: {sorted(unknown)}")
        return Dataset(tables={**self.tables, **tables}, sources=self.sources,
                       origin=origin if origin is not None else self.origin,
                       defaults={k: v for k, v in self.defaults.items() if k not in tables},
                       synthetic=self.synthetic)

    def defaulted(self, table: str, column: str) -> bool:
        """Whether ``column`` of ``table`` was absent from the source (filled by default)."""
        return column in self.defaults.get(table, ())

    def has(self, table: str) -> bool:
        return table in self.tables and len(self.tables[table]) > 0

    def where(self, table: str, index: int | None = None, column: str | None = None) -> str:
        """Human-readable location of a table, a row or a cell."""
        text = self.sources.get(table, f"table '{table}'")
        if index is not None:
            text += f", row {int(index) + 2}"
        if column is not None:
            text += f", column '{column}'"
        return text

    @property
    def years(self) -> list[int]:
        """Years with targets or actuals, ascending."""
        if "years" not in self.cache:
            years = set(self.tables["targets"]["year"].astype(int))
            years |= {int(p[:4]) for p in self.tables["actuals"]["period"].unique()}
            self.cache["years"] = sorted(years)
        return list(self.cache["years"])

    def content_hash(self) -> str:
        """sha256 over every table's canonical CSV text (independent of file format)."""
        digest = hashlib.sha256()
        for name in TABLE_COLUMNS:
            frame = self.tables.get(name)
            if frame is None or frame.empty:
                continue
            digest.update(name.encode())
            digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
        return digest.hexdigest()


# --------------------------------------------------------------------------- schemas

def _ref(ids: Iterable[str], what: str) -> Check:
    return Check.isin(sorted(set(ids)), error=f"unknown {what}")


def _one_of(values: Iterable[str]) -> Check:
    values = tuple(values)
    return Check.isin(values, error="must be one of " + ", ".join(values))


def _year() -> pa.Column:
    return pa.Column(int, Check.in_range(1900, 2200, error="is not a plausible year"), coerce=True)


def _period() -> pa.Column:
    return pa.Column(str, Check.str_matches(
        PERIOD_PATTERN, error="is not a period (write YYYY-MM, YYYY年M月, YYYY or an Excel date)"))


def _finite() -> Check:
    return Check(lambda s: np.isfinite(s.astype(float)) | s.isna(), element_wise=False,
                 error="is not a finite number")


def _number(nullable: bool = False) -> pa.Column:
    return pa.Column(float, _finite(), coerce=True, nullable=nullable)


def _nonneg(nullable: bool = False) -> pa.Column:
    return pa.Column(float, [_finite(), Check.ge(0, error="must not be negative")], coerce=True,
                     nullable=nullable)


def _score100() -> pa.Column:
    return pa.Column(float, Check.in_range(0, 100, error="must be between 0 and 100"), coerce=True)


def build_schemas(unit_ids: Iterable[str] = (), indicator_ids: Iterable[str] = (),
                  kinds: Iterable[str] | None = None) -> dict[str, pa.DataFrameSchema]:
    """pandera schemas for every table; references are checked against the given ids."""
    unit_ids, indicator_ids = list(unit_ids), list(indicator_ids)
    unit = pa.Column(str, _ref(unit_ids, "unit (not in units)"))
    indicator = pa.Column(str, _ref(indicator_ids, "indicator (not in indicators)"))
    opt_str = pa.Column(str, nullable=True)
    return {
        "units": pa.DataFrameSchema({
            "unit_id": pa.Column(str, unique=True, report_duplicates="exclude_first"),
            "name": pa.Column(str),
            "name_en": opt_str,
            "kind": pa.Column(str, _one_of(kinds)) if kinds is not None else pa.Column(str),
            "category": pa.Column(str),
            "district_type": opt_str,
            "staff": _nonneg(nullable=True),
            "budget": _nonneg(nullable=True),
            "consumption": _nonneg(nullable=True),
        }),
        "indicators": pa.DataFrameSchema({
            "indicator_id": pa.Column(str, unique=True, report_duplicates="exclude_first"),
            "name": pa.Column(str),
            "name_en": opt_str,
            "dimension": opt_str,
            "direction": pa.Column(str, _one_of(("higher", "lower"))),
            "unit_of_measure": opt_str,
            "kind": pa.Column(str, _one_of(("continuing", "annual_task"))),
            "frequency": pa.Column(str, _one_of(("monthly", "quarterly", "annual"))),
            "visibility": pa.Column(str, _one_of(("visible", "latent"))),
            "season": opt_str,
        }),
        "targets": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit, "indicator_id": indicator,
            "target": _nonneg(),
            "method": pa.Column(str, _one_of(TARGET_METHODS)),
        }, unique=["year", "unit_id", "indicator_id"], report_duplicates="exclude_first"),
        "actuals": pa.DataFrameSchema({
            "period": _period(), "unit_id": unit, "indicator_id": indicator,
            "value": _number(),
        }, unique=["period", "unit_id", "indicator_id"], report_duplicates="exclude_first"),
        "leader_ratings": pa.DataFrameSchema({
            "year": _year(), "rater_id": pa.Column(str), "unit_id": unit, "rating": _score100(),
            "panel": pa.Column(str),
        }, unique=["year", "rater_id", "unit_id"], report_duplicates="exclude_first"),
        "satisfaction": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit, "group": pa.Column(str),
            "respondents": pa.Column(int, Check.ge(1, error="must be at least 1"), coerce=True),
            "score": _score100(),
        }, unique=["year", "unit_id", "group"], report_duplicates="exclude_first"),
        "adjustments": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit,
            "type": pa.Column(str, _one_of(("bonus", "deduction", "veto"))),
            "item": pa.Column(str), "points": _nonneg(nullable=True), "note": opt_str,
        }),
        "special": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit, "facet": pa.Column(str, _one_of(FACETS)),
            "score": _score100(),
        }, unique=["year", "unit_id", "facet"], report_duplicates="exclude_first"),
        "peers": pa.DataFrameSchema({
            "period": _period(), "city": pa.Column(str), "indicator_id": indicator,
            "value": _number(),
        }, unique=["period", "city", "indicator_id"], report_duplicates="exclude_first"),
        "goals": pa.DataFrameSchema({
            "year": _year(), "indicator_id": indicator, "goal": _number(),
        }, unique=["year", "indicator_id"], report_duplicates="exclude_first"),
        "responsibilities": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit, "indicator_id": indicator,
            "role": pa.Column(str, _one_of(("lead", "co"))),
            "share": pa.Column(float, [_finite(), Check.in_range(0, 1, include_min=False,
                                                                 error="must be above 0 and at most 1")],
                               coerce=True),
        }, unique=["year", "unit_id", "indicator_id"], report_duplicates="exclude_first"),
        "truth": pa.DataFrameSchema({
            "unit_id": pa.Column(str, _ref(unit_ids, "unit (not in units)"), unique=True,
                                 report_duplicates="exclude_first"),
            "theta": _number(),
            "visible": _number(nullable=True), "latent": _number(nullable=True),
            "year": pa.Column(float, Check.in_range(1900, 2200, error="is not a plausible year"),
                              coerce=True, nullable=True),
        }),
    }


# --------------------------------------------------------------------------- errors

def _first_failure(cases: pd.DataFrame) -> pd.Series:
    """The failure a person should fix first: missing columns, then unparsable values,
    then row-level failures in row order, then anything else."""

    def order(row: pd.Series) -> tuple[int, float]:
        check = str(row["check"])
        index = row["index"]
        has_row = index is not None and not pd.isna(index)
        if check == "column_in_dataframe":
            rank = 0
        elif check.startswith("coerce_dtype"):
            rank = 1
        elif has_row:
            rank = 2
        else:
            rank = 3
        return rank, float(index) if has_row else 0.0

    keys = [order(row) for _, row in cases.iterrows()]
    best = min(range(len(keys)), key=keys.__getitem__)
    return cases.iloc[best]


def _describe(case: pd.Series, table: str, cases: pd.DataFrame) -> tuple[int | None, str | None, str]:
    """(row index, column, problem) for one pandera failure case."""
    check = str(case["check"])
    if case["schema_context"] == "DataFrameSchema" and check == "multiple_fields_uniqueness":
        same = cases[(cases["check"] == check) & (cases["index"] == case["index"])]
        key = ", ".join(same["column"].astype(str))
        values = ", ".join(str(v) for v in same["failure_case"])
        return int(case["index"]), None, f"duplicate row for the key ({key}) = ({values})"
    if case["schema_context"] == "DataFrameSchema" and check != "column_in_dataframe":
        index = case["index"]
        return (None if index is None or pd.isna(index) else int(index)), None, check
    column = case["column"] if isinstance(case["column"], str) else None
    value = case["failure_case"]
    if hasattr(value, "item"):  # numpy scalar -> plain Python value for a readable repr
        value = value.item()
    index = case["index"]
    index = None if index is None or pd.isna(index) else int(index)
    shown = "empty" if value is None or (not isinstance(value, str) and pd.isna(value)) else repr(value)
    if check == "column_in_dataframe":
        return None, None, f"missing column '{value}' (needed: {', '.join(TABLE_COLUMNS[table])})"
    if check.startswith("coerce_dtype"):
        want = "a whole number" if "int" in check else "a number"
        return index, column, f"{shown} is not {want}"
    if check == "not_nullable":
        return index, column, "empty value (required)"
    if check in ("field_uniqueness", "multiple_fields_uniqueness"):
        if column is None:
            return index, None, f"duplicate row for the key ({value})"
        return index, column, f"duplicate {column} {shown}"
    if check.startswith("dtype("):
        return index, column, f"{shown} has the wrong type ({check})"
    if column is None:
        return index, None, check
    return index, column, f"{shown}: {check}"


def _validate_table(frame: pd.DataFrame, table: str, schema: pa.DataFrameSchema,
                    where: str) -> pd.DataFrame:
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        index, column, problem = _describe(_first_failure(cases), table, cases)
        text = where
        if index is not None:
            text += f", row {index + 2}"
        if column is not None:
            text += f", column '{column}'"
        raise PerfsimError(problem, where=text) from None


# --------------------------------------------------------------------------- normalising

_MONTH_FORMS = (
    r"(\d{4})-(\d{1,2})",                       # 2024-12, 2024-6
    r"(\d{4})/(\d{1,2})",                       # 2024/12
    r"(\d{4})年(\d{1,2})月",                    # 2024年12月
    r"(\d{4})[-/](\d{1,2})[-/]\d{1,2}(?:[ T]00:00(?::00)?)?",   # an Excel or ISO date
    r"(\d{4})年(\d{1,2})月\d{1,2}日",           # 2024年12月31日
)
_QUARTER_FORMS = (r"(\d{4})-?Q([1-4])", r"(\d{4})年第?([1-4一二三四])季度?")
_YEAR_FORMS = (r"(\d{4})", r"(\d{4})\.0+", r"(\d{4})年", r"(\d{4})年度")
_CN_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4"}


def normalise_period(text: str) -> str:
    """A period as ``YYYY-MM``: months, dates, quarters (their last month) and years (the
    year's figure, December) as offices write them; anything else is returned unchanged
    (and refused by validation)."""
    text = str(text).strip()
    for form in _MONTH_FORMS:
        m = re.fullmatch(form, text)
        if m and 1 <= int(m.group(2)) <= 12:
            return f"{m.group(1)}-{int(m.group(2)):02d}"
    for form in _QUARTER_FORMS:
        m = re.fullmatch(form, text, flags=re.IGNORECASE)
        if m:
            return f"{m.group(1)}-{3 * int(_CN_DIGITS.get(m.group(2), m.group(2))):02d}"
    for form in _YEAR_FORMS:
        m = re.fullmatch(form, text)
        if m:
            return f"{m.group(1)}-12"
    return text


def normalise_year(text: str) -> str:
    """A year as ``YYYY`` from ``2024``, ``2024.0`` (a number cell) or ``2024年``; anything
    else unchanged."""
    text = str(text).strip()
    for form in _YEAR_FORMS:
        m = re.fullmatch(form, text)
        if m:
            return m.group(1)
    return text


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    for column, fn in (("period", normalise_period), ("year", normalise_year)):
        if column in frame.columns and len(frame):
            values = frame[column]
            text = values[values.notna()].astype(str)
            mapping = {v: fn(v) for v in text.unique()}
            frame[column] = values.where(values.isna(), text.map(mapping))
    return frame


# --------------------------------------------------------------------------- validation

def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        values = frame[column].astype("string").str.strip()
        empty = values.isna() | (values == "")
        frame[column] = values.astype(object).where(~empty, np.nan)
    if not (pd.api.types.is_integer_dtype(frame.index) and frame.index.is_unique):
        frame.index = pd.RangeIndex(len(frame))   # readers keep each row's place in its file
    if frame.empty:  # an empty column has no values to tell its type: call it text
        frame = frame.astype("str")
    return _normalise(frame)


def _complete(frame: pd.DataFrame, table: str, where: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Check the required columns (all missing ones in one message), fill the optional
    ones from :data:`DEFAULTS`, and warn about columns the contract does not know."""
    columns = TABLE_COLUMNS[table]
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    if missing:
        optional = [c for c in columns if c not in REQUIRED_COLUMNS[table]]
        names = ", ".join(f"'{c}'" for c in missing)
        raise PerfsimError(f"missing column{'s' if len(missing) > 1 else ''} {names} (required: "
                           f"{', '.join(REQUIRED_COLUMNS[table])}"
                           + (f"; optional: {', '.join(optional)}" if optional else "") + ")",
                           where=where)
    unknown = [str(c) for c in frame.columns if c not in columns]
    if unknown:
        warnings.warn(f"{where}: column(s) {', '.join(repr(c) for c in unknown)} are not part of "
                      f"the contract and are ignored (columns: {', '.join(columns)})",
                      PerfsimWarning, stacklevel=4)
    filled = []
    for column in columns:
        if column in frame.columns:
            continue
        default = DEFAULTS[table][column]
        if isinstance(default, Copy):
            frame[column] = frame[default]
        else:
            frame[column] = pd.Series(np.nan if default is None else default, index=frame.index,
                                      dtype=object)
        filled.append(column)
    return frame[list(columns)], tuple(filled)


def empty_table(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS[table]})


def validate_frames(frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str] | None = None,
                    origin: str = "<memory>", kinds: Iterable[str] | None = None) -> Dataset:
    """Validate raw tables (strings or typed) against the contract and return a Dataset.

    ``kinds``: the unit kinds allowed (any when None)."""
    sources = dict(sources or {})
    for table in TABLE_COLUMNS:
        sources.setdefault(table, f"{origin}: table '{table}'")
    for table in REQUIRED_TABLES:
        if table not in frames:
            raise PerfsimError(f"missing table '{table}' (expected {Path(sources[table]).name})"
                               if origin != "<memory>" else f"missing table '{table}'",
                               where=origin)
    cleaned, defaults = {}, {}
    for name, frame in frames.items():
        if name in TABLE_COLUMNS:
            cleaned[name], filled = _complete(_clean(frame), name, sources[name])
            if cleaned[name].empty:     # no values to tell a type: text, like _clean does
                cleaned[name] = cleaned[name].astype("str")
            if filled:
                defaults[name] = filled
    base = build_schemas(kinds=kinds)
    units = _validate_table(cleaned["units"], "units", base["units"], sources["units"])
    indicators = _validate_table(cleaned["indicators"], "indicators", base["indicators"],
                                 sources["indicators"])
    schemas = build_schemas(units["unit_id"], indicators["indicator_id"], kinds=kinds)
    tables: dict[str, pd.DataFrame] = {"units": units, "indicators": indicators}
    for table in TABLE_COLUMNS:
        if table in tables:
            continue
        if table not in cleaned:
            tables[table] = empty_table(table)
            continue
        tables[table] = _validate_table(cleaned[table], table, schemas[table], sources[table])
    return Dataset(tables=tables, sources=sources, origin=origin, defaults=defaults)
