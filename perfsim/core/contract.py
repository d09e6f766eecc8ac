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

import functools

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import Check

from .errors import PerfsimError, PerfsimWarning, raise_problems

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

#: Chinese column headers of every table (the import template's, results' and readers'),
#: accepted in place of the contract's names in any CSV or workbook (a trailing * marks a
#: required column in the template and is ignored).
COLUMN_LABELS_ZH: dict[str, dict[str, str]] = {
    "units": {"unit_id": "单位编码", "name": "单位名称", "name_en": "英文名称", "kind": "单位类型",
              "category": "考核类别", "district_type": "城区类型", "staff": "编制人数", "budget": "预算(万元)",
              "consumption": "能耗"},
    "indicators": {"indicator_id": "指标编码", "name": "指标名称", "name_en": "英文名称", "dimension": "维度",
                   "direction": "方向", "unit_of_measure": "计量单位", "kind": "指标类型", "frequency": "报送频率",
                   "visibility": "可见性", "season": "季节性"},
    "targets": {"year": "年度", "unit_id": "单位编码", "indicator_id": "指标编码", "target": "目标值",
                "method": "目标来源"},
    "actuals": {"period": "期间", "unit_id": "单位编码", "indicator_id": "指标编码", "value": "完成值"},
    "leader_ratings": {"year": "年度", "rater_id": "评价人", "unit_id": "单位编码", "rating": "评分",
                       "panel": "评价组"},
    "satisfaction": {"year": "年度", "unit_id": "单位编码", "group": "调查群体", "respondents": "样本数",
                     "score": "满意度得分"},
    "adjustments": {"year": "年度", "unit_id": "单位编码", "type": "加减分类型", "item": "事项", "points": "分值",
                    "note": "说明"},
    "special": {"year": "年度", "unit_id": "单位编码", "facet": "方面", "score": "得分"},
    "peers": {"period": "期间", "city": "城市", "indicator_id": "指标编码", "value": "数值"},
    "truth": {"unit_id": "单位编码", "theta": "真实绩效", "visible": "显绩", "latent": "潜绩", "year": "年度"},
    "goals": {"year": "年度", "indicator_id": "指标编码", "goal": "全市目标"},
    "responsibilities": {"year": "年度", "unit_id": "单位编码", "indicator_id": "指标编码", "role": "责任类型",
                         "share": "分担比例"},
}
#: older Chinese headers still read (the template of earlier versions)
_OLD_LABELS = {("adjustments", "类型"): "type"}

#: The contract's enumerations: (table, column) -> allowed values. ``units.kind`` is open
#: (any kind is allowed unless a scheme lists its kinds); its Chinese aliases still apply.
ENUMERATIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("indicators", "direction"): ("higher", "lower"),
    ("indicators", "kind"): ("continuing", "annual_task"),
    ("indicators", "frequency"): ("monthly", "quarterly", "annual"),
    ("indicators", "visibility"): ("visible", "latent"),
    ("targets", "method"): TARGET_METHODS,
    ("adjustments", "type"): ("bonus", "deduction", "veto"),
    ("special", "facet"): FACETS,
    ("responsibilities", "role"): ("lead", "co"),
    ("units", "kind"): UNIT_KINDS,
    ("units", "district_type"): ("central", "outer"),
}
#: How offices write the enumerations in Chinese: (table, column) -> {written: contract
#: value}. Applied to every dataset (CSV folders, workbooks, imports) before validation;
#: an import mapping's ``values:`` extends them. The first Chinese form of each value is
#: the one the template offers in its drop-down lists.
VALUE_ALIASES: dict[tuple[str, str], dict[str, str]] = {
    ("indicators", "direction"): {"正向": "higher", "逆向": "lower", "正向指标": "higher", "逆向指标": "lower",
                                  "负向": "lower", "负向指标": "lower", "越大越好": "higher", "越小越好": "lower",
                                  "越高越好": "higher", "越低越好": "lower"},
    ("indicators", "kind"): {"常规指标": "continuing", "年度任务": "annual_task", "常规": "continuing",
                             "持续性指标": "continuing", "持续": "continuing", "任务": "annual_task",
                             "任务类": "annual_task", "年度重点任务": "annual_task"},
    ("indicators", "frequency"): {"月度": "monthly", "季度": "quarterly", "年度": "annual", "每月": "monthly",
                                  "月报": "monthly", "月": "monthly", "每季": "quarterly", "每季度": "quarterly",
                                  "季报": "quarterly", "季": "quarterly", "每年": "annual", "年报": "annual",
                                  "年": "annual"},
    ("indicators", "visibility"): {"显绩": "visible", "潜绩": "latent", "显性": "visible", "隐性": "latent"},
    ("targets", "method"): {"单位自报": "self", "逐级分解": "cascade", "对标": "benchmark", "历史": "history",
                            "未注明": "unspecified", "自报": "self", "自定": "self", "分解": "cascade",
                            "任务分解": "cascade", "标杆": "benchmark", "对标城市": "benchmark",
                            "历史值": "history", "基于历史": "history", "其他": "unspecified"},
    ("adjustments", "type"): {"加分": "bonus", "减分": "deduction", "一票否决": "veto", "扣分": "deduction",
                              "否决": "veto"},
    ("special", "facet"): {"实际贡献率": "contribution", "社会影响性": "social_impact", "群众满意度": "satisfaction",
                           "行政成本": "admin_cost", "实际贡献": "contribution", "贡献率": "contribution",
                           "社会影响": "social_impact", "满意度": "satisfaction"},
    ("responsibilities", "role"): {"牵头": "lead", "配合": "co", "牵头单位": "lead", "主责": "lead",
                                   "配合单位": "co", "协办": "co"},
    ("units", "kind"): {"区": "district", "市直部门": "department", "区县": "district", "县": "district",
                        "县区": "district", "城区": "district", "部门": "department", "市直单位": "department",
                        "市级部门": "department", "市直机关": "department"},
    ("units", "district_type"): {"中心城区": "central", "外围城区": "outer", "中心区": "central",
                                 "主城区": "central", "外围区": "outer", "郊区": "outer", "远郊区": "outer"},
}


#: The template's example row of each sheet (row 2 under the header): a row that still
#: reads exactly so is skipped (and counted), so an untouched template imports nothing.
TEMPLATE_EXAMPLES: dict[str, dict[str, str]] = {
    "units": {"unit_id": "D01", "name": "示例区", "kind": "区", "category": "district", "district_type": "中心城区",
              "staff": "120", "budget": "5000"},
    "indicators": {"indicator_id": "E01", "name": "地区生产总值增速", "dimension": "economic", "direction": "正向",
                   "unit_of_measure": "%", "kind": "常规指标", "frequency": "季度", "visibility": "显绩"},
    "targets": {"year": "2025", "unit_id": "D01", "indicator_id": "E01", "target": "6.5", "method": "逐级分解"},
    "actuals": {"period": "2025-12", "unit_id": "D01", "indicator_id": "E01", "value": "6.8"},
    "leader_ratings": {"year": "2025", "rater_id": "R01", "unit_id": "D01", "rating": "88"},
    "satisfaction": {"year": "2025", "unit_id": "D01", "group": "市民", "respondents": "300", "score": "86.5"},
    "adjustments": {"year": "2025", "unit_id": "D01", "type": "加分", "item": "国家级表彰", "points": "0.5"},
    "special": {"year": "2025", "unit_id": "D01", "facet": "实际贡献率", "score": "85"},
    "peers": {"period": "2025-12", "city": "对标城市甲", "indicator_id": "E01", "value": "6.2"},
    "goals": {"year": "2025", "indicator_id": "E01", "goal": "6.5"},
    "responsibilities": {"year": "2025", "unit_id": "D01", "indicator_id": "E01", "role": "牵头", "share": "1"},
}


def is_template_example(table: str, record: Mapping[str, object]) -> bool:
    """Whether a row (column -> text, Chinese forms or contract values) is the template's
    untouched example row."""
    example = TEMPLATE_EXAMPLES.get(table)
    if not example:
        return False

    def norm(column: str, value: object) -> str:
        text = "".join(str(value).split())
        return VALUE_ALIASES.get((table, column), {}).get(text, text)

    given = {str(k): norm(str(k), v) for k, v in record.items()
             if not str(k).startswith("_") and v is not None and not (isinstance(v, float) and np.isnan(v))
             and str(v).strip()}
    return set(given) == set(example) and all(given[k] == norm(k, example[k]) for k in given)


def header_name(table: str, header: object) -> str:
    """The contract column a header names: the column itself, or its Chinese label (white
    space and a trailing * ignored); anything else unchanged."""
    text = "".join(str(header).split()).rstrip("*＊")
    for column, label in COLUMN_LABELS_ZH.get(table, {}).items():
        if text == column or text == "".join(label.split()):
            return column
    return _OLD_LABELS.get((table, text), str(header).strip())


def translate_values(frame: pd.DataFrame, table: str,
                     extra: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """The frame with the enumerations' Chinese forms (:data:`VALUE_ALIASES`) and the
    ``extra`` maps (column -> {written: value}, tried first) turned into contract values;
    values neither map knows are left as they are (and refused by validation if wrong)."""
    extra = extra or {}
    columns = {c for (t, c) in VALUE_ALIASES if t == table} | set(extra)
    for column in columns:
        if column not in frame.columns or not len(frame):
            continue
        aliases = {**VALUE_ALIASES.get((table, column), {}), **extra.get(column, {})}
        aliases = {"".join(str(k).split()): str(v) for k, v in aliases.items()}
        values = frame[column]
        present = values.notna()
        if not present.any():
            continue
        text = values[present].astype(str)
        mapped = text.map(lambda v: aliases.get("".join(v.split()), v))
        frame[column] = values.astype(object).where(~present, mapped)
    return frame



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


def build_schemas(unit_ids: Iterable[str] | None = (), indicator_ids: Iterable[str] | None = (),
                  kinds: Iterable[str] | None = None) -> dict[str, pa.DataFrameSchema]:
    """pandera schemas for every table; references are checked against the given ids (not
    at all where the ids are None)."""
    unit = pa.Column(str, _ref(list(unit_ids), "unit (not in units)")) if unit_ids is not None else pa.Column(str)
    indicator = (pa.Column(str, _ref(list(indicator_ids), "indicator (not in indicators)"))
                 if indicator_ids is not None else pa.Column(str))
    unit_ids = list(unit_ids) if unit_ids is not None else None
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
            "unit_id": pa.Column(str, _ref(unit_ids, "unit (not in units)") if unit_ids is not None else None,
                                 unique=True, report_duplicates="exclude_first"),
            "theta": _number(),
            "visible": _number(nullable=True), "latent": _number(nullable=True),
            "year": pa.Column(float, Check.in_range(1900, 2200, error="is not a plausible year"),
                              coerce=True, nullable=True),
        }),
    }


# --------------------------------------------------------------------------- errors

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


def _cases(cases: pd.DataFrame) -> list[pd.Series]:
    """The failure cases worth a sentence each, in the order a person fixes them (missing
    columns, unparsable values, rows in order, the rest), one per (row, column, check)."""
    keys, seen = [], set()
    # a column whose values do not parse fails its checks too (pandera runs them on the
    # text): say only that they do not parse
    unparsed = set(cases.loc[cases["check"].astype(str).str.startswith("coerce_dtype"), "column"].astype(str))
    for _, case in cases.iterrows():
        if str(case["column"]) in unparsed and not str(case["check"]).startswith("coerce_dtype"):
            continue
        index = case["index"]
        has_row = index is not None and not pd.isna(index)
        key = (float(index) if has_row else None, str(case["column"]), str(case["check"]))
        if str(case["check"]) == "multiple_fields_uniqueness":
            key = (key[0], None, key[2])
        if key in seen:
            continue
        seen.add(key)
        keys.append(case)

    def order(case: pd.Series) -> tuple[int, float]:
        check = str(case["check"])
        index = case["index"]
        has_row = index is not None and not pd.isna(index)
        rank = 0 if check == "column_in_dataframe" else 1 if check.startswith("coerce_dtype") else 2 if has_row else 3
        return rank, float(index) if has_row else 0.0

    return sorted(keys, key=order)


def _table_problems(frame: pd.DataFrame, table: str, schema: pa.DataFrameSchema, where: str,
                    locate: "Callable[[int], str] | None" = None) -> tuple[pd.DataFrame | None, list[str]]:
    """The validated frame (None when it fails) and every problem found, each naming where
    it is: the file (and sheet), the row (or, for an import, the workbook cell's row) and
    the column with its Chinese label."""
    try:
        return schema.validate(frame, lazy=True), []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    problems = []
    for case in _cases(cases):
        index, column, problem = _describe(case, table, cases)
        if index is not None and locate is not None:
            text = locate(index)
        else:
            text = where + (f", row {index + 2}" if index is not None else "")
        if column is not None:
            text += f", column '{column}'"
        allowed = VALUE_ALIASES.get((table, column or ""))
        if allowed and "must be one of" in problem:
            firsts: dict[str, str] = {}
            for written, value in allowed.items():
                firsts.setdefault(value, written)
            problem += " (or in Chinese: " + ", ".join(f"{w}={v}" for v, w in firsts.items()) + ")"
        problems.append(f"{text}: {problem}")
    return None, problems


def _validate_table(frame: pd.DataFrame, table: str, schema: pa.DataFrameSchema,
                    where: str) -> pd.DataFrame:
    """One table validated; its problems raised together."""
    valid, problems = _table_problems(frame, table, schema, where)
    raise_problems(problems, what=f"table '{table}'")
    return valid


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

def _clean(frame: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    if table is not None:                       # Chinese headers (the template's) name columns too
        renamed = [header_name(table, c) for c in frame.columns]
        if len(set(renamed)) == len(renamed):
            frame.columns = renamed
    for column in frame.columns:
        values = frame[column].astype("string").str.strip()
        empty = values.isna() | (values == "")
        frame[column] = values.astype(object).where(~empty, np.nan)
    if not (pd.api.types.is_integer_dtype(frame.index) and frame.index.is_unique):
        frame.index = pd.RangeIndex(len(frame))   # readers keep each row's place in its file
    if frame.empty:  # an empty column has no values to tell its type: call it text
        frame = frame.astype("str")
    if table is not None:
        frame = translate_values(frame, table)
    return _normalise(frame)


def warn_unknown_columns(unknown: list[str], table: str, where: str, stacklevel: int = 2) -> None:
    """Say that columns the contract does not know are ignored (the first ten named)."""
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10
                                                            else "")
        warnings.warn(f"{where}: column(s) {shown} are not part of the contract and are ignored (columns: "
                      f"{', '.join(TABLE_COLUMNS[table])})", PerfsimWarning, stacklevel=stacklevel + 1)


def _drop_examples(frame: pd.DataFrame, table: str, where: str) -> pd.DataFrame:
    """The frame without the template's untouched example row (said in a warning)."""
    example = TEMPLATE_EXAMPLES.get(table)
    key = next(iter(example)) if example else None
    if key is None or key not in frame.columns or not len(frame):
        return frame
    candidates = frame.index[frame[key].astype(str).str.replace(r"\s", "", regex=True) == example[key]]
    drop = [i for i in candidates if is_template_example(table, frame.loc[i].to_dict())]
    if drop:
        warnings.warn(f"{where}: row {int(drop[0]) + 2} is the template's example row and is skipped",
                      PerfsimWarning, stacklevel=4)
        frame = frame.drop(index=drop)
    return frame


def _complete(frame: pd.DataFrame, table: str, where: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Check the required columns (all missing ones in one message), fill the optional
    ones from :data:`DEFAULTS`, and warn about columns the contract does not know.

    An optional column left blank is an absent column (it takes its default, recorded as
    such); blank cells of an optional column that has a value default take it too, said
    in a warning."""
    columns = TABLE_COLUMNS[table]
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    if missing:
        optional = [c for c in columns if c not in REQUIRED_COLUMNS[table]]
        names = ", ".join(f"'{c}'" for c in missing)
        labels = ", ".join(COLUMN_LABELS_ZH.get(table, {}).get(c, c) for c in missing)
        raise PerfsimError(f"missing column{'s' if len(missing) > 1 else ''} {names} (required: "
                           f"{', '.join(REQUIRED_COLUMNS[table])}"
                           + (f"; optional: {', '.join(optional)}" if optional else "")
                           + f"; headed in Chinese: {labels})", where=where)
    warn_unknown_columns([str(c) for c in frame.columns if c not in columns], table, where, stacklevel=4)
    filled = []
    for column in columns:
        if column in REQUIRED_COLUMNS[table]:
            continue
        default = DEFAULTS[table][column]
        if column in frame.columns and len(frame) and frame[column].isna().all():
            frame = frame.drop(columns=[column])          # left blank: as if absent
        if column in frame.columns:
            blank = frame[column].isna()
            if blank.any() and default is not None:
                value = frame[default] if isinstance(default, Copy) else default
                frame[column] = frame[column].where(~blank, value)
                rows = ", ".join(str(int(i) + 2) for i in frame.index[blank][:5])
                warnings.warn(f"{where}: {int(blank.sum())} empty cell(s) of column '{column}' take its "
                              f"default ({'the ' + default if isinstance(default, Copy) else repr(default)}; "
                              f"rows {rows}{' ...' if blank.sum() > 5 else ''})", PerfsimWarning, stacklevel=4)
            continue
        if isinstance(default, Copy):
            frame[column] = frame[default]
        else:
            frame[column] = pd.Series(np.nan if default is None else default, index=frame.index,
                                      dtype=object)
        filled.append(column)
    return frame[list(columns)], tuple(filled)


def empty_table(table: str) -> pd.DataFrame:
    """A table of the contract without rows (a fresh copy each call)."""
    return _empty(table).copy()


@functools.lru_cache(maxsize=None)
def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS[table]})


def validate_frames(frames: Mapping[str, pd.DataFrame], sources: Mapping[str, str] | None = None,
                    origin: str = "<memory>", kinds: Iterable[str] | None = None,
                    locate: Mapping[str, "Callable[[int], str]"] | None = None) -> Dataset:
    """Validate raw tables (strings or typed) against the contract and return a Dataset.

    Every problem of every table is found in one pass and raised together
    (:class:`~perfsim.core.errors.PerfsimErrors`); references to units and indicators are
    checked once those two tables are valid. ``kinds``: the unit kinds allowed (any when
    None). ``locate``: per table, where a row came from (an import names the workbook
    cell) instead of the row of the table's file."""
    sources = dict(sources or {})
    locate = dict(locate or {})
    for table in TABLE_COLUMNS:
        sources.setdefault(table, f"{origin}: table '{table}'")
    for table in REQUIRED_TABLES:
        if table not in frames:
            raise PerfsimError(f"missing table '{table}' (expected {Path(sources[table]).name})"
                               if origin != "<memory>" else f"missing table '{table}'",
                               where=origin)
    cleaned, defaults, problems = {}, {}, []
    for name, frame in frames.items():
        if name in TABLE_COLUMNS:
            try:
                cleaned[name], filled = _complete(_drop_examples(_clean(frame, name), name, sources[name]),
                                                  name, sources[name])
            except PerfsimError as exc:
                problems.append(str(exc))
                continue
            if cleaned[name].empty:     # no values to tell a type: text, like _clean does
                cleaned[name] = cleaned[name].astype("str")
            if filled:
                defaults[name] = filled
    base = build_schemas(kinds=kinds)
    tables: dict[str, pd.DataFrame] = {}
    for table in ("units", "indicators"):
        if table in cleaned:
            valid, found = _table_problems(cleaned[table], table, base[table], sources[table], locate.get(table))
            problems += found
            if valid is not None:
                tables[table] = valid
    if ("units" not in tables and "units" not in cleaned) or ("indicators" not in tables and "indicators" not in cleaned):
        raise_problems(problems, what=origin)       # no ids to check the other tables' references against
    # references are checked once units and indicators are valid; where they are not, the other
    # tables are still checked for their own problems (every problem of the dataset in one run,
    # none that only repeats a problem of the units or indicators)
    ids = {t: (tables[t][f"{t[:-1] if t == 'units' else 'indicator'}_id"] if t in tables else None)
           for t in ("units", "indicators")}
    schemas = build_schemas(ids["units"], ids["indicators"], kinds=kinds)
    for table in TABLE_COLUMNS:
        if table in ("units", "indicators"):
            continue
        if table not in cleaned:
            tables[table] = empty_table(table)
            continue
        valid, found = _table_problems(cleaned[table], table, schemas[table], sources[table], locate.get(table))
        problems += found
        if valid is not None:
            tables[table] = valid
    raise_problems(problems, what=origin)
    return Dataset(tables=tables, sources=sources, origin=origin, defaults=defaults)
