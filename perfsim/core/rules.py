"""Scoring rules and aggregations as pure numpy functions (DESIGN section 4).

Each rule maps actuals ``x`` (and targets ``t``) to ``s``, the fraction of full marks.
All functions broadcast, so the same code scores one unit, a column of units, or a
``(draws, units)`` block in a Monte Carlo run. ``lower`` marks lower-is-better.

:data:`RULES` registers every rule once (its kind, the leaf fields it uses per source, how
it scores a leaf); the scheme's rule names and allowed fields and the engine's dispatch
are derived from it, so a new rule is one :func:`register` call here plus its tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def achievement(x: ArrayLike, t: ArrayLike, lower: ArrayLike = False) -> Array:
    """x / t for higher-is-better, t / x for lower-is-better (inf where x <= 0 then)."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    lower = np.asarray(lower, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = x / t
        down = np.where(x > 0, t / np.where(x > 0, x, 1.0), np.inf)
    return np.where(lower, down, up)


def ratio(x: ArrayLike, t: ArrayLike, lower: ArrayLike = False, cap: float = 1.0) -> Array:
    """s = clip(x/t, 0, cap); lower is better: clip(t/x, 0, cap)."""
    return np.clip(achievement(x, t, lower), 0.0, cap)


def band(x: ArrayLike, t: ArrayLike, lower: ArrayLike = False, floor: float = 0.0) -> Array:
    """s = 1 at or past the target, 0 at or before ``floor`` x target, linear between.

    ``floor`` is a share of the target (0.6: zero marks at 60 % of the target). For
    lower-is-better the achievement t/x is used, so the same floor applies.
    """
    r = achievement(x, t, lower)
    return np.clip((r - floor) / (1.0 - floor), 0.0, 1.0)


def binary(x: ArrayLike, t: ArrayLike, lower: ArrayLike = False) -> Array:
    """s = 1 if the target is met, else 0."""
    return (achievement(x, t, lower) >= 1.0).astype(float)


def goalpost(x: ArrayLike, lo: float, hi: float, lower: ArrayLike = False,
             log: bool = False) -> Array:
    """s = clip((x - lo) / (hi - lo), 0, 1), on log(x) when ``log``; reversed when lower."""
    x = np.asarray(x, dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            x, lo, hi = np.log(x), np.log(lo), np.log(hi)
    s = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.where(np.asarray(lower, dtype=bool), 1.0 - s, s)


def _group_reduce(values: Array, groups: NDArray[np.int64], n_groups: int, ufunc, fill: float) -> Array:
    out = np.full(n_groups, fill)
    ufunc.at(out, groups, values)
    return out


def _group_stats(x: Array, groups: NDArray[np.int64]) -> tuple[Array, Array, Array, Array]:
    """Per unit, over its group's present values: min, max, mean, sample sd (ddof 1)."""
    n = int(groups.max()) + 1 if groups.size else 0
    ok = ~np.isnan(x)
    lo = _group_reduce(x[ok], groups[ok], n, np.minimum, np.inf)[groups]
    hi = _group_reduce(x[ok], groups[ok], n, np.maximum, -np.inf)[groups]
    count = np.bincount(groups[ok], minlength=n).astype(float)
    total = np.bincount(groups[ok], weights=x[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        dev = np.bincount(groups[ok], weights=(x[ok] - mean[groups[ok]]) ** 2, minlength=n)
        sd = np.sqrt(dev / (count - 1))
    return lo, hi, mean[groups], sd[groups]


def minmax(x: ArrayLike, groups: ArrayLike, lower: bool = False, lo: float = 0.0, hi: float = 1.0) -> Array:
    """Min-max within each group over the present (non-NaN) values onto [lo, hi]: best
    ``hi``, worst ``lo`` (COINr's ``n_minmax``; ``lo, hi`` are fractions of full marks).

    A group whose values are all equal scores ``hi``. NaN stays NaN.
    """
    x = np.asarray(x, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    ok = ~np.isnan(x)
    low, high, _, _ = _group_stats(x, groups)
    span = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(span > 0, (x - low) / np.where(span > 0, span, 1.0), 1.0)
    s = 1.0 - np.where(span > 0, s, 0.0) if lower else s
    return np.where(ok, lo + (hi - lo) * s, np.nan)


def varies(values: ArrayLike, axis: int = 0) -> NDArray[np.bool_]:
    """Where the present (non-NaN) values along ``axis`` are not all equal, found exactly
    (max > min). A standard deviation cannot tell: that of six values 91.1 is about 1.6e-14,
    and dividing by it turns equal values into scores of about +-1."""
    v = np.asarray(values, dtype=float)
    ok = ~np.isnan(v)
    return np.max(np.where(ok, v, -np.inf), axis=axis) > np.min(np.where(ok, v, np.inf), axis=axis)


def zscore(x: ArrayLike, groups: ArrayLike, lower: bool = False, mean: float = 0.0, sd: float = 1.0) -> Array:
    """(x - group mean) / group sd (sample sd), times ``sd`` plus ``mean`` (COINr's
    ``n_zscore``); lower is better: of -x. A group without spread (its values all equal,
    found exactly) scores ``mean``."""
    x = np.asarray(x, dtype=float)
    x = -x if lower else x
    groups = np.asarray(groups, dtype=np.int64)
    low, high, m, s = _group_stats(x, groups)
    spread = high > low
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(spread, (x - m) / np.where(spread, s, 1.0), 0.0)
    return np.where(np.isnan(x), np.nan, mean + sd * z)


def percentile(x: ArrayLike, groups: ArrayLike, lower: bool = False) -> Array:
    """Percentile rank within the group, (rank - 1) / (n - 1) with ranks counted from the
    worst and ties at their lowest rank (COINr's ``n_prank``): best 1, worst 0."""
    x = np.asarray(x, dtype=float)
    x = -x if lower else x
    groups = np.asarray(groups, dtype=np.int64)
    ok = ~np.isnan(x)
    ranks = competition_rank(x, groups, descending=False).astype(float)
    counts = np.bincount(groups[ok], minlength=int(groups.max()) + 1 if groups.size else 0)
    n = counts[groups].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(n > 1, (ranks - 1.0) / np.where(n > 1, n - 1.0, 1.0), 1.0)
    return np.where(ok, s, np.nan)


def dist_frontier(x: ArrayLike, groups: ArrayLike, lower: bool = False) -> Array:
    """Distance to the frontier (the group's best value), ``1 - (best - x) / (best -
    worst)`` (COINr's ``n_dist2max``; numerically min-max onto [0, 1])."""
    return minmax(x, groups, lower)


def dist_target(x: ArrayLike, groups: ArrayLike, target: float, lower: bool = False,
                cap_max: bool = False) -> Array:
    """Distance to a target, ``1 - (target - x) / (target - worst)`` with the worst value
    of the group (COINr's ``n_dist2targ``); above 1 past the target unless ``cap_max``.
    Lower is better: of -x and -target."""
    x = np.asarray(x, dtype=float)
    x, target = (-x, -target) if lower else (x, target)
    groups = np.asarray(groups, dtype=np.int64)
    low, _, _, _ = _group_stats(x, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = 1.0 - (target - x) / (target - low)
    if cap_max:
        s = np.minimum(s, 1.0)
    return np.where(np.isnan(x), np.nan, s)


def competition_rank(values: ArrayLike, groups: ArrayLike | None = None,
                     descending: bool = True) -> NDArray[np.int64]:
    """Rank within each group, 1 = best, ties share the best rank (1, 2, 2, 4).

    NaN values rank after all others. Uses one lexsort for all groups at once.
    """
    v = np.asarray(values, dtype=float)
    g = np.zeros(v.shape, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    key = -v if descending else v
    key = np.where(np.isnan(key), np.inf, key)
    order = np.lexsort((key, g))
    sk, sg = key[order], g[order]
    start_group = np.r_[True, sg[1:] != sg[:-1]]
    new_value = np.r_[True, (sk[1:] != sk[:-1]) | start_group[1:]]
    pos = np.arange(v.size)
    group_start = np.maximum.accumulate(np.where(start_group, pos, 0))
    value_start = np.maximum.accumulate(np.where(new_value, pos, 0))
    ranks = np.empty(v.size, dtype=np.int64)
    ranks[order] = value_start - group_start + 1
    return ranks


def rank_score(x: ArrayLike, groups: ArrayLike, lower: bool = False) -> Array:
    """Score by rank within group: best 1, worst 0, linear in rank; NaN stays NaN."""
    x = np.asarray(x, dtype=float)
    groups = np.asarray(groups, dtype=np.int64)
    ok = ~np.isnan(x)
    ranks = competition_rank(x, groups, descending=not lower).astype(float)
    counts = np.bincount(groups[ok], minlength=int(groups.max()) + 1 if groups.size else 0)
    n = counts[groups].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(n > 1, 1.0 - (ranks - 1.0) / np.where(n > 1, n - 1.0, 1.0), 1.0)
    return np.where(ok, s, np.nan)


def rank_share(r: ArrayLike) -> Array:
    """Each column's (rater's) values as rank shares over its non-NaN rows: 1 for the
    highest, 0 for the lowest, linear in the rank between, ties at their average rank; 1
    for a column with one value; NaN where NaN."""
    from scipy.stats import rankdata

    r = np.asarray(r, dtype=float)
    ranks = rankdata(r, axis=0, method="average", nan_policy="omit")     # 1 = lowest
    n = np.sum(~np.isnan(r), axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 1, (ranks - 1.0) / np.where(n > 1, n - 1.0, 1.0), 1.0)
    return np.where(np.isnan(r), np.nan, share)


def tier_ratings(r: ArrayLike, tiers: "list[tuple[float, float]]") -> Array:
    """Forced distribution: in each column (rater) the values ranked from the top (ties at
    their average rank) get the tiers' ratings, tier j for ranks up to floor(cumulative
    share_j x n), so no tier holds more than its share; NaN where NaN."""
    from scipy.stats import rankdata

    r = np.asarray(r, dtype=float)
    top = rankdata(-r, axis=0, method="average", nan_policy="omit")       # 1 = highest
    n = np.sum(~np.isnan(r), axis=0).astype(float)
    shares = np.cumsum([t[0] for t in tiers])
    marks = np.array([t[1] for t in tiers], dtype=float)
    out = np.full(r.shape, marks[-1])
    for cum, mark in zip(shares[::-1][1:], marks[::-1][1:]):             # from the lowest tier up
        out = np.where(top <= np.floor(cum * n + 1e-9)[None, :], mark, out)
    return np.where(np.isnan(r), np.nan, out)


def two_way_unit_effect(r: ArrayLike, iterations: int = 500, tol: float = 1e-10) -> Array:
    """The unit effects (rows) of the additive model r = unit + rater + e, fitted by least
    squares over the non-NaN cells (alternating means; rater effects centred so a unit's
    effect is the rating an average rater would give). NaN for a row without values."""
    r = np.asarray(r, dtype=float)
    rated = ~np.isnan(r)
    filled = np.where(rated, r, 0.0)
    rows, cols = rated.sum(axis=1), rated.sum(axis=0)
    rater = np.zeros(r.shape[1])
    unit = np.full(r.shape[0], np.nan)
    for _ in range(iterations):
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = (filled - rated * rater[None, :]).sum(axis=1) / rows
            new = np.where(cols > 0, (filled - rated * np.nan_to_num(unit)[:, None]).sum(axis=0) / np.maximum(cols, 1),
                           0.0)
        new = new - new[cols > 0].mean() if (cols > 0).any() else new
        if np.max(np.abs(new - rater)) < tol:
            rater = new
            break
        rater = new
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = (filled - rated * rater[None, :]).sum(axis=1) / rows
    return np.where(rows > 0, unit, np.nan)


def rating(x: ArrayLike) -> Array:
    """A 0-100 mean rating as a fraction of full marks."""
    return np.asarray(x, dtype=float) / 100.0


def aggregate(scores: ArrayLike, weights: ArrayLike, present: ArrayLike,
              how: str = "arithmetic") -> tuple[Array, Array]:
    """Weighted mean over the last axis, weights re-normalised over present children.

    Returns (score, share): ``share[..., j]`` is child j's re-normalised weight (0 where
    absent). A unit with no present child gets score 0 and all shares 0.
    """
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    top = w.max(axis=-1, keepdims=True) if w.size else np.ones(w.shape[:-1] + (1,))
    w = np.divide(w, top, out=np.zeros_like(w), where=top > 0)     # 1e308 and 1e308 weigh as 1 and 1
    w = w * np.asarray(present, dtype=bool)
    total = w.sum(axis=-1, keepdims=True)
    share = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    s0 = np.where(share > 0, s, 0.0)
    if how == "arithmetic":
        out = (share * s0).sum(axis=-1)
    elif how == "geometric":         # a zero child gives 0 (callers check zeros first: engine)
        with np.errstate(divide="ignore"):
            logs = np.where(share > 0, np.log(np.where(share > 0, s0, 1.0)), 0.0)
        out = np.exp((share * logs).sum(axis=-1))
        out = np.where(total[..., 0] > 0, out, 0.0)
    else:
        raise ValueError(f"unknown aggregation {how!r}")
    return out, share


# --------------------------------------------------------------------------- the registry

@dataclass(frozen=True)
class RuleSpec:
    """One scoring rule as the scheme and the engine know it.

    ``kind``: ``target`` (an actual against the unit's own target; a missing actual scores 0
    by default), ``scaled`` (against the other units' values, within the category or over
    all units; the engine passes the present values, NaN elsewhere, logged with ``log``, and
    the groups), ``fixed`` (on fixed goalposts) or ``rating`` (a 0-100 rating).
    ``fields``: per source it scores, the leaf fields it uses (a scheme giving another is an
    error). ``score(node, x, t, lower, groups)``: the fraction of full marks."""

    name: str
    kind: str
    fields: Mapping[str, frozenset[str]]
    score: Callable[..., Array]


#: every scoring rule by name, in the order the scheme's errors list them
RULES: dict[str, RuleSpec] = {}
KINDS = ("target", "scaled", "fixed", "rating")


def register(name: str, kind: str, fields: Mapping[str, Iterable[str]], score: Callable[..., Array]) -> RuleSpec:
    """Add a scoring rule (see :class:`RuleSpec`); the scheme's rule names and allowed
    fields, and the engine's scoring, are derived from :data:`RULES`."""
    if name in RULES:
        raise ValueError(f"rule {name!r} is registered already")
    if kind not in KINDS:
        raise ValueError(f"rule {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
    spec = RuleSpec(name, kind, MappingProxyType({s: frozenset(f) for s, f in fields.items()}), score)
    RULES[name] = spec
    return spec


def rules_of(kind: str) -> tuple[str, ...]:
    """The names of the rules of one kind, in registration order."""
    return tuple(name for name, spec in RULES.items() if spec.kind == kind)


def rule_fields() -> dict[tuple[str, str], frozenset[str]]:
    """{(source, rule): the leaf fields the rule uses on that source}."""
    return {(source, name): used for name, spec in RULES.items() for source, used in spec.fields.items()}


_TARGET = ("indicator", "direction", "peer_quantile")
_SCALED = ("indicator", "direction", "within", "log", "divide_by")
_UNITS = ("field", "per", "direction")

register("ratio", "target", {"indicator": {*_TARGET, "cap"}},
         lambda n, x, t, lower, g: ratio(x, t, lower, cap=n.cap if n.cap is not None else 1.0))
register("band", "target", {"indicator": {*_TARGET, "floor"}},
         lambda n, x, t, lower, g: band(x, t, lower, floor=n.floor or 0.0))
register("binary", "target", {"indicator": set(_TARGET)}, lambda n, x, t, lower, g: binary(x, t, lower))
register("goalpost", "fixed", {"indicator": {"indicator", "direction", "lo", "hi", "log", "divide_by"},
                               "units": {*_UNITS, "lo", "hi", "log"}},
         lambda n, x, t, lower, g: goalpost(x, n.lo, n.hi, lower, log=n.log))


def _minmax(n, x, t, lower, g) -> Array:
    lo, hi = n.range if n.range is not None else (0.0, 100.0)
    return minmax(x, g, lower, lo / 100.0, hi / 100.0)


def _zscore(n, x, t, lower, g) -> Array:
    mean, sd = n.rescale if n.rescale is not None else (0.0, 1.0)
    return zscore(x, g, lower, mean / 100.0, sd / 100.0)


def _dist_target(n, x, t, lower, g) -> Array:
    target = float(np.log(n.target)) if n.log else float(n.target)
    return dist_target(x, g, target, lower, n.cap_max)


register("minmax", "scaled", {"indicator": {*_SCALED, "range"}, "units": {*_UNITS, "range", "within"}}, _minmax)
register("rank", "scaled", {"indicator": set(_SCALED), "units": {*_UNITS, "within"}},
         lambda n, x, t, lower, g: rank_score(x, g, lower))
register("zscore", "scaled", {"indicator": {*_SCALED, "rescale"}}, _zscore)
register("percentile", "scaled", {"indicator": set(_SCALED)}, lambda n, x, t, lower, g: percentile(x, g, lower))
register("dist_frontier", "scaled", {"indicator": set(_SCALED)},
         lambda n, x, t, lower, g: dist_frontier(x, g, lower))
register("dist_target", "scaled", {"indicator": {*_SCALED, "target", "cap_max"}}, _dist_target)
register("rating", "rating", {"leader_ratings": {"trim", "adjust", "convert", "floor", "tiers", "within", "panels"},
                              "satisfaction": {"groups"}, "special": {"facet"}},
         lambda n, x, t, lower, g: rating(x))
