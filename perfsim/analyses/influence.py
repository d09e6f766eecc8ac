"""How much each indicator really drives the ranking, and how few would do (少而精).

:func:`drop_diff` is the one way an indicator leaves a scheme: a declarative diff that
removes it (and any node left without children), and where siblings carry points, gives
the parent's points to the remaining ones in proportion (their descendants' points
scaled alike), so the scheme stays valid and the weights are re-normalised.

:func:`influence` drops each indicator in turn and compares with the full ranking:
Kendall's tau per category (scipy), units that move, grade changes; beside it the
indicator's nominal weight (the mean share of the total points it holds where it
applies) and its effective influence within categories (the correlation of its points
with the total, and its share of the variance of totals, cov(points, total) /
var(total), both on values less their category's mean; the shares add up to 1 with the
other parts of the total).

:func:`reduce` removes indicators one at a time (greedy backward elimination), each time
the one whose removal keeps the ranking closest to the full one, while Kendall's tau stays
at or above ``min_tau`` in every category.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pandas as pd
from scipy import stats

from ..core.contract import Dataset
from ..core.engine import Tree, check_fit, score_arrays
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, Scheme, apply_diff, as_resolved, parse_scheme, raw_of
from ..core.scheme import plain
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result


def drop_diff(scheme: Scheme, leaves: Iterable[str]) -> dict:
    """``{"set": ..., "remove": [...]}`` taking the leaves (paths) out of ``scheme``."""
    tree = Tree.of(scheme)
    index = {p: i for i, p in enumerate(tree.paths)}
    gone = set()
    for path in leaves:
        if path not in index:
            raise PerfsimError(f"'{path}' is not a node of scheme '{scheme.name}'")
        gone.add(index[path])
    changed = True
    while changed:                       # a node without a normal child left goes too
        changed = False
        for i in range(len(tree.nodes)):
            kids = [c for c in tree.children[i] if not tree.nodes[c].extra]
            if kids and i not in gone and all(c in gone for c in kids):
                if i == 0:
                    raise PerfsimError("dropping these would leave the scheme without indicators")
                gone.add(i)
                changed = True
    removals = sorted(tree.paths[i] for i in gone if tree.parent[i] not in gone)
    sets: dict[str, float] = {}

    def scale(i: int, factor: float) -> None:
        for c in tree.children[i]:
            node = tree.nodes[c]
            if c in gone or node.extra or node.points is None:
                continue
            sets[f"{tree.paths[c]}.points"] = float(sets.get(f"{tree.paths[c]}.points", node.points)) * factor
            scale(c, factor)

    for i in range(len(tree.nodes)):
        if i in gone:
            continue
        kids = [c for c in tree.children[i] if not tree.nodes[c].extra]
        lost = [c for c in kids if c in gone]
        if not lost or not all(tree.nodes[c].points is not None for c in kids):
            continue
        whole = sum(float(tree.nodes[c].points) for c in kids)
        left = whole - sum(float(tree.nodes[c].points) for c in lost)
        if left <= 0:
            raise PerfsimError(f"dropping these leaves '{tree.paths[i]}' no points to share out")
        for c in kids:
            if c not in gone:
                sets[f"{tree.paths[c]}.points"] = float(tree.nodes[c].points) * whole / left
                scale(c, whole / left)
    return {"set": {k: round(v, 9) for k, v in sets.items()}, "remove": removals}


def without(scheme: Resolved | Scheme, leaves: list[str]) -> Scheme:
    """The scheme with ``leaves`` dropped (see :func:`drop_diff`)."""
    scheme_obj = plain(scheme)
    diff = drop_diff(scheme_obj, leaves)
    raw = apply_diff(raw_of(scheme), diff["set"], diff["remove"], f"scheme '{scheme_obj.name}'")
    _fix_sums(raw)
    return parse_scheme(raw, f"scheme '{scheme_obj.name}' with indicators dropped")


def _fix_sums(node: dict) -> None:
    """Absorb float rounding so children's points add up exactly to their parent's."""
    kids = node.get("children")
    if not isinstance(kids, dict):
        return
    normal = [k for k, c in kids.items() if not c.get("extra")]
    if node.get("points") is not None and normal and all(kids[k].get("points") is not None for k in normal):
        gap = float(node["points"]) - sum(float(kids[k]["points"]) for k in normal)
        kids[normal[-1]]["points"] = float(kids[normal[-1]]["points"]) + gap
    for child in kids.values():
        _fix_sums(child)


def indicator_leaves(scheme: Resolved | Scheme) -> list[str]:
    scheme_obj = plain(scheme)
    tree = Tree.of(scheme_obj)
    return [tree.paths[i] for i in tree.leaves if tree.leaf_source(i) == "indicator"]


def category_taus(rank_a: np.ndarray, rank_b: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between two rankings within each group (NaN for groups under 3)."""
    out = []
    for g in np.unique(groups):
        on = groups == g
        if on.sum() < 3 or np.ptp(rank_a[on]) == 0 or np.ptp(rank_b[on]) == 0:
            out.append(np.nan if on.sum() < 3 else float(np.array_equal(rank_a[on], rank_b[on])))
            continue
        out.append(float(stats.kendalltau(rank_a[on], rank_b[on]).statistic))
    return np.array(out)


def influence(scheme: Resolved, dataset: Dataset, year: int | None = None,
              progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Per indicator: what dropping it does to the ranking, and its nominal and effective
    weight (see the module docstring)."""
    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        full = score_arrays(scheme.scheme, dataset, year)
    tree = Tree.of(scheme.scheme)
    groups = full.inputs.groups
    names = np.array(tree.paths)
    rows = []
    total = _within(full.total, groups)            # ranks are within categories: so is the variance
    var_total = float(np.mean(total ** 2))
    titles = dict(zip(dataset.indicators["indicator_id"], dataset.indicators["name"]))
    for path in indicator_leaves(scheme):
        j = int(np.flatnonzero(names == path)[0])
        points = _within(full.node_points[:, j], groups)
        on = full.node_held[:, j] > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            dropped = score_arrays(without(scheme, [path]), dataset, year)
        taus = category_taus(full.rank, dropped.rank, groups)
        r = float(np.corrcoef(points[on], total[on])[0, 1]) if on.sum() > 2 and np.ptp(points[on]) > 0 else np.nan
        indicator = tree.indicator_of(j)
        rows.append({"path": path, "indicator": indicator, "label": tree.nodes[j].label or titles.get(indicator, ""),
                     "units": int(on.sum()),
                     "nominal_weight": float(full.node_held[on, j].mean() / float(scheme.scheme.tree.points))
                     if on.any() else 0.0,
                     "r_total": r,
                     "variance_share": float(np.mean(points * total) / var_total) if var_total else 0.0,
                     "tau_min": _nan_stat(np.nanmin, taus), "tau_mean": _nan_stat(np.nanmean, taus),
                     "units_moved": int((dropped.rank != full.rank).sum()),
                     "grade_changes": int((dropped.grade != full.grade).sum())})
        if progress:
            progress(1)
    return pd.DataFrame(rows).sort_values("tau_min", kind="stable").reset_index(drop=True)


def _nan_stat(fn, values: np.ndarray, empty: float = np.nan) -> float:
    """``fn`` over the finite values (``empty`` when there are none: no group of 3 units)."""
    finite = values[np.isfinite(values)]
    return float(fn(finite)) if len(finite) else empty


def _within(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Values minus their group's mean."""
    means = np.bincount(groups, weights=values) / np.maximum(np.bincount(groups), 1)
    return values - means[groups]


@dataclass(frozen=True)
class Reduction:
    kept: list[str]
    dropped: list[str]
    steps: pd.DataFrame           # step, dropped, tau_min, tau_mean, indicators_left
    min_tau: float


def reduce(scheme: Resolved, dataset: Dataset, min_tau: float = 0.95, year: int | None = None,
           progress: Callable[[int], None] | None = None) -> Reduction:
    """Greedy backward elimination of indicators keeping Kendall's tau to the full ranking
    at or above ``min_tau`` in every category (see the module docstring)."""
    if not 0 < min_tau <= 1:
        raise PerfsimError(f"min_tau must be above 0 and at most 1 (got {min_tau})")
    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        full = score_arrays(scheme.scheme, dataset, year)
    groups = full.inputs.groups
    kept, dropped, steps = indicator_leaves(scheme), [], []
    while len(kept) > 1:
        best = None
        for path in kept:
            try:
                variant = without(scheme, dropped + [path])
            except PerfsimError:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PerfsimWarning)
                rank = score_arrays(variant, dataset, year).rank
            taus = category_taus(full.rank, rank, groups)
            key = (_nan_stat(np.nanmin, taus, 1.0), _nan_stat(np.nanmean, taus, 1.0))
            if best is None or key > best[0]:
                best = (key, path)
        if progress:
            progress(1)
        if best is None or best[0][0] < min_tau:
            break
        (tau_min, tau_mean), path = best
        kept.remove(path)
        dropped.append(path)
        steps.append({"step": len(dropped), "dropped": path, "tau_min": tau_min, "tau_mean": tau_mean,
                      "indicators_left": len(kept)})
    return Reduction(kept, dropped, pd.DataFrame(steps, columns=["step", "dropped", "tau_min", "tau_mean",
                                                                 "indicators_left"]), min_tau)


def reduction_text(scheme: Resolved, reduction: Reduction, out: str | Path, name: str | None = None) -> str:
    """The reduced scheme as a scenario diff over ``scheme`` (removals, points re-shared)."""
    import os

    import yaml

    diff = drop_diff(scheme.scheme, reduction.dropped) if reduction.dropped else {"set": {}, "remove": []}
    raw = apply_diff(raw_of(scheme), diff["set"], diff["remove"], str(scheme.path))
    _fix_sums(raw)
    sets = {k: _get(raw, k) for k in diff["set"]}
    base = os.path.relpath(Path(scheme.path).resolve(), Path(out).resolve().parent)
    last = reduction.steps.iloc[-1] if len(reduction.steps) else None
    body = {"name": name or f"{scheme.name}_reduced",
            "description": (f"{len(reduction.kept)} of {len(reduction.kept) + len(reduction.dropped)} indicators; "
                            f"Kendall tau to the full ranking at least {reduction.min_tau:g} in every category"
                            + (f" (lowest {last['tau_min']:.3f})" if last is not None else "")),
            "base": Path(base).as_posix(), "set": sets, "remove": diff["remove"]}
    head = (f"# {scheme.name} reduced by perfsim reduce (greedy backward elimination, min tau {reduction.min_tau:g}).\n"
            f"# dropped in order: {', '.join(p.rsplit('.', 1)[1] for p in reduction.dropped) or 'none'}\n")
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def _get(raw: dict, path: str):
    node = raw["tree"]
    parts = path.split(".")
    for part in parts[1:-1]:
        node = node["children"][part]
    return node[parts[-1]]


def analysis(scheme: Resolved, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             progress: Callable[[int], None] | None = None, top: int = 25) -> "Result":
    """The protocol's influence analysis (see :mod:`perfsim.analyses.result`): the
    :func:`influence` table, its figure and what it says."""
    from .result import Chart, Result, both

    scheme = as_resolved(scheme)
    table = influence(scheme, dataset, year, progress=progress)
    still = table[table["units_moved"] == 0]
    most = table.iloc[0] if len(table) else None
    gap = (table["variance_share"] - table["nominal_weight"]).abs()
    far = table.loc[gap.idxmax()] if len(table) else None
    facts = {"scheme": scheme.name, "indicators": int(len(table)), "move_no_unit": int(len(still)),
             "most_influential": None if most is None else str(most["indicator"]),
             "most_influential_label": None if most is None else str(most["label"]),
             "tau_without_most": None if most is None else float(most["tau_min"]),
             "units_moved_without_most": None if most is None else int(most["units_moved"]),
             "largest_weight_gap": None if far is None else str(far["indicator"]),
             "largest_weight_gap_nominal": None if far is None else float(far["nominal_weight"]),
             "largest_weight_gap_effective": None if far is None else float(far["variance_share"])}
    if most is None:
        zh = en = "方案没有可去掉的指标。"
        en = "The scheme has no indicator to drop."
    else:
        name = f"{most['label']}（{most['indicator']}）" if most["label"] else str(most["indicator"])
        zh = (f"逐一去掉方案「{scheme.name}」的 {len(table)} 个指标（权重重新归一）：影响最大的是{name}，"
              f"去掉后排名在最受影响的类别与原排名的 Kendall τ 为 {most['tau_min']:.3f}，"
              f"{int(most['units_moved'])} 个单位名次改变。{len(still)} 个指标去掉后没有任何单位名次改变。"
              f"名义权重与实际影响相差最大的是 {far['indicator']}：名义 {far['nominal_weight']:.1%}，"
              f"实际占总分方差的 {far['variance_share']:.1%}。")
        en = (f"Dropping each of the {len(table)} indicators of '{scheme.name}' in turn (weights re-normalised): "
              f"the most influential is {most['indicator']}{' (' + str(most['label']) + ')' if most['label'] else ''}; "
              f"without it Kendall's tau to the full ranking is {most['tau_min']:.3f} in the most affected category "
              f"and {int(most['units_moved'])} units change rank. {len(still)} indicator(s) move no unit when dropped. "
              f"Nominal weight and real influence differ most for {far['indicator']}: "
              f"{far['nominal_weight']:.1%} of the points, {far['variance_share']:.1%} of the variance of totals.")
    return Result(
        "influence", both("指标影响力：逐一去掉指标", "Influence: dropping each indicator in turn"),
        tables={"influence": table},
        figures={"influence": Chart("influence", ("influence",),
                                    both("权重与实际影响；最有影响的指标", "Weight and real influence; the most influential"),
                                    {"scheme_name": scheme.name, "top": top})},
        facts=facts, texts=both(zh, en), scenarios={"scheme": scheme},
        shown=(("influence", "逐一去掉指标的影响（按最受影响类别的 τ 排序）",
                "What dropping each indicator does (lowest tau first)"),))
