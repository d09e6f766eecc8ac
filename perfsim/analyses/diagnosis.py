"""Performance diagnosis (绩效诊断): what the office feeds back to each unit after an
assessment (seed 四.(三).3): its score on every target, its rank within the category and
over the years, its gaps to the expected path and to the category's best, its deductions,
and the indicators that would lift its rank most for the least change.

:func:`diagnose` returns one table of rows per unit and leaf (``leaves``), one row per
unit (``units``), the ranks per year (``history``), the deductions and the three levers per
unit. A lever is a leaf on which the unit does not hold full marks; the change it needs
is the share of that leaf's full marks the unit must add to pass the unit ranked just
above it (the points at stake are the engine's effective weights, so a leaf that weighs
more needs a smaller share); leaves that cannot pass it even at full marks come after
those that can, by the points they could add.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import Tree, check_fit, score_detail
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

#: how many levers each unit is shown
LEVERS = 3


@dataclass(frozen=True)
class Diagnosis:
    year: int
    units: pd.DataFrame         # unit_id, name, category, total, rank, of, grade, gap_to_above, ...
    leaves: pd.DataFrame        # unit_id, path, indicator, label, score, points, held, gaps, progress
    history: pd.DataFrame       # unit_id, year, total, rank
    deductions: pd.DataFrame    # unit_id, item, points, note
    levers: pd.DataFrame        # unit_id, order, path, indicator, label, available, needed, share_needed, reaches


def diagnose(scheme: Resolved, dataset: Dataset, year: int | None = None, period: str | None = None) -> Diagnosis:
    """The diagnosis of every unit (see the module docstring); ``period`` (YYYY-MM) adds the
    progress against the expected path at that month (default: December of the year when
    its actuals exist)."""
    from .panel import panel
    from .tracking import progress

    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        detail = score_detail(scheme, dataset, year)
        history = panel(scheme, dataset).scores[["unit_id", "year", "total", "rank"]] if len(dataset.years) > 1 \
            else detail.table[["unit_id", "total", "rank"]].assign(year=year)
    table = detail.table.set_index("unit_id")
    tree = Tree.of(scheme.scheme)
    leaves = [tree.paths[i] for i in tree.leaves]
    indicator = {tree.paths[i]: (tree.indicator_of(i) if tree.leaf_source(i) == "indicator" else "")
                 for i in tree.leaves}
    titles = dict(zip(dataset.indicators["indicator_id"], dataset.indicators["name"]))
    label = {p: tree.nodes[tree.paths.index(p)].label or titles.get(indicator[p], "") or p.rsplit(".", 1)[1]
             for p in leaves}
    points, held, scores = detail.node_points[leaves], detail.node_held[leaves], detail.node_scores[leaves]
    category = table["category"].reindex(points.index)
    best = points.groupby(category.to_numpy()).transform("max")
    prog = _progress(dataset, year, period, progress)

    rows = []
    for unit in points.index:
        for path in leaves:
            if held.loc[unit, path] <= 0:
                continue
            rows.append({"unit_id": unit, "path": path, "indicator": indicator[path], "label": label[path],
                         "score": scores.loc[unit, path], "points": points.loc[unit, path],
                         "held": held.loc[unit, path], "gap_to_full": held.loc[unit, path] - points.loc[unit, path],
                         "gap_to_best": best.loc[unit, path] - points.loc[unit, path]})
    leaf_table = pd.DataFrame(rows)
    if prog is not None and len(leaf_table):
        leaf_table = leaf_table.merge(prog, how="left", left_on=["unit_id", "indicator"],
                                      right_on=["unit_id", "indicator_id"]).drop(columns="indicator_id")

    unit_rows, lever_rows = [], []
    for cat, members in table.groupby("category"):
        totals = members["total"]
        for unit, row in members.iterrows():
            above = totals[totals > row["total"]]
            gap = float(above.min() - row["total"]) if len(above) else 0.0
            unit_rows.append({"unit_id": unit, "name": row["name"], "category": cat, "total": row["total"],
                              "rank": int(row["rank"]), "of": len(members), "grade": row["grade"],
                              "gap_to_above": gap, "gap_to_top": float(totals.max() - row["total"]),
                              "deduction": row.get("deduction", 0.0), "bonus": row.get("bonus", 0.0)})
            lever_rows += _levers(unit, gap, points.loc[unit], held.loc[unit], indicator, label)
    units = pd.DataFrame(unit_rows).sort_values(["category", "rank", "unit_id"]).reset_index(drop=True)
    adj = dataset.adjustments
    deductions = adj[(adj["year"] == year) & (adj["type"] == "deduction")][["unit_id", "item", "points", "note"]] \
        if len(adj) else pd.DataFrame(columns=["unit_id", "item", "points", "note"])
    return Diagnosis(year, units, leaf_table, history.sort_values(["unit_id", "year"]).reset_index(drop=True),
                     deductions.reset_index(drop=True), pd.DataFrame(lever_rows, columns=LEVER_COLUMNS))


LEVER_COLUMNS = ["unit_id", "order", "path", "indicator", "label", "available", "needed", "share_needed", "reaches"]


def _levers(unit: str, gap: float, points: pd.Series, held: pd.Series, indicator: dict, label: dict) -> list[dict]:
    """The unit's levers: leaves with points to gain, those that pass the unit above first
    (by the share of full marks needed), then the rest by the points available."""
    rows = []
    for path in points.index:
        available = float(held[path] - points[path])
        if held[path] <= 0 or available <= 1e-9:
            continue
        needed = gap + 0.01 if gap > 0 else 0.0
        reaches = gap > 0 and available >= needed
        rows.append({"unit_id": unit, "path": path, "indicator": indicator[path], "label": label[path],
                     "available": available, "needed": needed if gap > 0 else np.nan,
                     "share_needed": needed / float(held[path]) if reaches else np.nan, "reaches": bool(reaches)})
    rows.sort(key=lambda r: (not r["reaches"], r["share_needed"] if r["reaches"] else -r["available"]))
    for k, r in enumerate(rows[:LEVERS]):
        r["order"] = k + 1
    return rows[:LEVERS]


def _progress(dataset: Dataset, year: int, period: str | None, progress) -> pd.DataFrame | None:
    """Progress against the expected path at ``period`` (default: December of ``year``
    when the actuals reach it), or None with a warning when there are no actuals then."""
    period = period or f"{year}-12"
    if not (dataset.actuals["period"] == period).any():
        warnings.warn(f"no actuals for {period}: the diagnosis has no progress against the expected path",
                      PerfsimWarning, stacklevel=3)
        return None
    try:
        table = progress(dataset, period)
    except PerfsimError as exc:
        warnings.warn(f"progress at {period} not computed: {exc}", PerfsimWarning, stacklevel=3)
        return None
    return table[["unit_id", "indicator_id", "target", "expected", "actual", "progress", "light", "vs_last_year"]]


def diagnosis_text(d: Diagnosis, unit: str, lang: str = "en", labels: dict[str, str] | None = None) -> str:
    """The unit's diagnosis in two sentences, every number from ``d`` (``lang`` zh or en;
    ``labels``: the scheme's Chinese names of the categories)."""
    if lang == "zh":
        return _diagnosis_zh(d, unit, labels or {})
    u = d.units.set_index("unit_id").loc[unit]
    levers = d.levers[d.levers["unit_id"] == unit]
    head = (f"{u['name']} ({unit}) scores {u['total']:.2f} in {d.year}, rank {int(u['rank'])} of {int(u['of'])} in "
            f"{u['category']} ({u['grade']}); {u['gap_to_above']:.2f} points below the unit above and "
            f"{u['gap_to_top']:.2f} below the category's best.")
    if u["gap_to_above"] <= 0:
        head = (f"{u['name']} ({unit}) scores {u['total']:.2f} in {d.year}, first of {int(u['of'])} in "
                f"{u['category']} ({u['grade']}).")
    if u["gap_to_above"] <= 0:
        return head + (" It leads its category; most points still to gain: " + "; ".join(
            f"{r.label} ({r.available:.2f})" for r in levers.itertuples()) + "." if len(levers)
            else " It holds full marks on every indicator.")
    reach = levers[levers["reaches"]]
    if len(reach):
        lever = "; ".join(f"{r.label} ({r.indicator or r.path.rsplit('.', 1)[1]}): {r.share_needed:.1%} more of its "
                          f"full marks" for r in reach.itertuples())
        return head + f" To pass the unit above for the least change: {lever}."
    if len(levers):
        return head + " No single indicator closes the gap to the unit above; most points to gain: " + "; ".join(
            f"{r.label} ({r.available:.2f})" for r in levers.itertuples()) + "."
    return head + " It holds full marks on every indicator."


def _diagnosis_zh(d: Diagnosis, unit: str, labels: dict[str, str]) -> str:
    u = d.units.set_index("unit_id").loc[unit]
    levers = d.levers[d.levers["unit_id"] == unit]
    category = labels.get(u["category"], u["category"])
    gain = "；".join(f"{r.label}（{r.available:.2f} 分）" for r in levers.itertuples())
    if u["gap_to_above"] <= 0:
        head = f"{u['name']}（{unit}）{d.year} 年得 {u['total']:.2f} 分，在{category} {int(u['of'])} 个单位中居第 1（{u['grade']}）。"
        return head + (f"尚可增分最多的指标：{gain}。" if len(levers) else "各项指标均已满分。")
    head = (f"{u['name']}（{unit}）{d.year} 年得 {u['total']:.2f} 分，在{category} {int(u['of'])} 个单位中居第 "
            f"{int(u['rank'])}（{u['grade']}），比前一名少 {u['gap_to_above']:.2f} 分，比类别第一少 {u['gap_to_top']:.2f} 分。")
    reach = levers[levers["reaches"]]
    if len(reach):
        return head + "以最小的改进超过前一名：" + "；".join(
            f"{r.label}（{r.indicator or r.path.rsplit('.', 1)[1]}）再得满分的 {r.share_needed:.1%}" for r in reach.itertuples()) + "。"
    if len(levers):
        return head + f"单靠一项指标不能赶上前一名；可增分最多的：{gain}。"
    return head + "各项指标均已满分。"


def analysis(scheme: Resolved, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             period: str | None = None) -> "Result":
    """The protocol's diagnosis (see :mod:`perfsim.analyses.result`): every unit's
    diagnosis as tables, with what they say for the city as a whole (the unit pages are
    drawn from the tables by the report floor)."""
    from ..core.scheme import as_resolved
    from .result import Result, both

    scheme = as_resolved(scheme)
    d = diagnose(scheme, dataset, year, period)
    reach = d.levers[d.levers["reaches"]]
    passing = int(reach["unit_id"].nunique())
    share = float(reach.groupby("unit_id")["share_needed"].min().median()) if len(reach) else None
    facts = {"scheme": scheme.name, "year": d.year, "units": int(len(d.units)), "can_pass_above": passing,
             "median_share_needed": share, "period": period}
    zh = (f"{d.year} 年，{len(d.units)} 个单位各有一页诊断（每项目标的得分、与类别最好的差距、历年名次、减分和提升名次的指标）。"
          + (f"{passing} 个单位只需改进一项指标就能超过前一名，所需的满分份额中位数为 {share:.1%}。" if passing
             else "没有单位能只靠一项指标超过前一名。"))
    en = (f"In {d.year}, each of the {len(d.units)} units has a diagnosis page (its score on every target, gaps to "
          "the category's best, rank over the years, deductions and the indicators that would lift its rank). "
          + (f"{passing} units can pass the unit above by improving one indicator; the median share of its full "
             f"marks needed is {share:.1%}." if passing else "No unit can pass the unit above by one indicator alone."))
    return Result(
        "diagnosis", both("绩效诊断", "Performance diagnosis"),
        tables={"units": d.units, "leaves": d.leaves, "history": d.history, "levers": d.levers,
                "deductions": d.deductions},
        facts=facts, texts=both(zh, en), scenarios={"scheme": scheme},
        shown=(("units", "各单位得分、名次与差距", "Every unit: total, rank and gaps"),))


def diagnosis_of(result) -> Diagnosis:
    """The :class:`Diagnosis` a diagnosis Result holds (its tables)."""
    t = result.tables
    return Diagnosis(int(result.facts["year"]), t["units"], t["leaves"], t["history"], t["deductions"], t["levers"])
