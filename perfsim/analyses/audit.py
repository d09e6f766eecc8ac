"""A data audit before scoring, as composite-indicator tools do (COINr's data
availability, outlier and correlation checks).

* **Availability** per unit, indicator and table. A cell (unit, indicator) is *expected*
  when the unit has a target for the indicator that year, has an actual, or the
  indicator has no targets that year and some unit of the same category reports it.
* **Outliers** per indicator, on the value that is scored: the achievement ratio
  actual/target where the indicator has targets, else the actual. An indicator is
  flagged by COINr's rule, absolute skewness above 2 *and* kurtosis above 3.5 (sample
  statistics, scipy's ``bias=False``); the treatment ``treat:`` would apply is shown.
* **Correlations**: between indicators (pandas, pairwise complete, at least
  ``min_units`` units), the pairs with ``|r| >= threshold`` as candidates for reduction
  (少而精); and, with a scheme, of every leaf's score with its parent (the dimension), its
  component and the total, with negative ones flagged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.contract import TABLE_COLUMNS, Dataset
from ..core.engine import Tree, resolve_year, score_detail, year_end_actuals
from ..core.errors import PerfsimWarning
from ..core.scheme import Resolved, Scheme
from ..core.treat import fails, skew_kurtosis, treat
from ..core.scheme import plain
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

#: COINr's default thresholds (check_SkewKurt)
SKEW, KURTOSIS = 2.0, 3.5


@dataclass(frozen=True)
class Audit:
    year: int
    units: pd.DataFrame            # availability per unit
    indicators: pd.DataFrame       # availability and outlier statistics per indicator
    tables: pd.DataFrame           # rows and unit coverage per table
    presence: pd.DataFrame         # units x indicators: 1 actual, 0 expected but missing, NaN not expected
    matrix: pd.DataFrame           # indicator x indicator correlations
    pairs: pd.DataFrame            # pairs with |r| >= threshold
    levels: pd.DataFrame | None    # with a scheme: each leaf against dimension, component, total
    threshold: float
    method: str
    #: with a scheme: the share of a unit's points each leaf carries per unit type (engine.concentration)
    concentration: pd.DataFrame | None = None
    max_share: float = 0.25


def scored_values(dataset: Dataset, year: int) -> tuple[pd.DataFrame, pd.Series]:
    """Units x indicators of the value that is scored (achievement actual/target where the
    indicator has targets in ``year``, else the actual), and the basis of each column."""
    actual = year_end_actuals(dataset, year).pivot_table(index="unit_id", columns="indicator_id",
                                                         values="value", aggfunc="first")
    targets = dataset.targets[dataset.targets["year"].astype(int) == year]
    target = targets.pivot_table(index="unit_id", columns="indicator_id", values="target", aggfunc="first")
    ids = pd.Index(sorted(dataset.units["unit_id"]), name="unit_id")
    indicators = list(dataset.indicators["indicator_id"])
    actual = actual.reindex(index=ids, columns=indicators)
    target = target.reindex(index=ids, columns=indicators)
    lower = dataset.indicators.set_index("indicator_id")["direction"].eq("lower")
    has_targets = target.notna().any()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = actual / target.where(target != 0)
    values = actual.copy()
    for i in indicators:
        if has_targets[i]:
            values[i] = ratio[i]
    basis = pd.Series(np.where(has_targets, "actual/target", "actual"), index=indicators)
    basis[lower.reindex(indicators).fillna(False).to_numpy() & has_targets.to_numpy()] = "actual/target (lower is better)"
    return values, basis


def _presence(dataset: Dataset, year: int) -> pd.DataFrame:
    ids = pd.Index(sorted(dataset.units["unit_id"]), name="unit_id")
    indicators = list(dataset.indicators["indicator_id"])
    actual = year_end_actuals(dataset, year).pivot_table(index="unit_id", columns="indicator_id",
                                                         values="value", aggfunc="first").reindex(
        index=ids, columns=indicators).notna()
    targets = dataset.targets[dataset.targets["year"].astype(int) == year]
    target = targets.assign(one=1).pivot_table(index="unit_id", columns="indicator_id", values="one",
                                               aggfunc="first").reindex(index=ids, columns=indicators).notna()
    category = dataset.units.set_index("unit_id")["category"].reindex(ids)
    reported = actual.groupby(category.to_numpy()).transform("any")
    no_targets = ~target.any()
    expected = target | actual | (reported & no_targets)
    out = actual.astype(float).where(expected)
    return out


def availability(dataset: Dataset, year: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per unit, per indicator, per table, presence matrix)."""
    presence = _presence(dataset, year)
    expected, have = presence.notna(), presence.eq(1)
    units = dataset.units.set_index("unit_id").reindex(presence.index)
    per_unit = pd.DataFrame({"name": units["name"], "category": units["category"],
                             "expected": expected.sum(axis=1), "with_actual": have.sum(axis=1)})
    per_unit["missing"] = per_unit["expected"] - per_unit["with_actual"]
    per_unit["share"] = (per_unit["with_actual"] / per_unit["expected"].where(per_unit["expected"] > 0)).round(4)
    ind = dataset.indicators.set_index("indicator_id").reindex(presence.columns)
    per_ind = pd.DataFrame({"name": ind["name"], "expected": expected.sum(), "with_actual": have.sum()})
    per_ind["missing"] = per_ind["expected"] - per_ind["with_actual"]
    per_ind["share"] = (per_ind["with_actual"] / per_ind["expected"].where(per_ind["expected"] > 0)).round(4)
    n_units = len(dataset.units)
    rows = []
    for table in TABLE_COLUMNS:
        frame = dataset.tables.get(table)
        if frame is None or frame.empty:
            rows.append({"table": table, "rows": 0, "rows_in_year": 0, "units": 0, "share_of_units": 0.0})
            continue
        if "year" in frame and frame["year"].notna().any():
            part = frame[frame["year"].astype(float) == year]
        elif "period" in frame:
            part = frame[frame["period"].str.startswith(f"{year}-")]
        else:
            part = frame
        covered = part["unit_id"].nunique() if "unit_id" in part else 0
        rows.append({"table": table, "rows": len(frame), "rows_in_year": len(part), "units": covered,
                     "share_of_units": round(covered / n_units, 4) if "unit_id" in part else np.nan})
    return (per_unit.reset_index(), per_ind.rename_axis("indicator_id").reset_index(), pd.DataFrame(rows),
            presence)


def outliers(values: pd.DataFrame, basis: pd.Series, skew: float = SKEW, kurtosis: float = KURTOSIS,
             max_points: int = 5) -> pd.DataFrame:
    """Per indicator: n, skewness, kurtosis, flagged by COINr's rule, and what a
    ``treat: {method: winsorise, max_points}`` would do."""
    rows = []
    for column in values.columns:
        x = values[column].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        s, k = skew_kurtosis(x)
        flagged = bool(len(x) >= 4 and fails(x, skew, kurtosis))
        result = treat(x, "winsorise", max_points, skew, kurtosis) if flagged else None
        rows.append({"indicator_id": column, "basis": basis[column], "n": len(x), "skew": s, "kurtosis": k,
                     "flagged": flagged,
                     "treatment": "" if result is None else (
                         f"winsorise {result.points}" if result.method == "winsorise" else "log"),
                     "skew_treated": np.nan if result is None else result.skew_after,
                     "kurtosis_treated": np.nan if result is None else result.kurtosis_after})
    return pd.DataFrame(rows)


def correlated_pairs(matrix: pd.DataFrame, counts: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Pairs of indicators with ``|r| >= threshold`` (each pair once, strongest first)."""
    upper = np.triu(np.ones(matrix.shape, dtype=bool), k=1)
    r = matrix.where(upper).stack()
    r = r[r.abs() >= threshold]
    out = pd.DataFrame({"indicator_a": r.index.get_level_values(0), "indicator_b": r.index.get_level_values(1),
                        "r": r.to_numpy()})
    out["units"] = [int(counts.loc[a, b]) for a, b in zip(out["indicator_a"], out["indicator_b"])]
    return out.reindex(out["r"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def level_correlations(scheme: Scheme | Resolved, dataset: Dataset, year: int, method: str = "pearson"
                       ) -> pd.DataFrame:
    """Every leaf's score against its parent's score (the dimension), its component's
    and the total, over the units the leaf applies to."""
    scheme_obj = plain(scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        detail = score_detail(scheme, dataset, year)
    tree = Tree.of(scheme_obj)
    scores, held = detail.node_scores, detail.node_held
    total = detail.table.set_index("unit_id")["total"].reindex(scores.index)
    rows = []
    for i in tree.leaves:
        path = tree.paths[i]
        on = held[path] > 0                                # units the leaf counts for
        leaf = scores.loc[on, path]
        k = i
        while tree.parent[k] > 0:
            k = tree.parent[k]
        top = k == i                                       # a component that is itself a leaf
        parent = "" if top else tree.paths[tree.parent[i]]
        component = "" if top else tree.paths[k]
        row = {"path": path, "leaf": path.rsplit(".", 1)[1], "units": int(on.sum()),
               "dimension": parent, "component": component}
        others = {"r_dimension": scores.loc[on, parent] if parent else None,
                  "r_component": scores.loc[on, component] if component else None, "r_total": total[on]}
        for name, other in others.items():
            ok = other is not None and len(leaf) >= 3 and leaf.std() > 0 and other.std() > 0
            row[name] = float(leaf.corr(other, method=method)) if ok else np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out["negative"] = (out[["r_dimension", "r_component", "r_total"]] < 0).any(axis=1)
    return out


def audit(scheme: Scheme | Resolved | None, dataset: Dataset, year: int | None = None,
          threshold: float = 0.9, method: str = "pearson", min_units: int = 10,
          max_share: float = 0.25) -> Audit:
    """The audit of one year of ``dataset`` (see the module docstring); ``scheme`` (or
    None) adds the per-level correlations and the concentration of points."""
    year = resolve_year(dataset, year)
    per_unit, per_ind, tables, presence = availability(dataset, year)
    values, basis = scored_values(dataset, year)
    stats = outliers(values, basis)
    per_ind = per_ind.merge(stats, on="indicator_id", how="left")
    usable = values.loc[:, values.notna().sum() >= min_units]
    matrix = usable.corr(method=method, min_periods=min_units)
    present = usable.notna().astype(int)
    counts = present.T @ present
    pairs = correlated_pairs(matrix, counts, threshold)
    levels = level_correlations(scheme, dataset, year, method) if scheme is not None else None
    shares = None
    if scheme is not None:
        from ..core.engine import concentration, warn_concentration

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)          # (missing data: said by score)
            detail = score_detail(scheme, dataset, year)
        shares = concentration(detail, dataset, max_share)
        warn_concentration(shares, max_share)
    return Audit(year=year, units=per_unit, indicators=per_ind, tables=tables, presence=presence, matrix=matrix,
                 pairs=pairs, levels=levels, threshold=threshold, method=method, concentration=shares,
                 max_share=max_share)


def audit_facts(result: Audit) -> dict:
    """The audit's key numbers (the facts its sentences use)."""
    presence = result.presence
    expected = int(presence.notna().sum().sum())
    have = int(presence.eq(1).sum().sum())
    flagged = result.indicators[result.indicators["flagged"].astype(bool)]["indicator_id"].tolist()
    negative = [] if result.levels is None else result.levels[result.levels["negative"]]["path"].tolist()
    return {"year": result.year, "expected_cells": expected, "cells_with_actual": have,
            "missing_cells": expected - have, "availability": round(have / expected, 4) if expected else None,
            "units_with_missing": int((result.units["missing"] > 0).sum()), "outlier_indicators": flagged,
            "correlated_pairs": len(result.pairs), "threshold": result.threshold, "method": result.method,
            "negative_leaves": negative, "max_share": result.max_share,
            "concentrated": [] if result.concentration is None else [
                {"unit_type": r.unit_type, "path": r.path, "max_share": round(float(r.max_share), 4)}
                for r in result.concentration[result.concentration["flagged"]].itertuples()]}


def _audit_text(result: Audit, facts: dict, labels: dict[str, str] | None = None) -> tuple[str, str]:
    share = facts["availability"]
    if share is None:
        return f"{result.year} 年没有应有的实绩。", f"{result.year}: no actual is expected."
    zh = (f"{result.year} 年：应有 {facts['expected_cells']} 个实绩，缺 {facts['missing_cells']} 个（可得率 {share:.1%}），"
          f"涉及 {facts['units_with_missing']} 个单位；{len(facts['outlier_indicators'])} 个指标分布偏斜需处理"
          f"（|偏度| > {SKEW:g} 且峰度 > {KURTOSIS:g}，COINr 规则）；{facts['correlated_pairs']} 对指标 "
          f"|r| ≥ {result.threshold:g}，是精简（少而精）的候选。")
    en = (f"{result.year}: {facts['cells_with_actual']} of {facts['expected_cells']} expected actuals are present "
          f"({facts['missing_cells']} missing, in {facts['units_with_missing']} units); "
          f"{len(facts['outlier_indicators'])} indicator(s) fail COINr's skewness/kurtosis rule (|skew| > {SKEW:g} and "
          f"kurtosis > {KURTOSIS:g}); {facts['correlated_pairs']} pair(s) correlate at |r| ≥ {result.threshold:g} "
          "(candidates for 少而精 reduction).")
    if result.levels is not None:
        n = len(facts["negative_leaves"])
        zh += f"\n\n{n} 个末级指标与上级、组成部分或总分负相关：它们与总指数方向相反。"
        en += f"\n\n{n} leaf indicator(s) correlate negatively with a level above: they pull against the index."
    if result.concentration is not None:
        heavy = facts["concentrated"]
        said_zh = "；".join(f"{c['path'].split('.')[-1]} 占{(labels or {}).get(c['unit_type'], c['unit_type'])}单位总分的 "
                           f"{c['max_share']:.1%}"
                           for c in heavy[:8])
        said_en = "; ".join(f"{c['path'].split('.')[-1]} carries {c['max_share']:.1%} for {c['unit_type']} units"
                            for c in heavy[:8])
        zh += (f"\n\n{len(heavy)} 个指标在权重重新归一后占某类单位总分的 {result.max_share:.0%} 以上"
               + (f"：{said_zh}。" if heavy else "。"))
        en += (f"\n\n{len(heavy)} indicator(s) carry more than {result.max_share:.0%} of a unit's points once weights "
               "are re-normalised over the indicators that apply" + (f": {said_en}." if heavy else "."))
    return zh, en


def analysis(scheme: Scheme | Resolved | None, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             threshold: float = 0.9, method: str = "pearson", max_share: float = 0.25, min_units: int = 10) -> "Result":
    """The protocol's audit (see :mod:`perfsim.analyses.result`): availability, outliers
    and correlations of one year of data (with a scheme, per level and concentration)."""
    from ..core.scheme import as_resolved
    from .result import Chart, Result, both

    resolved = as_resolved(scheme) if scheme is not None else None
    result = audit(resolved, dataset, year, threshold=threshold, method=method, min_units=min_units,
                   max_share=max_share)
    facts = audit_facts(result)
    zh, en = _audit_text(result, facts, dict(resolved.scheme.category_labels) if resolved else None)
    category = dataset.units.set_index("unit_id")["category"]
    presence = result.presence.copy()
    presence.insert(0, "category", category.reindex(presence.index).fillna("").to_numpy())
    flagged = result.indicators[result.indicators["flagged"].astype(bool)]
    tables = {"availability_units": result.units, "availability_indicators": result.indicators,
              "availability_tables": result.tables,
              "outliers": result.indicators[["indicator_id", "name", "basis", "n", "skew", "kurtosis", "flagged",
                                             "treatment", "skew_treated", "kurtosis_treated"]],
              "correlations": result.matrix.rename_axis("indicator_id").reset_index(),
              "collinear": result.pairs, "presence": presence.rename_axis("unit_id").reset_index(),
              "most_missing": result.units.sort_values("missing", ascending=False).head(20),
              "flagged_outliers": flagged[["indicator_id", "name", "basis", "n", "skew", "kurtosis", "treatment",
                                           "skew_treated", "kurtosis_treated"]]}
    shown = [("availability_tables", "按表的数据可得性", "Availability per table"),
             ("most_missing", "缺失最多的单位", "Units with most missing"),
             ("flagged_outliers", f"需处理的偏斜指标（|偏度| > {SKEW:g} 且峰度 > {KURTOSIS:g}）",
              f"Indicators to treat (|skewness| > {SKEW:g} and kurtosis > {KURTOSIS:g})"),
             ("collinear", f"|r| ≥ {threshold:g} 的指标对（精简候选）", f"Pairs with |r| ≥ {threshold:g} (candidates for reduction)")]
    if result.levels is not None:
        tables["levels"] = result.levels
        shown.append(("levels", "层级相关：末级指标与上级、组成部分、总分", "Each leaf against its dimension, component and total"))
    if result.concentration is not None:
        tables["concentration"] = result.concentration
        shown.append(("concentration", "指标权重集中度（每类单位）", "Effective weight of each indicator, per unit type"))
    return Result(
        "audit", both("数据审计", "Data audit"), tables=tables,
        figures={"availability": Chart("availability", ("presence",), both("数据可得性：单位 × 指标", "Data availability: units x indicators"),
                                       {"year": result.year}),
                 "outliers": Chart("outliers", ("availability_indicators",), both("各指标的偏度与峰度", "Skewness and kurtosis of each indicator"),
                                   {"year": result.year}),
                 "correlations": Chart("correlations", ("correlations", "collinear"), both("指标相关", "Correlation of indicators"),
                                       {"year": result.year, "method": method, "threshold": threshold})},
        facts={**facts, "scheme": resolved.name if resolved else None}, texts=both(zh, en),
        scenarios={"scheme": resolved} if resolved else {}, shown=tuple(shown))
