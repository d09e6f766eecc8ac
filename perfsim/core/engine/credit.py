"""Shared targets: credit shared between the units responsible for one target, the credit table
and the cascade's gaps."""

from __future__ import annotations


import pandas as pd

from ..contract import Dataset
from ..errors import PerfsimError
from .year import _matrix, year_end_actuals, year_view


def credit_table(dataset: Dataset, year: int) -> pd.DataFrame:
    """Per shared indicator and responsible unit: role, share, its own actual and target,
    the joint actual and target, and the credited actual and target (share x joint)."""
    view = year_view(dataset, year)
    raw_actual = _matrix(year_end_actuals(dataset, year), view.ids, "indicator_id", "value",
                         list(dataset.indicators["indicator_id"]))
    raw_target = _matrix(view.tables["targets"], view.ids, "indicator_id", "target",
                         list(dataset.indicators["indicator_id"]))
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return pd.DataFrame(columns=["unit_id", "indicator_id", "role", "share", "actual", "target",
                                     "joint_actual", "joint_target", "credited_actual", "credited_target"])
    rows = shared[shared["year"] == year].copy()
    u = view.ids.get_indexer(rows["unit_id"])
    j = [raw_actual[1][i] for i in rows["indicator_id"]]
    rows["actual"] = raw_actual[0][u, j]
    rows["target"] = raw_target[0][u, j]
    credited_a, credited_t = view.matrices["actual"][0][u, j], view.matrices["target"][0][u, j]
    rows["joint_actual"] = credited_a / rows["share"].to_numpy()
    rows["joint_target"] = credited_t / rows["share"].to_numpy()
    rows["credited_actual"], rows["credited_target"] = credited_a, credited_t
    return rows.drop(columns="year").reset_index(drop=True)


def cascade_gaps(dataset: Dataset, year: int) -> pd.DataFrame:
    """Indicators whose city goal (``goals``) the units' targets do not add up to (层层分解):
    the goal, the sum of the unit targets, the gap (goal - sum; for lower-is-better
    indicators sum - goal) and how many units carry a target. Only gaps are listed."""
    goals = dataset.tables.get("goals")
    columns = ["indicator_id", "goal", "unit_targets", "gap", "units"]
    if goals is None or not len(goals):
        return pd.DataFrame(columns=columns)
    lower = set(dataset.indicators.loc[dataset.indicators["direction"] == "lower", "indicator_id"])
    targets = dataset.targets[dataset.targets["year"] == year]
    rows = []
    for g in goals[goals["year"] == year].itertuples():
        mine = targets[targets["indicator_id"] == g.indicator_id]["target"]
        total = float(mine.sum())
        gap = (total - g.goal) if g.indicator_id in lower else (g.goal - total)
        if gap > 1e-9 * max(1.0, abs(g.goal)):
            rows.append({"indicator_id": g.indicator_id, "goal": g.goal, "unit_targets": total, "gap": gap,
                         "units": int(len(mine))})
    return pd.DataFrame(rows, columns=columns)


def _check_responsibilities(dataset: Dataset, year: int) -> None:
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return
    rows = shared[shared["year"] == year]
    measure = dict(zip(dataset.indicators["indicator_id"], dataset.indicators["unit_of_measure"].fillna("")))
    for indicator, part in rows.groupby("indicator_id"):
        if "%" in str(measure.get(indicator, "")):
            raise PerfsimError(f"shared indicator '{indicator}' is a percentage ({measure[indicator]}): a shared target "
                               "adds the units' actuals and targets, so it needs an amount or a count",
                               where=dataset.where("responsibilities", part.index[0], "indicator_id"))
        leads = int((part["role"] == "lead").sum())
        if leads != 1:
            r = part.index[0]
            raise PerfsimError(f"shared indicator '{indicator}' has {leads} lead units in {year}: exactly one unit "
                               "leads (主责), the others are co-responsible (分办)",
                               where=dataset.where("responsibilities", r, "role"))
        total = float(part["share"].sum())
        if abs(total - 1.0) > 1e-6:
            r = part.index[0]
            raise PerfsimError(f"the shares of shared indicator '{indicator}' add up to {total:g} in {year}, not 1: "
                               "the credits must add up to the joint target", where=dataset.where("responsibilities", r,
                                                                                                  "share"))
