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

import numpy as np
import pandas as pd
from scipy.special import ndtri

from .data import Dataset
from .errors import PerfsimError
from .scheme import Resolved, Scheme, UncertaintySpec
from .uncertainty import Model, compile_model, evaluate, evaluate_draws, ranks, run_chunk, sample_inputs


@dataclass
class MonteCarlo:
    model: Model
    rank_stats: pd.DataFrame
    acceptability: pd.DataFrame
    draws: int
    grades: list[str]
    totals: np.ndarray | None = None      # draws x units, with keep_draws
    shares: np.ndarray | None = None      # draws x uncertain weights (normalised), with keep_draws

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


def monte_carlo(scheme: Resolved | Scheme, dataset: Dataset, spec: UncertaintySpec, draws: int,
                seed: int = 0, chunk: int | None = None, executor: Executor | None = None,
                year: int | None = None, model: Model | None = None, keep_draws: bool = False) -> MonteCarlo:
    """Run ``draws`` draws in chunks (each from its own generator spawned from ``seed``);
    ``keep_draws`` keeps every draw's totals and weight shares (memory: draws x units)."""
    model = model or compile_model(scheme, dataset, spec, year)
    grades = _grades_of(model)
    sizes = _chunks(draws, chunk or spec.chunk)
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    if executor is None:
        parts = [run_chunk(model, spec, s, d, keep_draws) for s, d in zip(seqs, sizes)]
    else:
        futures = [executor.submit(run_chunk, model, spec, s, d, keep_draws) for s, d in zip(seqs, sizes)]
        parts = [f.result() for f in futures]
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

    stats = pd.DataFrame({
        "unit_id": model.ids, "category": np.array(model.category_labels)[model.categories],
        "rank_nominal": nominal, "rank_mean": hist @ rank_values / draws,
        "rank_median": quantile(0.5), "rank_q05": quantile(0.05), "rank_q95": quantile(0.95),
    })
    for k, g in enumerate(grades):
        stats[f"p_{g}"] = grade_counts[:, k] / draws
    accept = pd.DataFrame(hist / draws, columns=[f"rank_{r}" for r in rank_values])
    for j in range(accept.shape[1]):
        accept.loc[size < j + 1, f"rank_{j + 1}"] = np.nan
    accept.insert(0, "unit_id", model.ids)
    accept.insert(1, "category", stats["category"].to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        cw = central / first[:, None]
    for j, name in enumerate(names):
        accept[f"central_weight:{name}"] = np.where(first > 0, cw[:, j], np.nan)
    accept["confidence_factor"] = confidence_factors(model, spec, cw, first, seed)
    order = np.lexsort((stats["rank_nominal"], stats["category"]))
    kept = ({"totals": np.vstack([p["totals"] for p in parts]), "shares": np.vstack([p["shares"] for p in parts])}
            if keep_draws else {})
    return MonteCarlo(model, stats.iloc[order].reset_index(drop=True),
                      accept.iloc[order].reset_index(drop=True), draws, grades, **kept)


def _weights_from_shares(model: Model, shares: np.ndarray, draws: int) -> dict[int, np.ndarray]:
    out, j = {}, 0
    for pos, *_ in model.weight_groups:
        k = len(model.nodes[pos].children)
        out[pos] = np.broadcast_to(shares[j:j + k], (draws, k)).copy()
        j += k
    return out


def confidence_factors(model: Model, spec: UncertaintySpec, central: np.ndarray, first: np.ndarray,
                       seed: int, draws: int = 2000) -> np.ndarray:
    """SMAA-2 confidence factor: the probability that a unit ranks first when the weights
    are its central weight vector (the other uncertainties still vary)."""
    out = np.full(model.n, np.nan)
    noisy = bool(model.noise) or len(model.combos) > 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    for u in np.flatnonzero(first > 0):
        d = draws if noisy else 1
        weights = _weights_from_shares(model, central[u], d)
        _, noise, combo = sample_inputs(model, spec, rng, d)
        totals = evaluate_draws(model, weights, noise, combo)
        out[u] = float((ranks(totals, model.groups)[:, u] == 1).mean())
    return out


# --------------------------------------------------------------------------- Sobol

def _problem(model: Model, spec: UncertaintySpec):
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
        for u in range(model.n):
            names.append(f"e:{model.tree.paths[i]}:{model.ids[u]}")
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


def _evaluate_matrix(model: Model, X: np.ndarray, kinds: list) -> np.ndarray:
    weights: dict[int, list] = {}
    noise: dict[int, list] = {}
    combo = np.zeros(len(X), dtype=int)
    for j, (kind, key) in enumerate(kinds):
        if kind == "w":
            weights.setdefault(key, []).append(j)
        elif kind == "e":
            noise.setdefault(key, []).append(j)
        else:
            combo = np.minimum((X[:, j] * len(model.combos)).astype(int), len(model.combos) - 1)
    w = {pos: model.nodes[pos].weights[None, :] * X[:, cols] for pos, cols in weights.items()}
    e = {i: ndtri(np.clip(X[:, cols], 1e-12, 1 - 1e-12)) * model.noise[i][None, :] for i, cols in noise.items()}
    return ranks(evaluate_draws(model, w, e, combo), model.groups)


def sobol_indices(model: Model, spec: UncertaintySpec, n: int = 256, seed: int = 0) -> pd.DataFrame:
    """First (S1) and total (ST) order Sobol indices per input group, for each unit's rank
    and for each category's mean absolute rank change (``unit_id`` = ``category:<name>``)."""
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem, kinds = _problem(model, spec)
    X = sample.sample(problem, n, calc_second_order=False, seed=seed)
    R = _evaluate_matrix(model, X, kinds).astype(float)
    nominal = nominal_ranks(model)
    labels = model.category_labels if model.groups.max() > 0 else ["all"]
    outputs = {u: R[:, j] for j, u in enumerate(model.ids)}
    for g in np.unique(model.groups):
        cols = np.flatnonzero(model.groups == g)
        name = labels[g] if g < len(labels) else str(g)
        outputs[f"category:{name}"] = np.abs(R[:, cols] - nominal[cols]).mean(axis=1)
    rows = []
    group_names = list(dict.fromkeys(problem["groups"]))
    for target, y in outputs.items():
        if np.ptp(y) == 0:   # the rank never moves: no input explains any variance
            for gname in group_names:
                rows.append({"target": target, "group": gname, "S1": 0.0, "S1_conf": 0.0,
                             "ST": 0.0, "ST_conf": 0.0})
            continue
        res = analyze.analyze(problem, y, calc_second_order=False, num_resamples=50,
                              print_to_console=False, seed=seed)
        for k, gname in enumerate(res["names"] if "names" in res else group_names):
            rows.append({"target": target, "group": gname, "S1": float(res["S1"][k]),
                         "S1_conf": float(res["S1_conf"][k]), "ST": float(res["ST"][k]),
                         "ST_conf": float(res["ST_conf"][k])})
    return pd.DataFrame(rows)


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


def _ranks_for(model: Model, pos: int, j: int, shares: np.ndarray) -> np.ndarray:
    return ranks(evaluate(model, {pos: _share_weights(model, pos, j, shares)}, {}), model.groups)


def _refine(model: Model, pos: int, j: int, inside: np.ndarray, outside: np.ndarray, ok,
            rounds: int = 3, points: int = 64) -> np.ndarray:
    """Narrow many [inside, outside] brackets at once: ``ok(ranks, k)`` says whether the
    condition of bracket k holds. Each round evaluates ``points`` shares per bracket in one
    call, so the precision is (width / points) ** rounds."""
    inside, outside = inside.astype(float).copy(), outside.astype(float).copy()
    t = np.linspace(0.0, 1.0, points)
    for _ in range(rounds):
        shares = (inside[:, None] + (outside - inside)[:, None] * t[None, :]).ravel()
        r = _ranks_for(model, pos, j, shares).reshape(len(inside), points, -1)
        for k in range(len(inside)):
            good = ok(r[k], k)                       # points along the bracket
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
    rescaled in proportion). With ``unit`` and ``target_rank``, also per weight the share
    nearest the nominal one at which the unit reaches that rank (None if no share in [0, 1]
    does), the smallest such change flagged."""
    nominal = nominal_ranks(model)
    if unit is not None and unit not in set(model.ids):
        raise PerfsimError(f"unit '{unit}' is not in the dataset")
    u = int(np.flatnonzero(model.ids == unit)[0]) if unit is not None else None
    cats = [np.flatnonzero(model.groups == g) for g in np.unique(model.groups)]
    labels = model.category_labels if model.groups.max() > 0 else ["all"]
    rows, reach_rows = [], []
    points = np.linspace(0.0, 1.0, grid)
    for pos, node in enumerate(model.nodes):
        if len(node.children) < 2:
            continue
        total = node.weights.sum()
        for j, c in enumerate(node.children):
            share0 = node.weights[j] / total
            r = _ranks_for(model, pos, j, points)
            brackets_in, brackets_out, meta = [], [], []
            for g, cols in enumerate(cats):
                same = (r[:, cols] == nominal[cols]).all(axis=1)
                for side in ("lo", "hi"):
                    bad = points[(points < share0) & ~same] if side == "lo" else points[(points > share0) & ~same]
                    if len(bad):
                        brackets_in.append(share0)
                        brackets_out.append(bad.max() if side == "lo" else bad.min())
                        meta.append((g, side))
            edges = {}
            if meta:
                def same_rank(rr, k, _meta=meta):
                    cols = cats[_meta[k][0]]
                    return (rr[:, cols] == nominal[cols]).all(axis=1)
                found = _refine(model, pos, j, np.array(brackets_in), np.array(brackets_out), same_rank)
                edges = {m: v for m, v in zip(meta, found)}
            for g, cols in enumerate(cats):
                rows.append({"weight": model.tree.paths[c], "parent": model.tree.paths[node.index],
                             "category": labels[g], "share_nominal": share0,
                             "share_lo": edges.get((g, "lo"), 0.0), "share_hi": edges.get((g, "hi"), 1.0)})
            if u is not None and target_rank is not None:
                better = target_rank < nominal[u]
                hit = (r[:, u] <= target_rank) if better else (r[:, u] >= target_rank)
                needed = None
                if hit.any():
                    k = int(np.argmin(np.where(hit, np.abs(points - share0), np.inf)))
                    reach = lambda rr, _k: ~((rr[:, u] <= target_rank) if better else (rr[:, u] >= target_rank))  # noqa: E731
                    # walk from the nominal share towards the hit: the first share that reaches
                    needed = float(_refine(model, pos, j, np.array([share0]), np.array([points[k]]), reach)[0])
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
