"""Why did a unit move? Attribution of total and rank changes to the components.

Total change. A unit's total is additive: the points of each component plus bonus minus
deduction. Its change is therefore split exactly into the change of each part (before the
total is rounded for ranking).

Rank change. A rank depends on every unit's total at once, so it is not additive. Treat
the parts whose points changed (for any unit) as the players of a cooperative game: for a
coalition S, build hybrid totals in which the parts in S take their scenario values and
the others keep their base values, and let v(S) be the unit's rank under those hybrid
totals minus its base rank. The Shapley value of part j,

    phi_j = sum over S not containing j of |S|! (k - |S| - 1)! / k! * (v(S + j) - v(S)),

splits the rank change among the k changed parts with phi summing to v(all parts), the
rank change (efficiency), by exact enumeration of the 2^k coalitions (k is a handful of
components). A difference between v(no part) and 0 (the base totals ranked in the
scenario's categories and rounding, i.e. a re-cut of the categories) is reported as
``recut``, so that ``sum(phi) + recut == shift``.

References: L. S. Shapley (1953), "A value for n-person games", in Contributions to the
Theory of Games II, Annals of Mathematics Studies 28, 307-317; E. Štrumbelj and
I. Kononenko (2014), "Explaining prediction models and individual predictions with
feature contributions", Knowledge and Information Systems 41, 647-665.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial
from typing import Sequence

import numpy as np
import pandas as pd

from ..core.rules import competition_rank


def parts_of(table: pd.DataFrame, components: Sequence[str]) -> pd.DataFrame:
    """The additive parts of each unit's total: component points, bonus, minus deduction."""
    indexed = table.set_index("unit_id")                       # once: indexing by unit is most of the cost
    parts = indexed[list(components)].astype(float)           # (astype copies)
    parts["bonus"] = indexed["bonus"].astype(float)
    parts["deduction"] = -indexed["deduction"].astype(float)
    return parts


def _ranks(totals: np.ndarray, groups: np.ndarray, decimals: int | None) -> np.ndarray:
    values = np.round(totals, decimals) if decimals is not None else totals
    return competition_rank(values, groups)


def attribute(base: pd.DataFrame, scenario: pd.DataFrame, components: Sequence[str],
              decimals: int | None = None) -> pd.DataFrame:
    """Per unit: total change split by part, rank change split by Shapley values.

    ``base`` and ``scenario`` are result tables of :func:`perfsim.score` (same units);
    ``components`` are the component columns present in both (a component missing in one
    counts as 0 points there). ``decimals`` is the scenario's ranking rounding.
    Columns: ``unit_id, name, category, rank_base, rank_scenario, shift, total_change,
    delta_<part>..., shapley_<part>..., recut``.
    """
    ids = scenario["unit_id"].to_numpy()
    comps = list(components)
    b = parts_of(base.assign(**{c: base[c] if c in base else 0.0 for c in comps}), comps).reindex(ids)
    s = parts_of(scenario.assign(**{c: scenario[c] if c in scenario else 0.0 for c in comps}), comps).reindex(ids)
    delta = (s - b).fillna(0.0)
    names = list(delta.columns)
    changed = [p for p in names if np.abs(delta[p].to_numpy()).max() > 1e-12]
    groups = pd.factorize(scenario["category"], sort=True)[0]
    base_total = b.sum(axis=1).to_numpy()
    rank_base = base.set_index("unit_id")["rank"].reindex(ids).to_numpy()
    k = len(changed)
    d = delta[changed].to_numpy()                                   # units x k
    value: dict[tuple[int, ...], np.ndarray] = {}
    for size in range(k + 1):
        for members in combinations(range(k), size):
            totals = base_total + d[:, list(members)].sum(axis=1)
            value[members] = _ranks(totals, groups, decimals) - rank_base
    shapley = np.zeros((len(ids), k))
    for j in range(k):
        others = [i for i in range(k) if i != j]
        for size in range(k):
            weight = factorial(size) * factorial(k - size - 1) / factorial(k)
            for members in combinations(others, size):
                with_j = tuple(sorted(members + (j,)))
                shapley[:, j] += weight * (value[with_j] - value[members])
    out = pd.DataFrame({
        "unit_id": ids, "name": scenario["name"].to_numpy(), "category": scenario["category"].to_numpy(),
        "rank_base": rank_base, "rank_scenario": scenario["rank"].to_numpy(),
    })
    out["shift"] = out["rank_scenario"] - out["rank_base"]
    out["total_change"] = delta.sum(axis=1).to_numpy()
    for p in names:
        out[f"delta_{p}"] = delta[p].to_numpy()
    for j, p in enumerate(changed):
        out[f"shapley_{p}"] = shapley[:, j]
    out["recut"] = value[()]
    return out
