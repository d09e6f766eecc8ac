"""Robustness analyses on top of the vectorised Monte Carlo (:mod:`perfsim.uncertainty`).

* :func:`monte_carlo`: rank bands (nominal, mean, median, 5-95 %) and grade probabilities
  per unit, and SMAA-2 rank acceptability indices, central weight vectors and confidence
  factors (Lahdelma & Salminen 2001, "SMAA-2: Stochastic multicriteria acceptability
  analysis for group decision making", Operations Research 49(3), 444-454);
* :func:`sobol_indices`: first and total order Sobol indices (SALib) of each input group
  for each unit's rank and for a per-category summary; weights enter as independent
  multipliers per weight (re-normalised in the tree), noise as independent normals;
* :func:`stability_intervals`: for each weight (as a share of its parent, siblings
  rescaled in proportion), the interval over which every category ranking stays as it
  is, and for a named unit the smallest single-weight change that moves it to a target
  rank.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import PerfsimError
from ..core.scheme import UncertaintySpec
from .model import Model
from .montecarlo import evaluate, evaluate_draws, ranks, run_chunk, sample_inputs


@dataclass
class MonteCarlo:
    model: Model
    rank_stats: pd.DataFrame
    acceptability: pd.DataFrame
    draws: int
    grades: list[str]
    totals: np.ndarray | None = None      # draws x units, with keep_draws
    shares: np.ndarray | None = None      # draws x uncertain weights (normalised), with keep_draws
    combos: np.ndarray | None = None      # per draw, the index of its scoring-choice combination (model.combos)

    def draws_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The kept draws as tables: totals (one column per unit) and normalised weight
        shares (one column per uncertain weight), one row per draw."""
        if self.totals is None:
            raise PerfsimError("the draws were not kept: run monte_carlo(..., keep_draws=True)")
        index = pd.RangeIndex(self.draws, name="draw")
        return (pd.DataFrame(self.totals, index=index, columns=list(self.model.ids)),
                pd.DataFrame(self.shares, index=index, columns=self.model.weight_names))


def default_spec() -> UncertaintySpec:
    """Reasonable doubt when a scheme declares none (assumptions): component points +-20 %,
    the weights below them +-30 %, leader-rater and survey sampling noise."""
    return UncertaintySpec(weights=[{"level": 0, "spread": 0.2}, {"level": 1, "spread": 0.3}],
                           leader_noise=True, survey_noise=True)


def _grades_of(model: Model) -> list[str]:
    g = model.scheme.grading
    return list(g.grades) if g is not None else [""]


def nominal_ranks(model: Model) -> np.ndarray:
    return ranks(evaluate(model, {}, {}), model.groups)[0]


def _chunks(draws: int, chunk: int) -> list[int]:
    sizes = [chunk] * (draws // chunk)
    if draws % chunk:
        sizes.append(draws % chunk)
    return sizes


def monte_carlo(model: Model, draws: int, seed: int, chunk: int | None = None,
                executor: Executor | None = None, keep_draws: bool = False,
                progress: Callable[[int], None] | None = None) -> MonteCarlo:
    """Run ``draws`` draws of a compiled model (:func:`perfsim.uncertainty.model.compile_model`)
    in chunks of ``chunk`` (default: the spec's), each from its own generator spawned from
    ``seed``; ``keep_draws`` keeps every draw's totals and weight shares (memory: draws x
    units). Chunks run on ``executor`` when given (worker processes or a Dask cluster)."""
    if draws < 1:
        raise PerfsimError(f"draws must be at least 1 (got {draws})")
    grades = _grades_of(model)
    sizes = _chunks(draws, chunk or model.spec.chunk)
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    parts = []
    if executor is None:
        for s, d in zip(seqs, sizes):
            parts.append(run_chunk(model, s, d, keep_draws))
            if progress is not None:
                progress(d)
    else:
        futures = [executor.submit(run_chunk, model, s, d, keep_draws) for s, d in zip(seqs, sizes)]
        for future, d in zip(futures, sizes):      # in order: sums do not depend on timing
            parts.append(future.result())
            if progress is not None:
                progress(d)
    hist = sum(p["hist"] for p in parts)
    grade_counts = sum(p["grades"] for p in parts)
    central = sum(p["central_sum"] for p in parts)
    first = sum(p["first"] for p in parts)
    names = parts[0]["weight_names"]
    nominal = nominal_ranks(model)
    size = np.bincount(model.groups)[model.groups]
    rank_values = np.arange(1, hist.shape[1] + 1)
    cdf = np.cumsum(hist, axis=1) / draws

    def quantile(q: float) -> np.ndarray:
        return 1 + (cdf < q - 1e-12).sum(axis=1)

    category = np.array(model.category_labels)[model.categories]
    stats = pd.DataFrame({
        "unit_id": model.ids, "category": category,
        "rank_nominal": nominal, "rank_mean": hist @ rank_values / draws,
        "rank_median": quantile(0.5), "rank_q05": quantile(0.05), "rank_q95": quantile(0.95),
        **{f"p_{g}": grade_counts[:, k] / draws for k, g in enumerate(grades)},
    })
    accept_rank = hist / draws
    accept_rank[size[:, None] < rank_values[None, :]] = np.nan      # ranks beyond the category's size
    with np.errstate(invalid="ignore", divide="ignore"):
        cw = central / first[:, None]
    shown_cw = np.where(first[:, None] > 0, cw, np.nan)
    accept = pd.DataFrame({
        "unit_id": model.ids, "category": category,
        **{f"rank_{r}": accept_rank[:, r - 1] for r in rank_values},
        **{f"central_weight:{name}": shown_cw[:, j] for j, name in enumerate(names)},
        "confidence_factor": confidence_factors(model, cw, first, seed),
    })
    order = np.lexsort((stats["rank_nominal"], stats["category"]))
    kept = ({"totals": np.vstack([p["totals"] for p in parts]), "shares": np.vstack([p["shares"] for p in parts]),
             "combos": np.concatenate([p["combos"] for p in parts])} if keep_draws else {})
    return MonteCarlo(model, stats.iloc[order].reset_index(drop=True),
                      accept.iloc[order].reset_index(drop=True), draws, grades, **kept)


def _weights_from_shares(model: Model, shares: np.ndarray, draws: int) -> dict[int, np.ndarray]:
    out, j = {}, 0
    for pos, *_ in model.weight_groups:
        k = len(model.nodes[pos].children)
        out[pos] = np.broadcast_to(shares[j:j + k], (draws, k)).copy()
        j += k
    return out


def confidence_factors(model: Model, central: np.ndarray, first: np.ndarray,
                       seed: int, draws: int = 2000) -> np.ndarray:
    """SMAA-2 confidence factor: the probability that a unit ranks first when the weights
    are its central weight vector (the other uncertainties still vary).

    Computed per category on that category's units only, all of its winners at once on
    common random draws of the other uncertainties, so the cost grows with the category's
    size and its number of winners, not with the whole model.
    """
    out = np.full(model.n, np.nan)
    noisy = bool(model.noise) or len(model.combos) > 1
    d = draws if noisy else 1
    winners = np.flatnonzero(first > 0)
    for g in np.unique(model.groups[winners]):
        members = np.flatnonzero(model.groups == g)
        sub = model.subset(members)
        local = {u: int(np.searchsorted(members, u)) for u in winners[model.groups[winners] == g]}
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7, int(g)]))
        _, noise, combo = sample_inputs(sub, rng, d)
        per_batch = max(1, _CELLS // max(1, d * len(members)))
        units = list(local)
        for start in range(0, len(units), per_batch):
            batch = units[start:start + per_batch]
            weights = {pos: np.concatenate([w[pos] for w in (_weights_from_shares(sub, central[u], d)
                                                             for u in batch)])
                       for pos, *_ in sub.weight_groups}
            totals = evaluate_draws(sub, weights, {i: np.tile(e, (len(batch), 1)) for i, e in noise.items()},
                                    np.tile(combo, len(batch)))
            for k, u in enumerate(batch):      # first: no unit of the category strictly above
                block = totals[k * d:(k + 1) * d]
                out[u] = float((~(block > block[:, [local[u]]]).any(axis=1)).mean())
    return out


#: draws x units held at once in the confidence-factor evaluation
_CELLS = 4_000_000


# --------------------------------------------------------------------------- Sobol

def _problem(model: Model) -> tuple[dict, list]:
    """SALib's problem: one variable per uncertain weight (a multiplier), one per noisy
    leaf and one for the scoring choices, grouped by node, leaf and choices.

    A noisy leaf's noise is a vector (one normal per unit); SALib designs one variable for
    it, and each base sample's value expands to the vector through a generator keyed by
    that value (:func:`_noise_vectors`), so Saltelli's A/B/AB structure holds for the
    whole vector while the design stays small however many units there are.
    """
    names, bounds, groups, kinds = [], [], [], []
    for pos, method, spread, _ in model.weight_groups:
        node = model.nodes[pos]
        s = spread if method == "uniform" else 0.3
        for c in node.children:
            names.append(f"w:{model.tree.paths[c]}")
            bounds.append([1 - s, 1 + s])
            groups.append(f"weights {model.tree.paths[node.index]}")
            kinds.append(("w", pos))
    for i in model.noise:
        names.append(f"e:{model.tree.paths[i]}")
        bounds.append([0.0, 1.0])
        groups.append(f"noise {model.tree.paths[i]}")
        kinds.append(("e", i))
    if len(model.combos) > 1:
        names.append("choice")
        bounds.append([0.0, 1.0])
        groups.append("scoring choices")
        kinds.append(("c", None))
    if len(set(groups)) < 2:
        raise PerfsimError("Sobol indices need at least two uncertain input groups in the spec")
    return {"num_vars": len(names), "names": names, "bounds": bounds, "groups": groups}, kinds


def _noise_vectors(u: np.ndarray, n: int, seed: int, leaf: int) -> np.ndarray:
    """Standard normal vectors (rows x n) for the design values ``u`` of one noise group:
    equal values give equal vectors (so a row that takes the group from A or from B gets
    exactly A's or B's vector), different values independent ones."""
    values, inverse = np.unique(u, return_inverse=True)
    out = np.empty((len(values), n))
    for k, v in enumerate(values):
        key = int(np.float64(v).view(np.uint64))
        out[k] = np.random.default_rng(np.random.SeedSequence([seed, leaf, key])).standard_normal(n)
    return out[inverse.ravel()]


def _evaluate_matrix(model: Model, X: np.ndarray, kinds: list, seed: int) -> np.ndarray:
    weights: dict[int, list] = {}
    combo = np.zeros(len(X), dtype=int)
    noise = {}
    for j, (kind, key) in enumerate(kinds):
        if kind == "w":
            weights.setdefault(key, []).append(j)
        elif kind == "e":
            noise[key] = _noise_vectors(X[:, j], model.n, seed, key) * model.noise[key][None, :]
        else:
            combo = np.minimum((X[:, j] * len(model.combos)).astype(int), len(model.combos) - 1)
    w = {pos: model.nodes[pos].weights[None, :] * X[:, cols] for pos, cols in weights.items()}
    return ranks(evaluate_draws(model, w, noise, combo), model.groups)


def sobol_first_total(Y: np.ndarray, groups: int, num_resamples: int, seed: int,
                      conf_level: float = 0.95) -> dict[str, np.ndarray]:
    """SALib's first- and total-order Sobol estimators (``SALib.analyze.sobol.analyze`` with
    ``calc_second_order=False``: Saltelli et al. 2010, normalised by the sample variance,
    bootstrap confidence intervals) for many outputs at once: ``Y`` is (rows x outputs)
    in SALib's sample order. Each output gives what SALib's ``analyze`` gives for that
    column with the same seed (``tests/uncertainty/test_uncertainty.py`` checks it); doing them together
    keeps the cost linear and small when there is one output per unit.
    Returns arrays (groups x outputs): S1, S1_conf, ST, ST_conf.
    """
    block = max(1, 2_000_000 // max(1, (Y.shape[0] // (groups + 2)) * num_resamples))
    if Y.shape[1] > block:                     # bounded memory: outputs in blocks
        parts = [sobol_first_total(Y[:, a:a + block], groups, num_resamples, seed, conf_level)
                 for a in range(0, Y.shape[1], block)]
        return {k: np.concatenate([q[k] for q in parts], axis=1) for k in parts[0]}
    from scipy.stats import norm

    step = groups + 2
    N = Y.shape[0] // step
    std = Y.std(axis=0)
    Yn = np.divide(Y - Y.mean(axis=0), std, out=np.zeros_like(Y), where=std > 0)
    A, B = Yn[0::step], Yn[step - 1::step]
    r = np.random.default_rng(seed).integers(N, size=(N, num_resamples))
    Z = norm.ppf(0.5 + conf_level / 2)
    eps = np.finfo(float).eps
    out = {k: np.zeros((groups, Y.shape[1])) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    var = np.var(np.r_[A, B], axis=0)
    Ar, Br = A[r], B[r]                                    # N x R x outputs
    var_r = np.var(np.concatenate([Ar, Br], axis=0), axis=0)
    spread_r = np.ptp(np.concatenate([Ar, Br], axis=0), axis=(0, 1))
    constant = np.ptp(np.r_[A, B], axis=0) <= eps
    for j in range(groups):
        AB = Yn[j + 1::step]
        ABr = AB[r]
        s1 = np.divide(np.mean(B * (AB - A), axis=0), var, out=np.zeros_like(var), where=var > eps)
        st = np.divide(0.5 * np.mean((A - AB) ** 2, axis=0), var, out=np.zeros_like(var), where=var > eps)
        s1r = np.divide(np.mean(Br * (ABr - Ar), axis=0), var_r, out=np.zeros_like(var_r), where=var_r > eps)
        str_ = np.divide(0.5 * np.mean((Ar - ABr) ** 2, axis=0), var_r, out=np.zeros_like(var_r),
                         where=var_r > eps)
        out["S1"][j] = np.where(constant, 0.0, s1)
        out["ST"][j] = np.where(constant, 0.0, st)
        out["S1_conf"][j] = np.where(spread_r != 0, Z * s1r.std(axis=0, ddof=1), 0.0)
        out["ST_conf"][j] = np.where(spread_r != 0, Z * str_.std(axis=0, ddof=1), 0.0)
    return out


def sobol_indices(model: Model, n: int = 256, seed: int = 0, num_resamples: int = 50) -> pd.DataFrame:
    """First (S1) and total (ST) order Sobol indices per input group, for each unit's rank
    and for each category's mean absolute rank change (``target`` = ``category:<name>``),
    with bootstrap confidence half-widths (``S1_conf``, ``ST_conf``; 95 %).

    Inputs enter independently (SALib's Sobol' design): weights as multipliers per weight,
    re-normalised in the tree; each noisy leaf's sampling noise as one group; scoring
    choices as one group. An output that never moves gets indices 0. ST can exceed 1 and
    S1 fall below 0 by sampling error of the estimators: read them with their intervals.
    """
    from SALib.sample import sobol as sample

    problem, kinds = _problem(model)
    X = sample.sample(problem, n, calc_second_order=False, seed=seed)
    R = _evaluate_matrix(model, X, kinds, seed).astype(float)
    nominal = nominal_ranks(model)
    labels = model.category_labels if model.groups.max() > 0 else ["all"]
    targets = [str(u) for u in model.ids]
    columns = [R]
    for g in np.unique(model.groups):
        cols = np.flatnonzero(model.groups == g)
        name = labels[g] if g < len(labels) else str(g)
        targets.append(f"category:{name}")
        columns.append(np.abs(R[:, cols] - nominal[cols]).mean(axis=1)[:, None])
    Y = np.hstack(columns)
    group_names = list(dict.fromkeys(problem["groups"]))
    res = sobol_first_total(Y, len(group_names), num_resamples, seed)
    frames = [pd.DataFrame({"target": targets, "group": g, "S1": res["S1"][k], "S1_conf": res["S1_conf"][k],
                            "ST": res["ST"][k], "ST_conf": res["ST_conf"][k]})
              for k, g in enumerate(group_names)]
    out = pd.concat(frames, ignore_index=True)
    order = {t: i for i, t in enumerate(targets)}
    return out.sort_values("target", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- stability

def _share_weights(model: Model, pos: int, j: int, shares: np.ndarray) -> np.ndarray:
    """Children weights of node ``pos`` with child j at the given shares, siblings in proportion."""
    w = model.nodes[pos].weights
    others = np.delete(np.arange(len(w)), j)
    rest = w[others] / w[others].sum()
    out = np.empty((len(shares), len(w)))
    out[:, j] = shares
    out[:, others] = (1 - shares)[:, None] * rest[None, :]
    return out


def _totals_for(model: Model, pos: int, j: int, shares: np.ndarray) -> np.ndarray:
    return evaluate(model, {pos: _share_weights(model, pos, j, shares)}, {})


class _Orders:
    """Checks on totals (D x n) against the nominal ranking without ranking every draw:
    a category's ranking is unchanged exactly when each pair of units next to each other
    in the nominal order keeps its order (or its tie), and a unit's rank is one plus the
    units of its category above it. Both cost O(category size) per draw."""

    def __init__(self, model: Model, nominal: np.ndarray) -> None:
        self.cats = [np.flatnonzero(model.groups == g) for g in np.unique(model.groups)]
        self.order = [cols[np.argsort(nominal[cols], kind="stable")] for cols in self.cats]
        self.tied = [nominal[o[1:]] == nominal[o[:-1]] for o in self.order]

    def same(self, totals: np.ndarray, g: int) -> np.ndarray:
        o = self.order[g]
        if len(o) < 2:
            return np.ones(len(totals), dtype=bool)
        d = totals[:, o[:-1]] - totals[:, o[1:]]
        return np.where(self.tied[g][None, :], d == 0, d > 0).all(axis=1)

    def rank(self, totals: np.ndarray, u: int, g: int) -> np.ndarray:
        return 1 + (totals[:, self.cats[g]] > totals[:, [u]]).sum(axis=1)


def _refine(model: Model, pos: int, j: int, inside: np.ndarray, outside: np.ndarray, ok,
            rounds: int = 3, points: int = 64) -> np.ndarray:
    """Narrow many [inside, outside] brackets at once: ``ok(totals, k)`` says, per row of
    totals, whether the condition of bracket k holds. Each round evaluates ``points``
    shares per bracket in one call, so the precision is (width / points) ** rounds."""
    inside, outside = inside.astype(float).copy(), outside.astype(float).copy()
    t = np.linspace(0.0, 1.0, points)
    for _ in range(rounds):
        shares = (inside[:, None] + (outside - inside)[:, None] * t[None, :]).ravel()
        totals = _totals_for(model, pos, j, shares).reshape(len(inside), points, -1)
        for k in range(len(inside)):
            good = ok(totals[k], k)                  # points along the bracket
            bad = np.flatnonzero(~good)
            first_bad = bad[0] if len(bad) else points - 1
            if first_bad == 0:      # cannot happen for a good inside point; keep the bracket
                continue
            inside[k], outside[k] = (inside[k] + (outside[k] - inside[k]) * t[first_bad - 1],
                                     inside[k] + (outside[k] - inside[k]) * t[first_bad])
    return inside


def stability_intervals(model: Model, unit: str | None = None, target_rank: int | None = None,
                        grid: int = 201) -> pd.DataFrame:
    """Per weight and category: the nominal share of the weight within its parent and the
    share interval [lo, hi] over which that category's ranking stays unchanged (siblings
    rescaled in proportion); ``applies`` is False where no unit of the category has the
    weight's part (its interval is then [0, 1] trivially, not a sign of stability). With ``unit`` and ``target_rank``, also per weight the share
    nearest the nominal one at which the unit reaches that rank (None if no share in [0, 1]
    does), the smallest such change flagged."""
    nominal = nominal_ranks(model)
    if unit is not None and unit not in set(model.ids):
        raise PerfsimError(f"unit '{unit}' is not in the dataset")
    u = int(np.flatnonzero(model.ids == unit)[0]) if unit is not None else None
    orders = _Orders(model, nominal)
    g_of_u = int(np.flatnonzero([u in cols for cols in orders.cats])[0]) if u is not None else None
    labels = model.category_labels if model.groups.max() > 0 else ["all"]
    rows, reach_rows = [], []
    points = np.linspace(0.0, 1.0, grid)
    for pos, node in enumerate(model.nodes):
        if len(node.children) < 2:
            continue
        total = node.weights.sum()
        for j, c in enumerate(node.children):
            share0 = node.weights[j] / total
            totals = _totals_for(model, pos, j, points)
            brackets_in, brackets_out, meta = [], [], []
            for g in range(len(orders.cats)):
                same = orders.same(totals, g)
                for side in ("lo", "hi"):
                    bad = points[(points < share0) & ~same] if side == "lo" else points[(points > share0) & ~same]
                    if len(bad):
                        brackets_in.append(share0)
                        brackets_out.append(bad.max() if side == "lo" else bad.min())
                        meta.append((g, side))
            edges = {}
            if meta:
                found = _refine(model, pos, j, np.array(brackets_in), np.array(brackets_out),
                                lambda tt, k, _meta=meta: orders.same(tt, _meta[k][0]))
                edges = {m: v for m, v in zip(meta, found)}
            for g, cols in enumerate(orders.cats):
                rows.append({"weight": model.tree.paths[c], "parent": model.tree.paths[node.index],
                             "category": labels[g], "share_nominal": share0,
                             "share_lo": edges.get((g, "lo"), 0.0), "share_hi": edges.get((g, "hi"), 1.0),
                             # False: no unit of the category has this part, so its share cannot matter
                             "applies": bool(model.present[cols, c].any())})
            if u is not None and target_rank is not None:
                better = target_rank < nominal[u]

                def reached(tt, _k=None):
                    r = orders.rank(tt, u, g_of_u)
                    return (r <= target_rank) if better else (r >= target_rank)

                hit = reached(totals)
                needed = None
                if hit.any():
                    k = int(np.argmin(np.where(hit, np.abs(points - share0), np.inf)))
                    # walk from the nominal share towards the hit: the first share that reaches
                    needed = float(_refine(model, pos, j, np.array([share0]), np.array([points[k]]),
                                           lambda tt, _k: ~reached(tt))[0])
                reach_rows.append({"weight": model.tree.paths[c], "unit": unit, "target_rank": target_rank,
                                   "rank_nominal": int(nominal[u]), "share_nominal": share0,
                                   "share_needed": needed,
                                   "change": None if needed is None else needed - share0})
    out = pd.DataFrame(rows)
    if reach_rows:
        reach = pd.DataFrame(reach_rows)
        reach["smallest_change"] = False
        if reach["change"].notna().any():
            reach.loc[reach["change"].abs().idxmin(), "smallest_change"] = True
        out = out.merge(reach, on=["weight", "share_nominal"], how="left")
    return out
