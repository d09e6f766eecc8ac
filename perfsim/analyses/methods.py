"""How much the ranking owes to the aggregation method itself: the units of each category
ranked by TOPSIS, VIKOR and PROMETHEE II (pymcdm) on the scheme's leaf scores with the
scheme's effective weights, compared with the scheme's own ranking.

Per category the decision matrix is the leaf scores (fractions of full marks; 0 where a
leaf does not apply to a unit) of the leaves that apply to some unit of the category; a
leaf's weight is the mean number of points it holds over the category's units. Leaves
on which every unit of the category scores the same are left out (they do not separate
units, and TOPSIS's normalisation is undefined for them). PROMETHEE II uses the ``usual``
preference function, VIKOR ``v = 0.5``, TOPSIS the vector normalisation of Hwang & Yoon
(pymcdm's default would be min-max).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.contract import Dataset
from ..core.engine import Scored, Tree, check_fit, score_arrays
from ..core.errors import PerfsimWarning
from ..core.scheme import Resolved, Scheme, as_resolved, plain
from ..core.paths import DEFAULT_SEED
from .result import Chart, Result, both

METHODS = ("TOPSIS", "VIKOR", "PROMETHEE_II")


def _method(name: str):
    from pymcdm import methods as pm
    from pymcdm.normalizations import vector_normalization

    return {"TOPSIS": pm.TOPSIS(vector_normalization), "VIKOR": pm.VIKOR(), "PROMETHEE_II": pm.PROMETHEE_II("usual")}[name]


@dataclass(frozen=True)
class Matrix:
    """One category's decision matrix: rows ``on`` (unit indices), leaf columns ``leaves``
    (tree indices), ``values`` the leaf scores (fractions of full marks, 0 where a leaf does
    not apply), ``weights`` the mean points each leaf holds over the rows, normalised."""

    category: str
    on: np.ndarray
    leaves: np.ndarray
    values: np.ndarray
    weights: np.ndarray


def decision_matrices(s: Scored, scheme: Scheme) -> list[Matrix]:
    """The decision matrix of every ranking group of scored arrays ``s``."""
    leaves = np.asarray(Tree.of(scheme).leaves)
    scores, held = s.node_score[:, leaves], s.node_held[:, leaves]
    categories = s.inputs.units["category"].to_numpy()
    out = []
    for g in np.unique(s.inputs.groups):
        on = np.flatnonzero(s.inputs.groups == g)
        category = str(categories[on[0]]) if len(set(categories[on])) == 1 else "all"
        cols = np.flatnonzero(held[on].sum(axis=0) > 0)
        values = np.where(held[np.ix_(on, cols)] > 0, scores[np.ix_(on, cols)], 0.0)
        varies = np.ptp(values, axis=0) > 0
        values, cols = values[:, varies], cols[varies]
        weights = held[np.ix_(on, cols)].mean(axis=0)
        out.append(Matrix(category, on, leaves[cols], values,
                          weights / weights.sum() if weights.sum() > 0 else weights))
    return out


def method_rankings(scheme: Resolved | Scheme, dataset: Dataset, year: int | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranks: unit_id, name, category, rank_scheme and rank_<METHOD>; summary: per category
    and method, Kendall's tau with the scheme's ranking, the largest move and the units
    that move by more than one place)."""
    scheme_obj = plain(scheme)
    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        s = score_arrays(scheme_obj, dataset, year)
    units = s.inputs.units
    ranks = pd.DataFrame({"unit_id": units["unit_id"].to_numpy(), "name": units["name"].to_numpy(),
                          "category": units["category"].to_numpy(), "rank_scheme": s.rank})
    for name in METHODS:
        ranks[f"rank_{name}"] = np.nan
    rows = []
    for m in decision_matrices(s, scheme_obj):
        if len(m.on) < 3 or len(m.leaves) < 2:
            rows.extend({"category": m.category, "method": name, "units": len(m.on), "leaves": len(m.leaves),
                         "tau": np.nan, "max_move": np.nan, "moved_over_1": np.nan,
                         "note": "too few units or varying leaves"} for name in METHODS)
            continue
        for name in METHODS:
            method = _method(name)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # pymcdm warns when one alternative dominates all others: harmless here
                warnings.filterwarnings("ignore", message=".*dominant.*", category=UserWarning)
                pref = method(m.values, m.weights, np.ones(len(m.leaves)))
            rank = np.asarray(method.rank(pref), dtype=float)
            ranks.loc[m.on, f"rank_{name}"] = rank
            move = np.abs(rank - s.rank[m.on])
            rows.append({"category": m.category, "method": name, "units": len(m.on), "leaves": len(m.leaves),
                         "tau": float(stats.kendalltau(s.rank[m.on], rank).statistic),
                         "max_move": float(move.max()), "moved_over_1": int((move > 1).sum()), "note": ""})
    return ranks, pd.DataFrame(rows)


def biggest_moves(ranks: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The units whose rank moves most under any method: unit, category, the scheme's rank,
    each method's rank and the largest move."""
    cols = [f"rank_{m}" for m in METHODS]
    moves = ranks[cols].sub(ranks["rank_scheme"], axis=0).abs()
    out = ranks.assign(max_move=moves.max(axis=1)).dropna(subset=["max_move"])
    return out.sort_values(["max_move", "category", "rank_scheme"], ascending=[False, True, True]).head(top) \
        .reset_index(drop=True)


def methods_text(summary: pd.DataFrame, lang: str = "en", labels: dict[str, str] | None = None) -> str:
    """One paragraph on how much the ranking owes to the aggregation method, from the
    summary, in ``lang`` (zh: categories by the scheme's ``labels``)."""
    zh = lang == "zh"
    if zh:
        summary = summary.assign(category=summary["category"].map(lambda c: (labels or {}).get(c, c)))
    done = summary.dropna(subset=["tau"])
    skipped = sorted(set(summary[summary["tau"].isna()]["category"]))
    if zh:
        tail = f"未排名的类别（单位或有差异的指标太少）：{'、'.join(skipped)}。" if skipped else ""
    else:
        tail = f"Not ranked (too few units or varying leaves): {', '.join(skipped)}." if skipped else ""
    if done.empty:
        return ("没有哪个类别有足够的单位和有差异的指标可用其他方法排名。" + tail if zh else
                "No category had enough units and varying leaves to rank by other methods. " + tail)
    worst = done.loc[done["tau"].idxmin()]
    best = done.loc[done["tau"].idxmax()]
    by_method = done.groupby("method")["tau"].mean()
    means = [f"{m} {by_method[m]:.2f}" for m in METHODS if m in by_method]
    moved = int(done["moved_over_1"].sum())
    units = int(done.drop_duplicates("category")["units"].sum())
    largest = int(done["max_move"].max())
    unstable = bool((done["tau"] < 0.8).any())
    if zh:
        parts = [f"用同一套末级指标得分和权重，按 TOPSIS、VIKOR 和 PROMETHEE II 重新排名，与方案排名的 Kendall τ "
                 f"在 {worst.tau:.2f}（{worst.method}，{worst.category}）到 {best.tau:.2f}（{best.method}，{best.category}）"
                 "之间；平均 τ：" + "，".join(means) + "。",
                 f"各类别、各方法合计，有 {moved} 个单位名次（每种方法 {units} 个单位）变动超过 1 位，最大变动 {largest} 位。"]
        if unstable:
            parts.append("τ 低于 0.8 的类别，类别内的先后既取决于数据，也取决于集成方法：总分的小差距不是可靠的证据。")
        return "".join(parts) + tail
    parts = [f"Ranked by TOPSIS, VIKOR and PROMETHEE II on the same leaf scores and weights, the units' "
             f"order agrees with the scheme's with Kendall tau from {worst.tau:.2f} ({worst.method}, "
             f"{worst.category}) to {best.tau:.2f} ({best.method}, {best.category}); mean tau "
             + ", ".join(means) + ".",
             f"Summed over categories and methods, {moved} unit rankings move by more than one place "
             f"(of {units} units per method); the largest move is {largest} places."]
    if unstable:
        parts.append("Where tau is below 0.8 the order within that category depends on the aggregation method "
                     "as much as on the data: small gaps between totals are not robust evidence.")
    if tail:
        parts.append(tail)
    return " ".join(parts)


def analysis(scheme: Resolved | Scheme, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             top: int = 10) -> Result:
    """The protocol's methods analysis (see :mod:`perfsim.analyses.result`): the ranking
    under TOPSIS, VIKOR and PROMETHEE II against the scheme's own, per category."""
    scheme = as_resolved(scheme)
    ranks, summary = method_rankings(scheme, dataset, year)
    moves = biggest_moves(ranks, top)
    done = summary.dropna(subset=["tau"])
    facts = {"scheme": scheme.name, "methods": list(METHODS),
             "tau_min": None if done.empty else float(done["tau"].min()),
             "tau_max": None if done.empty else float(done["tau"].max()),
             "moved_over_1": int(done["moved_over_1"].sum()) if len(done) else 0,
             "max_move": None if done.empty else int(done["max_move"].max()),
             "below_0_8": sorted(set(done[done["tau"] < 0.8]["category"]))}
    return Result(
        "methods", both("排名对集成方法的依赖", "How much the ranking owes to the aggregation method"),
        tables={"method_ranks": ranks, "method_summary": summary, "biggest_moves": moves},
        figures={"methods": Chart("methods", ("method_summary", "method_ranks"),
                                  both("各方法与方案排名的一致性；每个单位的排名",
                                       "Agreement per category; every unit's rank"), {"scheme_name": scheme.name})},
        facts=facts, texts=both(methods_text(summary, "zh", dict(scheme.scheme.category_labels)), methods_text(summary)), scenarios={"scheme": scheme},
        shown=(("method_summary", "各类别、各方法与方案排名的一致性", "Agreement with the scheme per category and method"),
               ("biggest_moves", "名次变动最大的单位", "Units that move most")))
