"""Compare two scored schemes: rank shifts per unit and summary statistics per category.

``shift = rank_scenario - rank_base``: a negative shift is a move up (towards rank 1).
Rank correlations come from :mod:`scipy.stats` (Kendall's tau-b and Spearman's rho,
both handle ties).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHIFT_COLUMNS = ["unit_id", "name", "category", "total_base", "total_scenario", "rank_base",
                 "rank_scenario", "shift", "grade_base", "grade_scenario"]
SUMMARY_COLUMNS = ["category", "n", "kendall_tau", "spearman_rho", "mean_abs_shift",
                   "max_abs_shift", "top3_overlap", "grade_changes"]


def rank_shifts(base: pd.DataFrame, scenario: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: totals, ranks and grades under both schemes, and the shift.

    ``base`` and ``scenario`` are result tables of :func:`perfsim.score` on the same
    units. The category is the scenario's (so a re-cut of categories shows up as the
    scenario's grouping). Sorted by category, then scenario rank.
    """
    b = base.set_index("unit_id")
    s = scenario.set_index("unit_id")
    missing = b.index.symmetric_difference(s.index)
    if len(missing):
        raise ValueError(f"the two tables do not hold the same units: {list(missing)[:5]}")
    b = b.reindex(s.index)
    out = pd.DataFrame({
        "unit_id": s.index, "name": s["name"].to_numpy(), "category": s["category"].to_numpy(),
        "total_base": b["total"].to_numpy(), "total_scenario": s["total"].to_numpy(),
        "rank_base": b["rank"].to_numpy(), "rank_scenario": s["rank"].to_numpy(),
    })
    out["shift"] = out["rank_scenario"] - out["rank_base"]
    out["grade_base"] = b["grade"].to_numpy()
    out["grade_scenario"] = s["grade"].to_numpy()
    return out.sort_values(["category", "rank_scenario", "unit_id"], kind="stable").reset_index(drop=True)


def _correlation(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        # one unit, or no variation: identical orders count as perfect agreement
        return 1.0 if np.array_equal(a, b) else float("nan")
    return float(fn(a, b).statistic)


def _top3_overlap(group: pd.DataFrame) -> float:
    top_base = set(group.loc[group["rank_base"] <= 3, "unit_id"])
    top_scen = set(group.loc[group["rank_scenario"] <= 3, "unit_id"])
    return len(top_base & top_scen) / len(top_base) if top_base else float("nan")


def summarise(shifts: pd.DataFrame) -> pd.DataFrame:
    """Per category and overall: n, Kendall tau, Spearman rho, mean and max |shift|,
    top-3 overlap (share of the base top three still in the scenario's top three) and
    the number of grade changes.

    The ``overall`` row pools the units: n, |shift| statistics, top-3 overlap and grade
    changes over all units; tau and rho are the n-weighted means of the category values
    (ranks are only comparable within a category).
    """
    from scipy import stats          # (here: a batch's index reads the notebooks' summaries)

    rows = []
    for category, g in shifts.groupby("category", sort=True):
        a, b = g["rank_base"].to_numpy(), g["rank_scenario"].to_numpy()
        rows.append({
            "category": category, "n": len(g),
            "kendall_tau": _correlation(stats.kendalltau, a, b),
            "spearman_rho": _correlation(stats.spearmanr, a, b),
            "mean_abs_shift": float(g["shift"].abs().mean()),
            "max_abs_shift": int(g["shift"].abs().max()),
            "top3_overlap": _top3_overlap(g),
            "grade_changes": int((g["grade_base"] != g["grade_scenario"]).sum()),
        })
    per = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    top_base = int((shifts["rank_base"] <= 3).sum())
    kept = int(((shifts["rank_base"] <= 3) & (shifts["rank_scenario"] <= 3)).sum())
    weights = per["n"].to_numpy(dtype=float)
    overall = {
        "category": "overall", "n": len(shifts),
        "kendall_tau": float(np.average(per["kendall_tau"].fillna(1.0), weights=weights)),
        "spearman_rho": float(np.average(per["spearman_rho"].fillna(1.0), weights=weights)),
        "mean_abs_shift": float(shifts["shift"].abs().mean()),
        "max_abs_shift": int(shifts["shift"].abs().max()),
        "top3_overlap": kept / top_base if top_base else float("nan"),
        "grade_changes": int((shifts["grade_base"] != shifts["grade_scenario"]).sum()),
    }
    return pd.concat([per, pd.DataFrame([overall])], ignore_index=True)


def biggest_movers(shifts: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """The k largest moves up and the k largest moves down (by |shift|, then total change)."""
    moved = shifts[shifts["shift"] != 0].assign(
        abs_shift=lambda d: d["shift"].abs(),
        total_change=lambda d: d["total_scenario"] - d["total_base"])
    up = moved[moved["shift"] < 0].sort_values(["abs_shift", "total_change"], ascending=[False, False]).head(k)
    down = moved[moved["shift"] > 0].sort_values(["abs_shift", "total_change"], ascending=[False, True]).head(k)
    return pd.concat([up, down]).drop(columns="abs_shift")

