"""The data contract (DESIGN section 3): load and validate a dataset.

A dataset is a folder of CSV files (``units.csv``, ``indicators.csv``, ...) or one .xlsx
workbook with one sheet per table. Every table is validated with a pandera schema built
for this dataset (so references to units and indicators are checked against the units
and indicators actually present). The first problem found becomes one
:class:`~perfsim.errors.PerfsimError` naming the file (and sheet), the row and the column.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import Check

from .errors import PerfsimError

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
DIMENSIONS = ("economic", "political", "cultural", "social", "ecological", "party_building")
FACETS = ("contribution", "social_impact", "satisfaction", "admin_cost")

#: Every table of the contract with its required columns, in the order of DESIGN section 3.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("unit_id", "name", "name_en", "kind", "category", "district_type",
              "staff", "budget", "consumption"),
    "indicators": ("indicator_id", "name", "name_en", "dimension", "direction",
                   "unit_of_measure", "kind", "frequency", "visibility"),
    "targets": ("year", "unit_id", "indicator_id", "target", "method"),
    "actuals": ("period", "unit_id", "indicator_id", "value"),
    "leader_ratings": ("year", "rater_id", "unit_id", "rating"),
    "satisfaction": ("year", "unit_id", "group", "respondents", "score"),
    "adjustments": ("year", "unit_id", "type", "item", "points", "note"),
    "special": ("year", "unit_id", "facet", "score"),
    "peers": ("period", "city", "indicator_id", "value"),
    "truth": ("unit_id", "theta"),
}
#: Tables a dataset must have. The others may be absent; a scheme that needs one says so.
REQUIRED_TABLES = ("units", "indicators", "targets", "actuals")
UNIT_KINDS = ("district", "department")


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
    #: derived views (per-year slices and pivots) computed once; never part of equality
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Only contract table names resolve; anything else is a plain AttributeError.
        if name in TABLE_COLUMNS:
            return self.tables[name]
        raise AttributeError(name)

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
    return pa.Column(str, Check.str_matches(PERIOD_PATTERN, error="is not a period YYYY-MM"))


def _nonneg(nullable: bool = False) -> pa.Column:
    return pa.Column(float, Check.ge(0, error="must not be negative"), coerce=True, nullable=nullable)


def _score100() -> pa.Column:
    return pa.Column(float, Check.in_range(0, 100, error="must be between 0 and 100"), coerce=True)


def _district_type_consistent(df: pd.DataFrame) -> pd.Series:
    is_district = df["kind"] == "district"
    has_type = df["district_type"].notna()
    return (is_district & has_type) | (~is_district & ~has_type)


def build_schemas(unit_ids: Iterable[str] = (), indicator_ids: Iterable[str] = (),
                  kinds: Iterable[str] = UNIT_KINDS) -> dict[str, pa.DataFrameSchema]:
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
            "kind": pa.Column(str, _one_of(kinds)),
            "category": pa.Column(str),
            "district_type": pa.Column(str, _one_of(("central", "outer")), nullable=True),
            "staff": _nonneg(nullable=True),
            "budget": _nonneg(nullable=True),
            "consumption": _nonneg(nullable=True),
        }, checks=[Check(_district_type_consistent,
                         error="column 'district_type' must be central or outer for a "
                               "district and empty for any other unit")]),
        "indicators": pa.DataFrameSchema({
            "indicator_id": pa.Column(str, unique=True, report_duplicates="exclude_first"),
            "name": pa.Column(str),
            "name_en": opt_str,
            "dimension": pa.Column(str),
            "direction": pa.Column(str, _one_of(("higher", "lower"))),
            "unit_of_measure": opt_str,
            "kind": pa.Column(str, _one_of(("continuing", "annual_task"))),
            "frequency": pa.Column(str, _one_of(("monthly", "quarterly", "annual"))),
            "visibility": pa.Column(str, _one_of(("visible", "latent"))),
        }),
        "targets": pa.DataFrameSchema({
            "year": _year(), "unit_id": unit, "indicator_id": indicator,
            "target": _nonneg(),
            "method": pa.Column(str, _one_of(("self", "cascade", "benchmark"))),
        }, unique=["year", "unit_id", "indicator_id"], report_duplicates="exclude_first"),
        "actuals": pa.DataFrameSchema({
            "period": _period(), "unit_id": unit, "indicator_id": indicator,
            "value": pa.Column(float, coerce=True),
        }, unique=["period", "unit_id", "indicator_id"], report_duplicates="exclude_first"),
        "leader_ratings": pa.DataFrameSchema({
            "year": _year(), "rater_id": pa.Column(str), "unit_id": unit, "rating": _score100(),
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
            "value": pa.Column(float, coerce=True),
        }, unique=["period", "city", "indicator_id"], report_duplicates="exclude_first"),
        "truth": pa.DataFrameSchema({
            "unit_id": pa.Column(str, _ref(unit_ids, "unit (not in units)"), unique=True,
                                 report_duplicates="exclude_first"),
            "theta": pa.Column(float, coerce=True),
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


# --------------------------------------------------------------------------- loading

def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns:
        values = frame[column].astype("string").str.strip()
        empty = values.isna() | (values == "")
        frame[column] = values.astype(object).where(~empty, np.nan)
    frame.index = pd.RangeIndex(len(frame))
    if frame.empty:  # an empty column has no values to tell its type: call it text
        frame = frame.astype("str")
    return frame


def _read_folder(folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    frames, sources = {}, {}
    for table in TABLE_COLUMNS:
        path = folder / f"{table}.csv"
        sources[table] = str(path)
        if not path.exists():
            continue
        try:
            frames[table] = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except UnicodeDecodeError:
            raise PerfsimError("not UTF-8 text", where=path) from None
        except pd.errors.EmptyDataError:
            raise PerfsimError("empty file (expected a header row)", where=path) from None
        except pd.errors.ParserError as exc:
            raise PerfsimError(f"not a readable CSV file ({str(exc).strip()})", where=path) from None
    return frames, sources


def _read_workbook(book: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    try:
        sheets = pd.read_excel(book, sheet_name=None, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise PerfsimError(f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})",
                           where=book) from None
    frames = {name: sheets[name] for name in TABLE_COLUMNS if name in sheets}
    sources = {name: f"{book}, sheet '{name}'" for name in TABLE_COLUMNS}
    return frames, sources


def empty_table(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS[table]})


def validate_frames(frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str] | None = None,
                    origin: str = "<memory>", kinds: Iterable[str] = UNIT_KINDS) -> Dataset:
    """Validate raw tables (strings or typed) against the contract and return a Dataset."""
    sources = dict(sources or {})
    for table in TABLE_COLUMNS:
        sources.setdefault(table, f"{origin}: table '{table}'")
    for table in REQUIRED_TABLES:
        if table not in frames:
            raise PerfsimError(f"missing table '{table}' (expected {Path(sources[table]).name})"
                               if origin != "<memory>" else f"missing table '{table}'",
                               where=origin)
    cleaned = {name: _clean(frame) for name, frame in frames.items() if name in TABLE_COLUMNS}
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
    return Dataset(tables=tables, sources=sources, origin=origin)


_LOADED: dict[tuple, Dataset] = {}


def _signature(path: Path) -> tuple:
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    return (str(path.resolve()),) + tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def load_dataset(path: str | Path) -> Dataset:
    """Load a dataset from a folder of CSV files or one .xlsx workbook, and validate it.

    The bundled real index files are recognised as they come (see
    :func:`perfsim.real.published_index`): COINr's ASEM folder, the 2020 EPI folder and a
    UNDP HDR composite-indices CSV (its latest year).

    A dataset whose files are unchanged (same names, sizes and modification times) is
    returned from a per-process cache: its tables are shared, so treat them as read-only
    (raw data is never edited; derive new frames instead).
    """
    path = Path(path)
    if path.exists():
        key = _signature(path)
        if key not in _LOADED:
            if len(_LOADED) >= 8:
                _LOADED.clear()
            _LOADED[key] = _load_dataset(path)
        return _LOADED[key]
    return _load_dataset(path)


def _load_dataset(path: Path) -> Dataset:
    from .real import published_index

    known = published_index(path)        # bundled real data (ASEM, EPI, HDI files) as they come
    if known is not None:
        return known
    if path.is_dir():
        frames, sources = _read_folder(path)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        if not path.exists():
            raise PerfsimError("file not found", where=path)
        frames, sources = _read_workbook(path)
    elif not path.exists():
        raise PerfsimError("no such folder or workbook", where=path)
    else:
        raise PerfsimError("a dataset is a folder of CSV files or one .xlsx workbook", where=path)
    return validate_frames(frames, sources, origin=str(path))


def write_dataset(dataset: Dataset | Mapping[str, pd.DataFrame], out: str | Path,
                  fmt: str = "csv") -> Path:
    """Write the tables as a folder of CSV files (``fmt='csv'``) or one workbook (``'xlsx'``)."""
    tables = dataset.tables if isinstance(dataset, Dataset) else dataset
    out = Path(out)
    if fmt == "xlsx":
        out.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for name, frame in tables.items():
                frame.to_excel(writer, sheet_name=name, index=False)
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
    return out
