"""Step 1: :func:`leaf_inputs` turns one year of the data into arrays ``x``, ``t`` and
``present`` of shape (units, leaves), with the declared missing-data policy (zero, exclude,
impute) and outlier treatment."""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..contract import Dataset
from ..errors import PerfsimError
from ..scheme import TARGET_RULES, Node, Scheme
from .raters import _rating_input
from .tree import ABSENT, EXCLUDED, IMPUTED_SCORE, IMPUTED_VALUE, Inputs, NOT_IMPUTABLE, NOT_MISSING, Tree, ZERO, _applies
from .year import YearView, recut_categories, year_view


def leaf_inputs(scheme: Scheme, dataset: Dataset, year: int) -> Inputs:
    """Arrays x, t, present (units x leaves) for one year; units sorted by unit_id."""
    tree = Tree.of(scheme)
    view = year_view(dataset, year)
    units = view.units
    n, m = len(units), len(tree.leaves)
    x = np.full((n, m), np.nan)
    t = np.full((n, m), np.nan)
    present = np.zeros((n, m), dtype=bool)
    lower = np.zeros(m, dtype=bool)

    applies = _applies_masks(tree, view)
    direction = _directions(dataset)

    for j, i in enumerate(tree.leaves):
        node, source = tree.nodes[i], tree.leaf_source(i)
        if source == "indicator":
            ind = tree.indicator_of(i)
            lower[j] = (node.direction or direction.get(ind, "higher")) == "lower"
            xa, ta = view.column("actual", ind), view.column("target", ind)
            if node.divide_by is not None:          # a denominator (per capita, per GDP, ...)
                den = view.column("actual", node.divide_by)
                with np.errstate(divide="ignore", invalid="ignore"):
                    xa = np.where(den > 0, xa / np.where(den > 0, den, 1.0), np.nan)
            if node.peer_quantile is not None:
                ta = ta * peer_factor(dataset, year, ind, node.peer_quantile, scheme.focal_city,
                                      lower[j])
            x[:, j], t[:, j] = xa, ta
            present[:, j] = ~np.isnan(ta) if node.rule in TARGET_RULES else ~np.isnan(xa)
        elif source == "units":
            lower[j] = node.direction == "lower"
            xa = units[node.field].to_numpy(dtype=float)
            if node.per is not None:
                per = units[node.per].to_numpy(dtype=float)
                xa = np.divide(xa, per, out=np.full(n, np.nan), where=per > 0)
            x[:, j] = xa
            present[:, j] = ~np.isnan(xa)
        else:
            xa = _rating_input(node, view)
            x[:, j] = xa
            present[:, j] = ~np.isnan(xa)
        present[:, j] &= applies[i]
    key = ("categories", repr(scheme.categories))
    if key not in view.memo:
        recut = recut_categories(scheme, units).to_numpy()
        view.memo[key] = (recut, pd.factorize(recut, sort=True)[0].astype(np.int64))
    recut, categories = view.memo[key]
    units = units.assign(category=recut)
    groups = categories if scheme.ranking.within == "category" else np.zeros(n, dtype=np.int64)
    policies = _policies(tree)
    missing = _apply_missing(tree, policies, dataset, year, view, x, t, present, applies, categories)
    for j, i in enumerate(tree.leaves):       # an extra component whose table has no rows this year
        source = tree.leaf_source(i)
        if source not in ("indicator", "units") and view.tables[source].empty and tree.in_extra(i):
            missing[applies[i], j] = ABSENT
    treated = _apply_treat(tree, x, present)
    return Inputs(units=units, x=x, t=t, present=present, lower=lower, categories=categories,
                  groups=groups, year=year, missing=missing, policies=policies, treated=treated)


def _impute_groups(tree: "Tree", i: int, units: pd.DataFrame, categories: np.ndarray) -> np.ndarray:
    """Group codes for category_median/mean: the nearest ``impute_by`` at or above the
    leaf (a units column), else the scheme's categories."""
    k = i
    while k >= 0:
        by = tree.nodes[k].impute_by
        if by is not None:
            if by == "category":
                return categories
            return pd.factorize(units[by].fillna("").to_numpy(), sort=True)[0].astype(np.int64)
        if tree.nodes[k].missing is not None:
            break
        k = tree.parent[k]
    return categories


def _policies(tree: "Tree") -> tuple[str, ...]:
    """Per leaf, the missing-data rule: the nearest ``missing`` at or above the leaf, else
    ``zero`` for the target rules and ``exclude`` for the others ("" for non-indicator leaves)."""
    out = []
    for i in tree.leaves:
        if tree.leaf_source(i) != "indicator":
            out.append("")
            continue
        k, rule = i, None
        while k >= 0 and rule is None:
            node = tree.nodes[k]
            if node.missing is not None:
                rule = node.missing if node.missing != "impute" else f"impute:{node.impute}"
            k = tree.parent[k]
        out.append(rule or ("zero" if tree.nodes[i].rule in TARGET_RULES else "exclude"))
    return tuple(out)


def _apply_missing(tree: "Tree", policies: tuple[str, ...], dataset: Dataset, year: int,
                   view: "YearView", x: np.ndarray, t: np.ndarray, present: np.ndarray,
                   applies: dict, categories: np.ndarray) -> np.ndarray:
    """Find the cells where a unit is assessed on an indicator but has no actual and apply
    each leaf's rule in place (``x`` filled by a value imputation, ``present`` cleared by
    exclusion); return the codes (units x leaves)."""
    codes = np.zeros(x.shape, dtype=np.int8)
    for j, i in enumerate(tree.leaves):
        policy = policies[j]
        if not policy:
            continue
        node = tree.nodes[i]
        if node.rule in TARGET_RULES:
            due = present[:, j]                    # assessed: has a target and the node applies
        else:
            has_target = ~np.isnan(view.column("target", tree.indicator_of(i)))
            due = applies[i] & (has_target if has_target.any() else True)
        miss = due & np.isnan(x[:, j])
        if not miss.any():
            continue
        if policy == "zero":
            present[miss, j] = True
            codes[miss, j] = ZERO
        elif policy == "exclude":
            present[miss, j] = False
            codes[miss, j] = EXCLUDED
        elif policy == "impute:unit_mean":
            siblings = [tree.leaves.index(c) for c in tree.children[tree.parent[i]]
                        if c != i and c in tree.leaves]
            donors = np.zeros(len(x), dtype=bool)
            for k in siblings:
                donors |= present[:, k] & ~np.isnan(x[:, k]) & (codes[:, k] == NOT_MISSING)
            ok = miss & donors
            present[ok, j] = True
            codes[ok, j] = IMPUTED_SCORE
            present[miss & ~donors, j] = False
            codes[miss & ~donors, j] = NOT_IMPUTABLE
        else:
            value = _impute_value(policy.split(":", 1)[1], tree.indicator_of(i), node, dataset, year,
                                  x[:, j], t[:, j], miss, due, _impute_groups(tree, i, view.units, categories))
            ok = miss & ~np.isnan(value)
            x[ok, j] = value[ok]
            present[ok, j] = True
            codes[ok, j] = IMPUTED_VALUE
            present[miss & ~ok, j] = False
            codes[miss & ~ok, j] = NOT_IMPUTABLE
    return codes


def _impute_value(method: str, indicator: str, node: Node, dataset: Dataset, year: int,
                  x: np.ndarray, t: np.ndarray, miss: np.ndarray, due: np.ndarray,
                  categories: np.ndarray) -> np.ndarray:
    """The imputed actual of every unit (NaN where there is none)."""
    n = len(x)
    if method == "previous_year":
        if year - 1 not in dataset.years:
            return np.full(n, np.nan)
        return year_view(dataset, year - 1).column("actual", indicator).copy()
    stat = np.nanmedian if method == "category_median" else np.nanmean
    donors = due & ~miss & ~np.isnan(x)
    target_rule = node.rule in TARGET_RULES
    if target_rule:
        donors &= t > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            level = x / t
    else:
        level = x
    out = np.full(n, np.nan)
    for c in np.unique(categories[miss]):
        pool = level[donors & (categories == c)]
        if len(pool):
            out[categories == c] = stat(pool)
    return out * t if target_rule else out


def _apply_treat(tree: "Tree", x: np.ndarray, present: np.ndarray) -> dict:
    """Treat the values of every leaf with ``treat`` in place (see :mod:`perfsim.core.treat`)."""
    from ..treat import treat

    out = {}
    for j, i in enumerate(tree.leaves):
        spec = tree.nodes[i].treat
        if spec is None:
            continue
        values = np.where(present[:, j], x[:, j], np.nan)
        result = treat(values, spec.method, spec.max_points, spec.skew, spec.kurtosis, spec.log_fallback)
        x[:, j] = np.where(present[:, j], result.values, x[:, j])
        out[j] = result
    return out


def _applies_masks(tree: "Tree", view: "YearView") -> dict[int, np.ndarray]:
    """Which units each node applies to (its own ``applies_to`` and its ancestors'),
    remembered per tree shape on the year's view."""
    key = ("applies", tuple((p, repr(n.applies_to)) for p, n in zip(tree.paths, tree.nodes) if n.applies_to))
    masks = view.memo.get(key)
    if masks is None or len(masks) != len(tree.nodes):
        n = len(view.units)
        masks = {0: np.ones(n, dtype=bool)}
        for i in range(1, len(tree.nodes)):
            node = tree.nodes[i]
            own = masks[tree.parent[i]]
            masks[i] = own & _applies(node, view.units) if node.applies_to is not None else own
        view.memo[key] = masks
    return masks


def _directions(dataset: Dataset) -> dict[str, str]:
    if "directions" not in dataset.cache:
        ind = dataset.indicators
        dataset.cache["directions"] = dict(zip(ind["indicator_id"], ind["direction"]))
    return dataset.cache["directions"]


def peer_factor(dataset: Dataset, year: int, indicator: str, quantile: float, focal_city: str | None,
                lower: bool) -> float:
    """How far the peers' quantile lies from the city's own value at the year's last peer
    period: units' targets are scaled by it (a target derived from the peer distribution;
    for lower-is-better indicators the better side, the 1 - quantile point, is used)."""
    key = ("peer_factor", year, indicator, quantile, focal_city, lower)
    if key not in dataset.cache:
        peers = dataset.peers
        rows = peers[(peers["indicator_id"] == indicator) & peers["period"].str.startswith(f"{year}-")]
        if rows.empty:
            raise PerfsimError(f"no peer values of indicator '{indicator}' for year {year}",
                               where=dataset.where("peers"))
        last = rows[rows["period"] == rows["period"].max()]
        mine = last.loc[last["city"] == focal_city, "value"]
        if mine.empty or float(mine.iloc[0]) == 0:
            raise PerfsimError(f"no (non-zero) value of focal city {focal_city!r} for indicator "
                               f"'{indicator}' in {last['period'].iloc[0]}", where=dataset.where("peers"))
        others = last.loc[last["city"] != focal_city, "value"].to_numpy(dtype=float)
        q = np.quantile(others, 1 - quantile if lower else quantile)
        dataset.cache[key] = float(q / float(mine.iloc[0]))
    return dataset.cache[key]
