"""E-performance (电子绩效): monthly tracking, peer benchmarking, efficiency and results use.

* :func:`progress`: each unit's year-to-date actual on each indicator against the expected
  progress by that month (the annual target x the share expected by then: time-
  proportional, or the indicator's seasonal profile from its ``season`` column), with a
  traffic light and the trend against the previous month;
* :func:`dynamic_ranking`: the ranking by category month by month (each month scored with
  the year-to-date actuals against the targets expected by then);
* :func:`feedback`: per unit, the indicators behind schedule, by how much, and the trend;
* :func:`peer_position`: the city's rank, percentile and gaps to the median and the best
  among the peer cities per indicator and quarter;
* :func:`efficiency`: totals per staff, per budget and per consumption, and how ranks move
  when size is accounted for;
* :func:`award_allocation`: grades mapped to the share of "excellent civil servant" awards,
  scaled to the city's quota (largest remainder, so the awards add up exactly).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import score
from ..core.errors import PerfsimError
from ..core.knobs import load_knobs
from ..core.paths import PARAMS_DIR
from ..core.rules import competition_rank
from ..core.scheme import Resolved, Scheme

TRACKING = PARAMS_DIR / "tracking.yaml"


def load_tracking(path: str | Path | None = None) -> dict:
    return load_knobs(Path(path) if path else TRACKING)


def _month(period: str) -> tuple[int, int]:
    try:
        year, month = int(period[:4]), int(period[5:7])
        if len(period) != 7 or period[4] != "-" or not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise PerfsimError(f"period {period!r} is not YYYY-MM") from None
    return year, month


def expected_share(dataset: Dataset, month: int, seasons: dict) -> pd.Series:
    """Share of the annual target expected by the end of ``month``, per indicator."""
    ind = dataset.indicators.set_index("indicator_id")
    season = ind["season"] if "season" in ind else pd.Series(np.nan, index=ind.index)
    out = {}
    for indicator, name in season.items():
        if isinstance(name, str) and name:
            if name not in seasons:
                raise PerfsimError(f"indicator {indicator!r} names season {name!r}, which "
                                   f"{TRACKING.name} does not define ({', '.join(seasons)})")
            out[indicator] = float(seasons[name][month - 1])
        else:
            out[indicator] = month / 12.0
    return pd.Series(out)


def progress(dataset: Dataset, period: str, params: dict | None = None) -> pd.DataFrame:
    """Per unit and indicator with a target: actual, expected, progress, light and trend."""
    params = params or load_tracking()
    year, month = _month(period)
    thresholds = params["thresholds"]
    targets = dataset.targets[dataset.targets["year"].astype(int) == year]
    rows = []
    for m in ([month - 1, month] if month > 1 else [month]):
        act = dataset.actuals[dataset.actuals["period"] == f"{year}-{m:02d}"]
        share = expected_share(dataset, m, params["seasons"])
        frame = targets.merge(act[["unit_id", "indicator_id", "value"]], on=["unit_id", "indicator_id"], how="left")
        frame["expected"] = frame["target"] * frame["indicator_id"].map(share)
        lower = frame["indicator_id"].map(dataset.indicators.set_index("indicator_id")["direction"]) == "lower"
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(lower, frame["expected"] / frame["value"], frame["value"] / frame["expected"])
        # not reported by now counts as no progress; a missing earlier month has no trend
        frame["progress"] = np.where(frame["value"].isna(), 0.0 if m == month else np.nan, ratio)
        frame["month"] = m
        rows.append(frame)
    both = pd.concat(rows, ignore_index=True)
    now = both[both["month"] == month].copy()
    before = both[both["month"] == month - 1].set_index(["unit_id", "indicator_id"])["progress"]
    now["trend"] = now["progress"].to_numpy() - before.reindex(
        pd.MultiIndex.from_frame(now[["unit_id", "indicator_id"]])).to_numpy() if len(before) else np.nan
    now["light"] = np.select([now["progress"] >= thresholds["green"], now["progress"] >= thresholds["amber"]],
                             ["green", "amber"], "red")
    now = now.rename(columns={"value": "actual"})
    now["period"] = period
    return now[["period", "unit_id", "indicator_id", "target", "expected", "actual", "progress",
                "trend", "light"]].reset_index(drop=True)


def month_dataset(dataset: Dataset, period: str, params: dict | None = None) -> Dataset:
    """The dataset as it stood at ``period``: actuals up to then, targets scaled to the share
    expected by then (so the year-end scheme scores progress to date)."""
    params = params or load_tracking()
    year, month = _month(period)
    share = expected_share(dataset, month, params["seasons"])
    targets = dataset.targets.copy()
    this_year = targets["year"].astype(int) == year
    targets.loc[this_year, "target"] = targets.loc[this_year, "target"] * targets.loc[this_year, "indicator_id"].map(share)
    actuals = dataset.actuals[dataset.actuals["period"] <= period]
    return Dataset(tables=dict(dataset.tables, targets=targets, actuals=actuals), sources=dataset.sources,
                   origin=f"{dataset.origin} (as of {period})")


def dynamic_ranking(scheme: Resolved | Scheme, dataset: Dataset, period: str, component: str | None = "targets",
                    params: dict | None = None) -> pd.DataFrame:
    """Rank within category month by month up to ``period`` (by ``component``'s points, or
    by the total when ``component`` is None or absent)."""
    params = params or load_tracking()
    year, month = _month(period)
    frames = []
    for m in range(1, month + 1):
        p = f"{year}-{m:02d}"
        table = score(scheme, month_dataset(dataset, p, params), year)
        value = table[component] if component and component in table else table["total"]
        groups = pd.factorize(table["category"], sort=True)[0]
        frames.append(pd.DataFrame({"period": p, "unit_id": table["unit_id"], "category": table["category"],
                                    "score": value.to_numpy(), "rank": competition_rank(value.to_numpy(), groups)}))
    return pd.concat(frames, ignore_index=True)


def feedback(progress_table: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Per unit: the indicators not on schedule (amber or red), shortfall and trend."""
    names = dataset.indicators.set_index("indicator_id")["name"]
    behind = progress_table[progress_table["light"] != "green"].copy()
    behind["indicator"] = behind["indicator_id"].map(names)
    behind["shortfall_pct"] = (1 - behind["progress"]) * 100
    behind["trend_pct"] = behind["trend"] * 100
    return behind.sort_values(["unit_id", "shortfall_pct"], ascending=[True, False])[
        ["unit_id", "indicator_id", "indicator", "light", "progress", "shortfall_pct", "trend_pct"]
    ].reset_index(drop=True)


def peer_position(dataset: Dataset, focal_city: str) -> pd.DataFrame:
    """Per indicator and period: the focal city's rank among all cities (1 = best by the
    indicator's direction), its percentile (share of the peers it beats), and its gaps to
    the peers' median and best (in % of the focal value)."""
    peers = dataset.peers
    if peers.empty:
        raise PerfsimError("the dataset has no peers table", where=dataset.origin)
    if focal_city not in set(peers["city"]):
        raise PerfsimError(f"focal city {focal_city!r} is not in the peers table", where=dataset.where("peers"))
    direction = dataset.indicators.set_index("indicator_id")["direction"]
    rows = []
    for (period, indicator), g in peers.groupby(["period", "indicator_id"], sort=True):
        lower = direction.get(indicator) == "lower"
        values = g["value"].to_numpy(dtype=float)
        ranks = competition_rank(values, descending=not lower)
        focal = g["city"].to_numpy() == focal_city
        if not focal.any():
            continue
        mine = float(values[focal][0])
        others = values[~focal]
        beats = (others > mine).mean() if lower else (others < mine).mean()
        best = others.min() if lower else others.max()
        rows.append({"period": period, "indicator_id": indicator, "cities": len(values),
                     "value": mine, "rank": int(ranks[focal][0]), "percentile": float(beats * 100),
                     "gap_to_median_pct": float((mine - np.median(others)) / abs(mine) * 100) if mine else np.nan,
                     "gap_to_best_pct": float((mine - best) / abs(mine) * 100) if mine else np.nan})
    return pd.DataFrame(rows)


def efficiency(table: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Total per staff member, per 10,000 yuan of budget and per unit of consumption, and the
    rank within category by total per budget next to the rank by total."""
    units = dataset.units.set_index("unit_id")
    t = table.set_index("unit_id")
    out = pd.DataFrame({"category": t["category"], "total": t["total"], "rank": t["rank"],
                        "staff": units["staff"].reindex(t.index), "budget": units["budget"].reindex(t.index),
                        "consumption": units["consumption"].reindex(t.index)})
    out["per_staff"] = out["total"] / out["staff"]
    out["per_budget"] = out["total"] / out["budget"]
    out["per_consumption"] = out["total"] / out["consumption"]
    groups = pd.factorize(out["category"], sort=True)[0]
    out["rank_per_budget"] = competition_rank(out["per_budget"].to_numpy(), groups)
    out["rank_change"] = out["rank_per_budget"] - out["rank"]
    return out.reset_index()


def award_allocation(table: pd.DataFrame, dataset: Dataset, grade_shares: dict, quota: int) -> pd.DataFrame:
    """Excellent-civil-servant awards per unit: staff x the grade's share, scaled so the
    awards add up to ``quota`` exactly (largest remainder)."""
    staff = dataset.units.set_index("unit_id")["staff"].reindex(table["unit_id"]).fillna(0).to_numpy(dtype=float)
    weight = staff * table["grade"].map(grade_shares).fillna(0.0).to_numpy(dtype=float)
    if weight.sum() <= 0 or quota <= 0:
        awards = np.zeros(len(table), dtype=int)
    else:
        exact = weight / weight.sum() * quota
        awards = np.floor(exact).astype(int)
        remainder = exact - awards
        order = np.lexsort((table["unit_id"].to_numpy(), -remainder))   # ties broken by id
        awards[order[: quota - awards.sum()]] += 1
    return pd.DataFrame({"unit_id": table["unit_id"].to_numpy(), "category": table["category"].to_numpy(),
                         "grade": table["grade"].to_numpy(), "staff": staff, "awards": awards})
