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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import score
from ..core.errors import PerfsimError
from ..core.knobs import load_knobs
from ..core.paths import PARAMS_DIR
from ..core.periods import expected_share, judged_frequency, judged_month, parse_period, period_dataset
from ..core.rules import competition_rank
from ..core.scheme import Resolved, Scheme
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

TRACKING = PARAMS_DIR / "tracking.yaml"

#: the analysis's name in the protocol (its command's)
ANALYSIS = "track"


def load_tracking(path: str | Path | None = None) -> dict:
    return load_knobs(Path(path) if path else TRACKING)


def progress(dataset: Dataset, period: str, params: dict | None = None) -> pd.DataFrame:
    """Per unit and indicator with a target: actual, expected, progress, light and trend,
    and the unit against its own history: ``last_year`` (its value at the same judged
    period a year before) and ``vs_last_year`` (actual / last year; last year / actual
    for lower-is-better, so above 1 is better than its own history).

    Each indicator is judged as it is reported (its ``frequency``): a monthly one on this
    month's year-to-date value, a quarterly one on the last quarter end's, an annual one
    only in December; before its first judgement it is ``not due`` (no progress, no light
    of red). The trend is the change of progress since the previous judgement."""
    params = params or load_tracking()
    year, month = parse_period(period)
    thresholds = params["thresholds"]
    targets = dataset.targets[dataset.targets["year"].astype(int) == year]
    frequency = judged_frequency(dataset)
    direction = dataset.indicators.set_index("indicator_id")["direction"]
    shares = {m: expected_share(dataset, m, params["seasons"]) for m in range(1, 13)}
    actuals = dataset.actuals[dataset.actuals["period"].str.startswith(f"{year}-")]
    by_period = actuals.set_index(["period", "unit_id", "indicator_id"])["value"]

    def judge(m: int, current: bool = True) -> pd.DataFrame:
        frame = targets[["unit_id", "indicator_id", "target"]].copy()
        at = frame["indicator_id"].map(frequency).fillna("monthly").map(lambda f: judged_month(f, m))
        frame["judged"] = at.to_numpy()
        keys = pd.MultiIndex.from_arrays([[f"{year}-{j:02d}" for j in at], frame["unit_id"], frame["indicator_id"]])
        frame["value"] = by_period.reindex(keys).to_numpy()
        share = np.array([shares[j][i] if j else np.nan for j, i in zip(at, frame["indicator_id"])])
        frame["expected"] = frame["target"].to_numpy() * share
        lower = frame["indicator_id"].map(direction).to_numpy() == "lower"
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(lower, frame["expected"] / frame["value"], frame["value"] / frame["expected"])
        due = at.to_numpy() > 0
        # due but not reported counts as no progress now (and gives no trend before); not due
        # yet has none
        missing = 0.0 if current else np.nan
        frame["progress"] = np.where(~due, np.nan, np.where(np.isnan(frame["value"]), missing, ratio))
        frame["due"] = due
        return frame

    now = judge(month)
    before = judge(month - 1, current=False) if month > 1 else None
    if before is not None:
        changed = now["judged"].to_numpy() != before["judged"].to_numpy()
        now["trend"] = np.where(changed, now["progress"].to_numpy() - before["progress"].to_numpy(), np.nan)
        # unchanged judgement (a quarterly indicator between quarter ends): the last change
        prior = judge(max(1, int(month) - 3), current=False) if month > 3 else None
        if prior is not None:
            stale = ~changed & now["due"].to_numpy()
            now.loc[stale, "trend"] = now["progress"].to_numpy()[stale] - prior["progress"].to_numpy()[stale]
    else:
        now["trend"] = np.nan
    now["light"] = np.select([~now["due"], now["progress"] >= thresholds["green"],
                              now["progress"] >= thresholds["amber"]], ["not due", "green", "amber"], "red")
    now = now.rename(columns={"value": "actual"})
    now["period"] = period
    now["judged_period"] = [f"{year}-{j:02d}" if j else "" for j in now["judged"]]
    # the unit against its own history (纵向比较): the same judged period a year before
    history = dataset.actuals.set_index(["period", "unit_id", "indicator_id"])["value"]
    keys = pd.MultiIndex.from_arrays([[f"{year - 1}-{j:02d}" for j in now["judged"]], now["unit_id"],
                                      now["indicator_id"]])
    last = history.reindex(keys).to_numpy(dtype=float, copy=True)
    last[now["judged"].to_numpy() == 0] = np.nan
    now["last_year"] = last
    lower = now["indicator_id"].map(direction).to_numpy() == "lower"
    with np.errstate(divide="ignore", invalid="ignore"):
        now["vs_last_year"] = np.where(lower, last / now["actual"], now["actual"] / last)
    return now[["period", "unit_id", "indicator_id", "target", "expected", "actual", "progress",
                "trend", "light", "judged_period", "last_year", "vs_last_year"]].reset_index(drop=True)


def month_dataset(dataset: Dataset, period: str, params: dict | None = None) -> Dataset:
    """The dataset as it stood at ``period`` (:func:`perfsim.core.periods.period_dataset`
    with the seasons of ``params``)."""
    return period_dataset(dataset, period, (params or load_tracking())["seasons"])


def dynamic_ranking(scheme: Resolved | Scheme, dataset: Dataset, period: str, component: str | None = "targets",
                    params: dict | None = None) -> pd.DataFrame:
    """Rank within category month by month up to ``period`` (by ``component``'s points, or
    by the total when ``component`` is None or absent)."""
    import warnings

    from ..core.errors import PerfsimWarning

    params = params or load_tracking()
    year, month = parse_period(period)
    frames = []
    for m in range(1, month + 1):
        p = f"{year}-{m:02d}"
        with warnings.catch_warnings():      # targets not yet reported this month are expected
            warnings.simplefilter("ignore", PerfsimWarning)
            table = score(scheme, month_dataset(dataset, p, params), year)
        value = table[component] if component and component in table else table["total"]
        groups = pd.factorize(table["category"], sort=True)[0]
        frames.append(pd.DataFrame({"period": p, "unit_id": table["unit_id"], "category": table["category"],
                                    "score": value.to_numpy(), "rank": competition_rank(value.to_numpy(), groups)}))
    return pd.concat(frames, ignore_index=True)


def feedback(progress_table: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Per unit: the indicators not on schedule (amber or red), shortfall and trend."""
    names = dataset.indicators.set_index("indicator_id")["name"]
    behind = progress_table[progress_table["light"].isin(["amber", "red"])].copy()
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


def award_quota(dataset: Dataset, params: dict | None = None) -> int | None:
    """The city's quota of excellent-civil-servant awards: its staff x ``city_quota_share``
    of the tracking knobs (None where the units table has no staff)."""
    knobs = params or load_tracking()
    staff = dataset.units["staff"] if "staff" in dataset.units else None
    if staff is None or not staff.notna().any():
        return None
    return int(round(float(staff.sum()) * float(knobs["city_quota_share"])))


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


def analysis(scheme: Resolved | Scheme, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             period: str = "", params: dict | None = None) -> "Result":
    """The protocol's monthly tracking (e-performance, see :mod:`perfsim.analyses.result`):
    progress against the expected path with traffic lights, the ranking month by month and
    each unit's indicators behind schedule, at ``period`` (YYYY-MM)."""
    from ..core.scheme import as_resolved
    from .result import Chart, Result, both

    scheme = as_resolved(scheme)
    if not period:
        raise PerfsimError("tracking needs a period, YYYY-MM")
    params = params or load_tracking()
    table = progress(dataset, period, params)
    if table["actual"].isna().all():
        raise PerfsimError(f"no actuals for period {period}", where=dataset.where("actuals"))
    category = dataset.units.set_index("unit_id")["category"]
    if "category" not in table:
        table.insert(1, "category", category.reindex(table["unit_id"]).to_numpy())
    ranking = dynamic_ranking(scheme, dataset, period, params=params)
    notes = feedback(table, dataset)
    lights = {k: int(v) for k, v in table["light"].value_counts().reindex(["green", "amber", "red"], fill_value=0).items()}
    worst = notes.groupby("unit_id").size().sort_values(ascending=False).head(5)
    names = dataset.units.set_index("unit_id")["name"]
    facts = {"scheme": scheme.name, "period": period, "targets": int(len(table)), "lights": lights,
             "most_behind": {str(u): int(k) for u, k in worst.items()}}
    listed_zh = "、".join(f"{names.get(u, u)}（{k} 项）" for u, k in worst.items())
    listed_en = ", ".join(f"{u} ({k})" for u, k in worst.items())
    due = sum(lights.values())
    facts["not_due"] = int(len(table) - due)
    zh = (f"截至 {period}，{len(table)} 个单位-指标目标中，{due} 个已到考核时点：绿灯 {lights['green']}、黄灯 "
          f"{lights['amber']}、红灯 {lights['red']}；其余 {len(table) - due} 个尚未到期（按季或按年报送）。"
          + (f"落后于进度的指标最多的单位：{listed_zh}。" if len(worst) else "没有单位落后于进度。"))
    en = (f"At {period}, {due} of {len(table)} unit-indicator targets are due: green {lights['green']}, amber "
          f"{lights['amber']}, red {lights['red']}; the other {len(table) - due} are not yet due (reported quarterly "
          "or yearly)." + (f" Units with most indicators behind schedule: {listed_en}." if len(worst)
                                     else " No unit is behind schedule."))
    return Result(
        "track", both("月度跟踪：进度、预警与动态排名", "Monthly tracking: progress, warnings and the running ranking"),
        tables={"progress": table, "ranking": ranking, "feedback": notes},
        figures={"lights": Chart("lights", ("progress",), both("各类别的进度灯", "Progress lights per category"),
                                 {"labels": dict(scheme.scheme.category_labels), "period": period})},
        facts=facts, texts=both(zh, en), scenarios={"scheme": scheme},
        shown=(("feedback", "落后于进度的指标（反馈给单位）", "Indicators behind schedule (fed back to units)"),))
