"""Vectorised Monte Carlo over a compiled model (:mod:`perfsim.uncertainty.model`).

A block of ``D`` draws is evaluated as array operations (:func:`evaluate`). In an
all-arithmetic tree the total is linear in the leaf scores, with effective leaf weights
(products of the re-normalised weights on the path) that depend only on which nodes a
unit has; a :class:`LinearPlan` gives them for every presence pattern with a few gathers
and products over ``D``-long rows, and each pattern's totals are one matrix product.
Trees with a geometric node go node by node: a weighted mean per node, re-normalised per
unit over the children present. Leaf inputs that vary per draw (leader-rater and survey
sampling noise) enter as ``D x n`` arrays. Ranks within category are counted by pairwise
comparison (ties share the best rank). Arrays are unit-major (draws along the contiguous
axis), and large temporaries are scratch arrays reused between chunks. There is no
per-draw Python loop; draws are processed in chunks so memory is bounded by the chunk
size, and chunks can be spread over worker processes or a Dask cluster. Each chunk draws
from its own generator spawned from one seed, so results depend on the seed and the
chunk size only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..core import rules
from ..core.engine import grade_counts
from .model import Model

# --------------------------------------------------------------------------- evaluation

def _static_scores(model: Model, combo: int, weights_keys: set[int], noisy: set[int]) -> tuple[dict, set]:
    """Scores of the nodes that do not vary across draws (n vectors), and which vary."""
    fixed = model.scores[combo]
    geo = model.geometric[combo]
    P = model.present
    static: dict[int, np.ndarray] = {}
    dynamic: set[int] = set(noisy)
    for pos, node in enumerate(model.nodes):
        kids = node.children
        if pos in weights_keys or any(c in dynamic for c in kids):
            dynamic.add(node.index)
            continue
        child = np.stack([static.get(c, fixed[:, c]) for c in kids], axis=1)
        s, _ = rules.aggregate(child, node.weights, P[:, kids], "geometric" if geo[node.index] else "arithmetic")
        static[node.index] = s
    return static, dynamic


def evaluate(model: Model, weights: dict[int, np.ndarray], leaf_noise: dict[int, np.ndarray],
             combo: int = 0, linear: bool | None = None) -> np.ndarray:
    """Totals (D x n) for D draws.

    ``weights[pos]`` is a (D x k) array of (unnormalised) children weights for the node
    at position ``pos`` of ``model.nodes`` (nominal where absent); ``leaf_noise[i]`` a
    (D x n) array added to leaf node i's score (clipped at 0). Nodes whose weights are
    nominal and whose children do not vary are computed once, as vectors. An all-arithmetic
    tree takes the faster linear path (``linear=False`` forces the node-by-node path).
    """
    D = next(iter(weights.values())).shape[0] if weights else \
        next(iter(leaf_noise.values())).shape[0] if leaf_noise else 1
    fixed = model.scores[combo]
    geo = model.geometric[combo]
    if linear is None:
        linear = not any(geo[node.index] for node in model.nodes)
    if linear:
        return _evaluate_linear(model, weights, leaf_noise, combo, D)
    P = model.present
    static, dynamic = _static_scores(model, combo, set(weights), set(leaf_noise))
    varying: dict[int, np.ndarray] = {i: np.maximum(fixed[:, i][None, :] + e, 0.0) for i, e in leaf_noise.items()}

    def score_of(i: int) -> np.ndarray:
        return static[i] if i in static else fixed[:, i]

    for pos, node in enumerate(model.nodes):
        if node.index not in dynamic:
            continue
        w = weights.get(pos)
        w = np.broadcast_to(node.weights, (D, len(node.weights))).copy() if w is None else w
        kids = node.children
        pk = P[:, kids].astype(float)                               # n x k
        has = pk.any(axis=1)
        denom = w @ pk.T + (~has)[None, :]                          # absent units: 0 / 1
        dyn = [j for j, c in enumerate(kids) if c in varying]
        stat = [j for j, c in enumerate(kids) if c not in varying]
        child_static = np.stack([score_of(kids[j]) for j in stat], axis=1) if stat else np.zeros((model.n, 0))
        if geo[node.index]:
            logs = np.log(np.maximum(child_static, 1e-300)) * pk[:, stat]
            num = w[:, stat] @ logs.T
            for j in dyn:
                num += w[:, [j]] * (pk[:, j] * np.log(np.maximum(varying[kids[j]], 1e-300)))
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(denom > 0, np.exp(num / denom), 0.0) * has
        else:
            num = w[:, stat] @ (child_static * pk[:, stat]).T
            for j in dyn:
                num += w[:, [j]] * (pk[:, j] * varying[kids[j]])
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(denom > 0, num / denom, 0.0)
        varying[node.index] = out
    root = varying[0] if 0 in varying else static[0][None, :]
    total = model.root_points * root + (model.bonus - model.deduction)[None, :]
    for i, points in model.extras:
        s = varying[i] if i in varying else score_of(i)[None, :]
        total = total + (points * P[:, i]) * s
    if model.decimals is not None:
        total = np.round(total, model.decimals)
    return total


# Scratch arrays reused between calls (per thread). Fresh multi-megabyte temporaries
# cost page faults on every chunk, which on small virtual machines took longer than
# the arithmetic; reusing them keeps the hot path at the speed of the arithmetic.
_scratch = threading.local()
_LEAF_ROWS = 128          # effective leaf weight rows (patterns x leaves) computed at a time


def release_scratch() -> None:
    """Free this thread's scratch arrays (they are kept between calls for speed)."""
    _scratch.__dict__.clear()


def _buffer(name: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """A scratch array of ``shape`` for this thread; its contents are undefined."""
    size = int(np.prod(shape))
    store = _scratch.__dict__
    buf = store.get(name)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = store[name] = np.empty(max(size, 1), dtype=dtype)
    return buf[:size].reshape(shape)


@dataclass(frozen=True)
class LinearPlan:
    """How an arithmetic tree turns per-node weights into effective leaf weights, for
    every presence pattern at once (built once per model, see :func:`linear_plan`).

    Edge rows: each edge of the tree gets one row per distinct presence mask of its
    parent's children (its normalised weight under that mask), after a few constant
    rows (1, 0, and each extra component's points over the root's). Prefix rows: the
    product of the edge rows from the root down to an internal node, one row per
    distinct path (patterns that agree above a node share it); row 0 is the root's 1,
    and each level is one product of two gathers. A leaf's effective weight in a pattern
    is then its parent's prefix row times its own edge row. Units are taken pattern by
    pattern (``order``, ``bounds``) so that each pattern's totals are one block.
    """

    masks: list[np.ndarray]         # per node position: distinct masks (n_masks x k) as floats
    first_row: list[int]            # per node position: its first edge row
    constants: np.ndarray           # values of the constant edge rows: 1, 0, extras
    rows: int                       # number of edge rows
    levels: list[tuple[int, int, np.ndarray, np.ndarray]]  # prefix rows [a, b): parent prefix, edge
    prefixes: int                   # number of prefix rows
    leaf_prefix: np.ndarray         # (patterns * leaves): prefix row of the leaf's parent
    leaf_edge: np.ndarray           # (patterns * leaves): edge row of the leaf
    order: np.ndarray               # units, pattern by pattern
    bounds: list[tuple[int, int]]   # each pattern's slice of ``order``
    inverse: np.ndarray             # position of each unit in ``order``


def linear_plan(model: Model) -> LinearPlan:
    """The :class:`LinearPlan` of a model (memoised on the model)."""
    if model._plan is not None:
        return model._plan
    tree = model.tree
    position = {node.index: pos for pos, node in enumerate(model.nodes)}
    extra_row = {i: 2 + e for e, (i, _) in enumerate(model.extras)}
    constants = np.array([1.0, 0.0] + [points / model.root_points for _, points in model.extras])
    masks, mask_of, first_row = [], [], []
    row = len(constants)
    for node in model.nodes:
        per_pattern = np.array([present[node.children] for _, present in model.patterns])
        uniq, inverse = np.unique(per_pattern, axis=0, return_inverse=True)
        masks.append(uniq.astype(float))
        mask_of.append(inverse.ravel())
        first_row.append(row)
        row += uniq.size

    def edge(p: int, c: int) -> int:
        if tree.nodes[c].extra:
            return extra_row[c] if model.patterns[p][1][c] else 1
        pos = position[tree.parent[c]]
        j = int(np.flatnonzero(model.nodes[pos].children == c)[0])
        return first_row[pos] + int(mask_of[pos][p]) * len(model.nodes[pos].children) + j

    depth = [path.count(".") for path in tree.paths]
    internal = [node.index for node in model.nodes]          # extra components with children included
    prefix: dict[tuple[int, int], int] = {(p, 0): 0 for p in range(len(model.patterns))}
    levels, count = [], 1
    for d in range(1, max(depth) + 1):
        keys: dict[tuple[int, int], int] = {}
        for p in range(len(model.patterns)):
            for i in internal:
                if depth[i] == d:
                    key = (prefix[(p, tree.parent[i])], edge(p, i))
                    prefix[(p, i)] = keys.setdefault(key, count + len(keys))
        if keys:
            parents, edges = map(np.array, zip(*keys))
            levels.append((count, count + len(keys), parents.astype(np.intp), edges.astype(np.intp)))
            count += len(keys)
    leaf_prefix = np.array([prefix[(p, tree.parent[leaf])] for p in range(len(model.patterns))
                            for leaf in tree.leaves], dtype=np.intp)
    leaf_edge = np.array([edge(p, leaf) for p in range(len(model.patterns)) for leaf in tree.leaves],
                         dtype=np.intp)
    order = np.concatenate([units for units, _ in model.patterns])
    sizes = np.cumsum([0] + [len(units) for units, _ in model.patterns])
    inverse = np.empty(model.n, dtype=np.intp)
    inverse[order] = np.arange(model.n)
    model._plan = LinearPlan(masks, first_row, constants, row, levels, count, leaf_prefix, leaf_edge,
                             order, list(zip(sizes[:-1].tolist(), sizes[1:].tolist())), inverse)
    return model._plan


def _evaluate_linear(model: Model, weights: dict[int, np.ndarray], leaf_noise: dict[int, np.ndarray],
                     combo: int, D: int) -> np.ndarray:
    """Arithmetic trees: the total is linear in the leaf scores, with effective leaf
    weights that depend only on which nodes a unit has (its presence pattern). A few
    array operations give every pattern's effective leaf weights for all draws
    (:class:`LinearPlan`); per pattern the totals are then one matrix product
    (units x L) @ (L x D).

    Works unit-major (draws along the contiguous axis) and returns the D x n transpose
    of a units x D array, so that rows per unit stay contiguous for :func:`ranks`.
    """
    plan = linear_plan(model)
    leaves = list(model.tree.leaves)
    L = len(leaves)
    edges = _buffer("edges", (plan.rows, D))
    edges[:len(plan.constants)] = plan.constants[:, None]
    for pos, node in enumerate(model.nodes):
        w = np.ascontiguousarray(weights[pos].T) if pos in weights else node.weights[:, None]  # k x D | k x 1
        masks = plan.masks[pos]
        norm = masks @ w                                                        # masks x D (or x 1)
        np.divide(1.0, norm, out=norm, where=norm > 0)
        block = edges[plan.first_row[pos]:plan.first_row[pos] + masks.size].reshape(masks.shape + (D,))
        np.multiply(masks[:, :, None], w[None, :, :], out=block)
        block *= norm[:, None, :]
    prefix = _buffer("prefixes", (plan.prefixes, D))
    prefix[0] = 1.0
    for a, b, parents, edge_rows in plan.levels:
        np.multiply(prefix[parents], edges[edge_rows], out=prefix[a:b])
    scores = model.scores[combo][np.ix_(plan.order, leaves)]                   # units (pattern order) x L
    by_pattern = _buffer("totals_by_pattern", (model.n, D))
    per_batch = max(1, _LEAF_ROWS // L)                     # patterns per batch: bounded scratch memory
    for first in range(0, len(plan.bounds), per_batch):
        batch = range(first, min(first + per_batch, len(plan.bounds)))
        rows = slice(first * L, batch.stop * L)
        F = _buffer("leaf_weights", (rows.stop - rows.start, D))               # (patterns x L) x D
        factor = _buffer("leaf_weights_factor", F.shape)
        np.take(edges, plan.leaf_edge[rows], axis=0, out=F, mode="clip")       # 'raise' would buffer
        np.take(prefix, plan.leaf_prefix[rows], axis=0, out=factor, mode="clip")
        F *= factor
        for p in batch:
            a, b = plan.bounds[p]
            Fp = F[(p - first) * L:(p - first + 1) * L]
            np.matmul(scores[a:b], Fp, out=by_pattern[a:b])
            for leaf, noise in leaf_noise.items():
                base = scores[a:b, leaves.index(leaf), None]
                shifted = np.maximum(base + noise[:, plan.order[a:b]].T, 0.0) - base
                by_pattern[a:b] += Fp[leaves.index(leaf)][None, :] * shifted
    total = np.take(by_pattern, plan.inverse, axis=0)
    total *= model.root_points
    total += (model.bonus - model.deduction)[:, None]
    if model.decimals is not None:
        np.round(total, model.decimals, out=total)
    return total.T


def evaluate_draws(model: Model, weights: dict[int, np.ndarray], noise: dict[int, np.ndarray],
                   combo: np.ndarray) -> np.ndarray:
    """Totals (D x n) for draws that also pick a choice combination each: one
    :func:`evaluate` pass per combination present, not per draw."""
    if len(model.combos) == 1:
        return evaluate(model, weights, noise, 0)
    totals = np.empty((model.n, len(combo))).T
    for c in np.unique(combo):
        rows = np.flatnonzero(combo == c)
        totals[rows] = evaluate(model, {k: v[rows] for k, v in weights.items()},
                                {k: v[rows] for k, v in noise.items()}, int(c))
    return totals


#: groups larger than this are ranked by sorting (m log m) instead of pairwise counts (m^2)
_PAIRWISE_MAX = 48


def ranks(totals: np.ndarray, groups: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Competition ranks within groups for every row of ``totals`` (D x n), 1 = best.

    Rank = 1 + the number of units of the same group with a strictly higher total, so
    ties share the best rank (1, 2, 2, 4). Small groups (categories are small) are counted
    by pairwise comparison, which beats sorting there; larger ones are sorted, so the cost
    grows as m log m. Unit-major: the result is the D x n transpose of a units x D array
    (fastest when ``totals`` is one too, as :func:`evaluate` returns).

    ``decimals``: the totals are rounded to that many decimals. Small groups are then
    compared in single precision when that is exact: rounded totals differ by at least
    10**-decimals, and while every |total| x 10**decimals stays below 2**22 single
    precision keeps such totals apart (it never reverses an order nor splits a tie).
    """
    by_unit = totals.T
    out = np.empty(by_unit.shape, dtype=np.int32)
    single = (decimals is not None and by_unit.size > 0
              and float(np.abs(by_unit).max()) * 10.0 ** decimals < 2.0 ** 22)
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        shape = (len(cols), by_unit.shape[1])
        if len(cols) > _PAIRWISE_MAX:
            out[cols] = _sorted_ranks(by_unit[cols])
            continue
        block = _buffer("rank_block", shape)
        np.take(by_unit, cols, axis=0, out=block, mode="clip")                  # m x D
        if single:
            block32 = _buffer("rank_block32", shape, np.float32)
            np.copyto(block32, block, casting="same_kind")
            block = block32
        higher = _buffer("rank_count", shape, np.uint8)         # counts up to m <= 48: one byte
        higher.fill(1)
        above = _buffer("rank_above", shape, np.bool_)
        ones = above.view(np.uint8)                             # True as 1, added without a cast
        for j in range(len(cols)):                                  # m passes over m x D
            np.greater(block[j], block, out=above)
            higher += ones
        out[cols] = higher
    return out.T


def _sorted_ranks(block: np.ndarray) -> np.ndarray:
    """Competition ranks (1 = highest, ties share the best) down each column of an m x D
    block (sorted draw by draw, each draw's m values contiguous)."""
    m, D = block.shape
    rows = np.ascontiguousarray(block.T)                              # D x m
    order = np.argsort(-rows, axis=1, kind="stable")
    ordered = np.take_along_axis(rows, order, axis=1)
    new = np.ones((D, m), dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.maximum.accumulate(np.where(new, np.arange(m, dtype=np.int32)[None, :], 0), axis=1)
    out = np.empty((D, m), dtype=np.int32)
    np.put_along_axis(out, order, first + 1, axis=1)
    return out.T


# --------------------------------------------------------------------------- sampling

def sample_inputs(model: Model, rng: np.random.Generator, draws: int
                  ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], np.ndarray]:
    """Weights per uncertain node, leaf noise per noisy leaf, and a choice combination per draw."""
    weights = {}
    for pos, method, spread, conc in model.weight_groups:
        nominal = model.nodes[pos].weights
        if method == "dirichlet":
            alpha = conc * nominal / nominal.sum()
            weights[pos] = rng.dirichlet(np.maximum(alpha, 1e-9), size=draws) * nominal.sum()
        else:
            weights[pos] = rng.uniform(1 - spread, 1 + spread, size=(draws, len(nominal)))
            weights[pos] *= nominal
    noise = {i: rng.standard_normal((draws, model.n)) * sd[None, :] for i, sd in model.noise.items()}
    combo = rng.integers(0, len(model.combos), size=draws)
    return weights, noise, combo


def run_chunk(model: Model, seed_seq: np.random.SeedSequence, draws: int,
              keep: bool = False) -> dict:
    """Draw, evaluate and summarise one chunk: rank histograms, grade counts, weight sums
    (and, with ``keep``, the draws' totals and normalised weight shares themselves)."""
    rng = np.random.default_rng(seed_seq)
    weights, noise, combo = sample_inputs(model, rng, draws)
    totals = evaluate_draws(model, weights, noise, combo)
    r = ranks(totals, model.groups, model.decimals)
    by_unit = r.T                                                   # units x draws (contiguous)
    n = model.n
    max_rank = int(np.bincount(model.groups).max())
    cells = _buffer("rank_cells", by_unit.shape, np.intp)
    np.add(by_unit, (np.arange(n) * max_rank - 1)[:, None], out=cells)
    hist = np.bincount(cells.ravel(), minlength=n * max_rank).reshape(n, max_rank)
    grade_counts_ = grade_counts(model.scheme, totals, r, hist, model.groups, model.veto)
    names = model.weight_names
    flat = _buffer("weight_shares", (draws, len(names)))
    j = 0
    for pos, *_ in model.weight_groups:
        w = weights[pos]
        np.divide(w, (w @ np.ones(w.shape[1]))[:, None], out=flat[:, j:j + w.shape[1]])
        j += w.shape[1]
    winners = np.flatnonzero(by_unit.min(axis=1) == 1)              # units that ever rank first
    first = _buffer("first", (len(winners), draws))
    np.equal(by_unit[winners], 1, out=first)                        # 1.0 where the unit ranks first
    central = np.zeros((n, len(names)))
    central[winners] = first @ flat                                 # units x weights
    first_count = np.zeros(n, dtype=np.int64)
    first_count[winners] = first.sum(axis=1)
    out = {"hist": hist, "grades": grade_counts_, "central_sum": central,
           "first": first_count, "draws": draws, "weight_names": names}
    if keep:
        out.update(totals=np.ascontiguousarray(totals), shares=flat.copy(), combos=combo.copy())
    return out
