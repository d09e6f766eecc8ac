"""One year of the data as the engine reads it: the year asked for, year-end actuals, the recut
categories and :class:`YearView` (the year's tables as matrices, cached on the dataset)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..contract import Dataset
from ..errors import PerfsimError
from ..scheme import Scheme


def recut_categories(scheme: Scheme, units: pd.DataFrame, where: str = "<scheme>") -> pd.Series:
    """Each unit's category after the scheme's ``categories`` re-cut (indexed like ``units``)."""
    cats = units["category"].astype(str).copy()
    spec = scheme.categories
    if spec is None:
        return cats
    known_units = set(units["unit_id"])
    for new, old in spec.merge.items():
        missing = [c for c in old if c not in set(cats)]
        if missing:
            raise PerfsimError(f"key 'categories.merge.{new}': no category {missing[0]!r} in the data",
                               where=where)
        cats[cats.isin(old)] = new
    for old, parts in spec.split.items():
        if old not in set(cats):
            raise PerfsimError(f"key 'categories.split.{old}': no category {old!r} in the data", where=where)
        for new, members in parts.items():
            for unit in members:
                row = units.index[units["unit_id"] == unit]
                if not len(row):
                    raise PerfsimError(f"key 'categories.split.{old}.{new}': unknown unit {unit!r}", where=where)
                if cats[row[0]] != old:
                    raise PerfsimError(f"key 'categories.split.{old}.{new}': unit {unit!r} is in "
                                       f"category {cats[row[0]]!r}, not {old!r}", where=where)
                cats[row[0]] = new
    for unit, new in spec.move.items():
        if unit not in known_units:
            raise PerfsimError(f"key 'categories.move.{unit}': unknown unit", where=where)
        cats[units.index[units["unit_id"] == unit][0]] = new
    return cats


def resolve_year(dataset: Dataset, year: int | None) -> int:
    years = dataset.years
    if not years:
        raise PerfsimError("the dataset has no targets or actuals, so no year to score",
                           where=dataset.origin)
    if year is None:
        return years[-1]
    if year not in years:
        raise PerfsimError(f"no targets or actuals for year {year} (years present: "
                           f"{', '.join(map(str, years))})", where=dataset.origin)
    return year


def _of_year(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    return frame[frame["year"].astype(int) == year] if len(frame) else frame


def year_end_actuals(dataset: Dataset, year: int) -> pd.DataFrame:
    """The latest year-to-date actual of each (unit, indicator) within ``year``."""
    actuals = dataset.actuals
    actuals = actuals[actuals["period"].str.startswith(f"{year}-")]
    return actuals.sort_values("period").drop_duplicates(["unit_id", "indicator_id"], keep="last")


@dataclass(frozen=True)
class YearView:
    """One year of a dataset as arrays aligned with the sorted unit ids.

    Built once per (dataset, year) and cached on the dataset, so that scoring many
    scenarios on the same data does the pandas work once. Every matrix is
    ``units x keys`` with NaN where the data has no row.
    """

    ids: pd.Index                       # unit ids, sorted
    units: pd.DataFrame                 # sorted by unit_id, 0..n-1 index
    tables: dict                        # name -> rows of that year
    matrices: dict                      # name -> (array units x keys, {key: column})
    memo: dict = field(default_factory=dict, compare=False, repr=False)   # per-scheme masks
    panels: dict = field(default_factory=dict)   # leader rater_id -> its panel (leaders by default)

    def column(self, name: str, key: str) -> np.ndarray:
        values, where = self.matrices[name]
        j = where.get(key)
        return values[:, j] if j is not None else np.full(len(self.ids), np.nan)

    def matrix(self, name: str) -> tuple[np.ndarray, dict]:
        return self.matrices[name]


def _matrix(frame: pd.DataFrame, ids: pd.Index, key: str, value: str,
            keys: list | None = None) -> tuple[np.ndarray, dict]:
    """Pivot rows of (unit_id, key, value) into units x keys, summing duplicates."""
    if keys is None:
        keys = sorted(frame[key].unique()) if len(frame) else []
    if len(frame):
        table = frame.pivot_table(index="unit_id", columns=key, values=value, aggfunc="sum")
        values = table.reindex(index=ids, columns=keys).to_numpy(dtype=float)
    else:
        values = np.full((len(ids), len(keys)), np.nan)
    return values, {k: j for j, k in enumerate(keys)}


def year_view(dataset: Dataset, year: int) -> YearView:
    key = ("year_view", year)
    if key in dataset.cache:
        return dataset.cache[key]
    units = dataset.units.sort_values("unit_id", kind="stable").reset_index(drop=True)
    ids = pd.Index(units["unit_id"])
    indicators = list(dataset.indicators["indicator_id"])
    tables = {name: _of_year(dataset.tables[name], year)
              for name in ("targets", "leader_ratings", "satisfaction", "special", "adjustments")}
    adj = tables["adjustments"]
    sat = tables["satisfaction"]
    matrices = {
        "target": _matrix(tables["targets"], ids, "indicator_id", "target", indicators),
        "actual": _matrix(year_end_actuals(dataset, year), ids, "indicator_id", "value", indicators),
        "leader": _matrix(tables["leader_ratings"], ids, "rater_id", "rating"),
        "sat_score": _matrix(sat, ids, "group", "score"),
        "sat_respondents": _matrix(sat, ids, "group", "respondents"),
        "special": _matrix(tables["special"], ids, "facet", "score"),
        "bonus": _matrix(adj[adj["type"] == "bonus"].assign(all="bonus"), ids, "all", "points", ["bonus"]),
        "deduction": _matrix(adj[adj["type"] == "deduction"], ids, "item", "points"),
        "veto": _matrix(adj[adj["type"] == "veto"].assign(all="veto", one=1.0), ids, "all", "one", ["veto"]),
    }
    share_credit(dataset, year, ids, matrices)
    leader = tables["leader_ratings"]
    panels = (dict(zip(leader["rater_id"], leader["panel"])) if "panel" in leader and len(leader) else {})
    view = YearView(ids, units, tables, matrices, panels=panels)
    dataset.cache[key] = view
    return view


def install_year_view(dataset: Dataset, year: int, view: YearView) -> None:
    """Hand the engine a year's arrays built elsewhere (the synthetic generator builds them
    straight from its own arrays): the view :func:`year_view` would otherwise build, and the
    dataset's one year."""
    dataset.cache[("year_view", year)] = view
    dataset.cache["years"] = [year]


def share_credit(dataset: Dataset, year: int, ids: pd.Index, matrices: dict) -> None:
    """Shared targets (the optional ``responsibilities`` table): the units responsible for an
    indicator achieve it jointly. The joint actual is the sum of their actuals and the joint
    target the sum of their targets; each unit is credited its ``share`` of both, so the
    credits add up to the joint actual and target and every responsible unit scores the
    joint achievement. Changes ``matrices['actual']`` and ``['target']`` (copies)."""
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return
    rows = shared[shared["year"] == year]
    actual, at = matrices["actual"]
    target, tt = matrices["target"]
    actual, target = actual.copy(), target.copy()          # pandas may hand out read-only views
    matrices["actual"], matrices["target"] = (actual, at), (target, tt)
    for indicator, part in rows.groupby("indicator_id"):
        u = ids.get_indexer(part["unit_id"])
        share = part["share"].to_numpy(dtype=float)
        a, t = actual[u, at[indicator]], target[u, tt[indicator]]
        joint_actual = np.nansum(a) if np.isfinite(a).any() else np.nan
        joint_target = np.nansum(t) if np.isfinite(t).any() else np.nan
        actual[u, at[indicator]] = share * joint_actual
        target[u, tt[indicator]] = share * joint_target
