"""Assessment periods: the dataset as it stood at a month of the year.

:func:`period_dataset` keeps the year's actuals reported by then and scales each target to
the share expected by the indicator's last judged month (monthly indicators: this month;
quarterly: the last quarter end; annual: December), so that the year-end scheme scores
progress to date; indicators not due yet are left out (their weight goes to the others),
rather than scored 0. The expected shares follow the seasons of ``params/tracking.yaml``
(the indicators table's optional ``season`` column) or time (month / 12). The tracking
analyses and periodic assessment (a scheme's ``assessment:``) both use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contract import Dataset
from .errors import PerfsimError
from .knobs import load_knobs
from .paths import PARAMS_DIR

TRACKING = PARAMS_DIR / "tracking.yaml"


def load_seasons() -> dict:
    """The expected-progress profiles of ``params/tracking.yaml``."""
    return load_knobs(TRACKING)["seasons"]


def parse_period(period: str) -> tuple[int, int]:
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


def judged_month(frequency: str, month: int) -> int:
    """The month whose year-to-date value an indicator is judged on by ``month``: the month
    itself for monthly indicators, the last quarter end for quarterly ones, December for
    annual ones (0: not due yet)."""
    if frequency == "quarterly":
        return 3 * (month // 3)
    if frequency == "annual":
        return 12 if month == 12 else 0
    return month


def judged_frequency(dataset: Dataset) -> pd.Series:
    ind = dataset.indicators.set_index("indicator_id")
    return ind["frequency"] if "frequency" in ind else pd.Series("monthly", index=ind.index)


def period_dataset(dataset: Dataset, period: str, seasons: dict | None = None) -> Dataset:
    """The dataset as it stood at ``period``: the year's actuals reported by then, and each
    target scaled to the share expected by the indicator's last judged month (monthly:
    this month; quarterly: the last quarter end; annual: December), so that the year-end
    scheme scores progress to date. Indicators not due yet are left out (their weight goes
    to the others), rather than scored 0."""
    seasons = load_seasons() if seasons is None else seasons
    year, month = parse_period(period)
    frequency = judged_frequency(dataset)
    judged = {i: judged_month(f, month) for i, f in frequency.items()}
    targets = dataset.targets.copy()
    this_year = targets["year"].astype(int) == year
    at = targets.loc[this_year, "indicator_id"].map(judged).fillna(month).astype(int)
    shares = {m: expected_share(dataset, m, seasons) for m in set(at) if m}
    factor = [shares[m][i] if m else np.nan for m, i in zip(at, targets.loc[this_year, "indicator_id"])]
    targets.loc[this_year, "target"] = targets.loc[this_year, "target"].to_numpy() * np.array(factor)
    due = ~(this_year & targets["indicator_id"].map(judged).fillna(month).eq(0))
    targets = targets[due]
    actuals = dataset.actuals[dataset.actuals["period"] <= period]
    tables = {"targets": targets, "actuals": actuals}
    goals = dataset.tables.get("goals")
    if goals is not None and len(goals):
        # the city goal scaled as its units' targets are, so that the cascade check (targets
        # add up to the goal) compares like with like at any period
        goals = goals.copy()
        mine = goals["year"].astype(int) == year
        when = goals.loc[mine, "indicator_id"].map(judged).fillna(month).astype(int)
        extra = {m: expected_share(dataset, m, seasons) for m in set(when) if m and m not in shares}
        shares.update(extra)
        factor = [shares[m][i] if m else np.nan for m, i in zip(when, goals.loc[mine, "indicator_id"])]
        goals.loc[mine, "goal"] = goals.loc[mine, "goal"].to_numpy() * np.array(factor)
        tables["goals"] = goals[~(mine & goals["indicator_id"].map(judged).fillna(month).eq(0))]
    return dataset.replace(origin=f"{dataset.origin} (as of {period})", **tables)
