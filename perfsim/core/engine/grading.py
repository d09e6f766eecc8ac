"""Grades: by score bands or by quota within category, with the floor and the veto."""

from __future__ import annotations


import numpy as np

from ..scheme import Scheme



def _quota_table(g, groups: np.ndarray, max_rank: int) -> np.ndarray:
    """Quota grading as a table: the grade index of each unit at each rank 1..max_rank
    (units x max_rank). The first grades go to the best ranks, each taking its share of
    the group's size (rounded as the scheme says), the second to last grade to the rest."""
    size = np.bincount(groups)[groups].astype(float)
    round_ = {"floor": np.floor, "round": lambda v: np.floor(v + 0.5), "ceil": np.ceil}[g.rounding]
    ranks_ = np.arange(1, max_rank + 1)[None, :]
    table = np.full((len(groups), max_rank), len(g.grades) - 2, dtype=np.int64)
    cumulative = np.zeros(len(groups))
    assigned = np.zeros(table.shape, dtype=bool)
    for k, name in enumerate(g.grades[:-2]):
        # round to 9 places first so that 0.2 * 5 counts as 1 under floor and ceil alike
        cumulative = cumulative + round_(np.round((g.quota or {}).get(name, 0.0) * size, 9))
        hit = ~assigned & (ranks_ <= cumulative[:, None])
        table[hit] = k
        assigned |= hit
    return table


def grade_index(scheme: Scheme, total: np.ndarray, rank: np.ndarray, groups: np.ndarray,
                veto: np.ndarray) -> np.ndarray:
    """Index into ``scheme.grading.grades`` per unit; works on (units,) or (draws, units).

    By quota: within each ranking group the first grades go to the best ranks, each grade
    taking its share of the group's size (rounded as the scheme says; ties at the edge
    share the better grade), the second to last grade to the rest, the last grade below
    ``floor``. By thresholds: the best grade whose minimum total is reached. A veto gives
    the last grade whatever the total.
    """
    g = scheme.grading
    if g is None:
        return np.zeros(np.shape(total), dtype=np.int64)
    names = g.grades
    if g.method == "quota":
        rank = np.asarray(rank)
        table = _quota_table(g, groups, int(rank.max(initial=1)))
        out = table[np.arange(len(groups)), rank - 1]
        if g.floor is not None:
            out[total < g.floor] = len(names) - 1
    else:
        out = np.full(np.shape(total), len(names) - 1, dtype=np.int64)
        for k in reversed(range(len(names) - 1)):
            th = (g.thresholds or {}).get(names[k])
            if th is not None:
                out[total >= th] = k
    out[..., veto] = len(names) - 1
    return out


def grade_counts(scheme: Scheme, total: np.ndarray, rank: np.ndarray, rank_hist: np.ndarray,
                 groups: np.ndarray, veto: np.ndarray) -> np.ndarray:
    """How many of the draws give each unit each grade (units x grades): the same as
    counting :func:`grade_index` over the draws (``total``, ``rank``: draws x units), but
    quota grades are read off the rank histogram (``rank_hist``: units x ranks) and only
    the draws below the floor are visited one by one."""
    g = scheme.grading
    draws = total.shape[0]
    if g is None:
        return np.full((len(groups), 1), draws, dtype=np.int64)
    K = len(g.grades)
    if g.method == "quota":
        table = _quota_table(g, groups, rank_hist.shape[1])
        counts = np.stack([(rank_hist * (table == k)).sum(axis=1) for k in range(K)], axis=1)
        if g.floor is not None:
            low = np.flatnonzero(total.min(axis=0) < g.floor)     # units ever below the floor
            u, d = np.nonzero((total[:, low] < g.floor).T)
            u = low[u]
            np.add.at(counts, (u, table[u, rank[d, u] - 1]), -1)
            np.add.at(counts, (u, np.full(len(u), K - 1)), 1)
    else:
        index = grade_index(scheme, total, rank, groups, np.zeros(len(groups), dtype=bool))
        unit = np.arange(len(groups))[None, :]
        counts = np.bincount((unit * K + index).ravel(order="K"), minlength=len(groups) * K).reshape(-1, K)
    counts[veto] = 0
    counts[veto, K - 1] = draws
    return counts
