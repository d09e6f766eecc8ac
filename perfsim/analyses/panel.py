"""Several years at once: each unit against its own history (纵向比较, seed 三.1).

:func:`panel` scores every year of a dataset under one scheme and returns the stacked
result tables, a wide table with each unit's total, rank and grade per year and the
year-on-year changes, and rank persistence: Kendall's tau (scipy's tau-b, which allows
ties) between the ranks of consecutive years, per category, over the units present in
both. A year the scheme cannot score (a table it needs has no rows that year) is skipped
with a warning, never silently.

:func:`history_targets` draws next year's targets from the data itself: the unit's last
actual (a ratchet, optionally with growth) or the mean of its last few actuals.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.contract import Dataset
from ..core.engine import score_detail, year_end_actuals
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, Scheme


@dataclass(frozen=True)
class Panel:
    years: list[int]
    scores: pd.DataFrame        # the result table of every year, with a leading 'year' column
    wide: pd.DataFrame          # per unit: total_Y, rank_Y, grade_Y, total_change_Y, rank_change_Y
    persistence: pd.DataFrame   # category, year_from, year_to, tau, p_value, units
    missing: pd.DataFrame       # missing actuals of every year (see engine.missing_table)
    treated: pd.DataFrame
    skipped: dict               # year -> why it was not scored


def rank_persistence(scores: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau-b between the ranks of consecutive years, per category (units in both)."""
    years = sorted(scores["year"].unique())
    rows = []
    for a, b in zip(years, years[1:]):
        left = scores[scores["year"] == a].set_index("unit_id")
        right = scores[scores["year"] == b].set_index("unit_id")
        both = left.index.intersection(right.index)
        for category in sorted(right.loc[both, "category"].unique()):
            ids = both[(right.loc[both, "category"] == category).to_numpy()]
            ids = ids[(left.loc[ids, "category"] == category).to_numpy()]
            if len(ids) >= 3:
                result = stats.kendalltau(left.loc[ids, "rank"], right.loc[ids, "rank"])
                tau, p = float(result.statistic), float(result.pvalue)
            else:
                tau = p = np.nan
            rows.append({"category": category, "year_from": int(a), "year_to": int(b), "tau": tau,
                         "p_value": p, "units": int(len(ids))})
    return pd.DataFrame(rows, columns=["category", "year_from", "year_to", "tau", "p_value", "units"])


def wide_table(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: total, rank and grade per year, and the change from the year
    before (rank_change < 0 is a move up)."""
    years = sorted(scores["year"].unique())
    latest = scores.sort_values("year").drop_duplicates("unit_id", keep="last")
    out = latest[["unit_id", "name", "category"]].set_index("unit_id")
    for i, year in enumerate(years):
        part = scores[scores["year"] == year].set_index("unit_id")
        out[f"total_{year}"] = part["total"]
        out[f"rank_{year}"] = part["rank"].astype("Int64")
        out[f"grade_{year}"] = part["grade"]
        if i:
            prev = years[i - 1]
            out[f"total_change_{year}"] = (out[f"total_{year}"] - out[f"total_{prev}"]).round(9)
            out[f"rank_change_{year}"] = out[f"rank_{year}"] - out[f"rank_{prev}"]
    return out.reset_index().sort_values(["category", "unit_id"], kind="stable").reset_index(drop=True)


def panel(scheme: Scheme | Resolved, dataset: Dataset, years: list[int] | None = None) -> Panel:
    """Score every year of ``dataset`` (or the given ``years``) under ``scheme``."""
    years = list(dataset.years if years is None else years)
    if not years:
        raise PerfsimError("the dataset has no targets or actuals, so no year to score", where=dataset.origin)
    parts, missing, treated, skipped = [], [], [], {}
    for year in years:
        try:
            detail = score_detail(scheme, dataset, year)
        except PerfsimError as exc:
            if len(years) == 1:
                raise
            skipped[year] = str(exc)
            warnings.warn(f"year {year} not scored: {exc}", PerfsimWarning, stacklevel=2)
            continue
        parts.append(detail.table.assign(year=year))
        missing.append(detail.missing)
        treated.append(detail.treated)
    if not parts:
        raise PerfsimError(f"no year could be scored ({'; '.join(skipped.values())})", where=dataset.origin)
    scores = pd.concat(parts, ignore_index=True)
    scores = scores[["year", *[c for c in scores.columns if c != "year"]]]
    return Panel(years=[y for y in years if y not in skipped], scores=scores, wide=wide_table(scores),
                 persistence=rank_persistence(scores),
                 missing=pd.concat(missing, ignore_index=True),
                 treated=pd.concat(treated, ignore_index=True), skipped=skipped)


def history_targets(dataset: Dataset, year: int, method: str = "ratchet", growth: float = 0.0,
                    window: int = 3) -> pd.DataFrame:
    """Targets for ``year`` drawn from each unit's own history (method ``history``):
    ``ratchet``: the last year's actual x (1 + growth) (for lower-is-better indicators
    x (1 - growth)); ``mean``: the mean of the last ``window`` years' actuals x (1 +
    growth). Units with no earlier actual get no target (and are reported)."""
    if method not in ("ratchet", "mean"):
        raise PerfsimError(f"unknown history method {method!r} (ratchet or mean)")
    earlier = [y for y in dataset.years if y < year]
    if not earlier:
        raise PerfsimError(f"no year before {year} to draw targets from", where=dataset.origin)
    use = earlier[-1:] if method == "ratchet" else earlier[-window:]
    actuals = pd.concat([year_end_actuals(dataset, y) for y in use], ignore_index=True)
    level = actuals.groupby(["unit_id", "indicator_id"], sort=True)["value"].mean().reset_index()
    lower = dataset.indicators.set_index("indicator_id")["direction"].eq("lower")
    factor = np.where(level["indicator_id"].map(lower).fillna(False).to_numpy(dtype=bool), 1 - growth, 1 + growth)
    return pd.DataFrame({"year": year, "unit_id": level["unit_id"], "indicator_id": level["indicator_id"],
                         "target": level["value"].to_numpy() * factor, "method": "history"})
