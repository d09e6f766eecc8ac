"""Derived weights, written as scenarios: the children's weights of one node from the data
(objective methods), from experts' pairwise comparisons (AHP) or by optimisation.

* Objective methods (pymcdm): ``equal``, ``entropy``, ``critic``, ``std``, ``merec``, on the
  children's scores (fractions of full marks) over the units the node applies to that
  have every child; ``pca``: the loadings of the first principal component of the
  standardised scores (COINr's PCA weights; oriented so that they sum positive, negative
  loadings set to 0 with a warning).
* ``ahp``: each expert's pairwise comparison matrix (Saaty's 1-9 scale, reciprocal) is
  checked by pymcdm; several experts are aggregated element by element with the geometric
  mean (the aggregation of individual judgements); the weights are the principal
  eigenvector and the consistency ratio uses pymcdm's random indices (Tummala and Ling,
  1998). A ratio above 0.1 is an error unless allowed.
* ``optimise``: weights such that each child's Pearson correlation with the node's score,
  as a share of the sum of those correlations, matches target shares (COINr's optimised
  weights; equal shares by default), found with scipy.optimize.

:func:`weights_diff` turns weights into a scenario diff over the scheme (``weight`` or,
where the children carry points, ``points`` adding up to the node's); every analysis
takes it like any scenario. :func:`compare_weightings` derives the weights of one node by
several methods and what each does to the ranking (the ``weightings`` notebook).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import rules
from ..core.contract import Dataset
from ..core.engine import Tree, check_fit, score_arrays, score_detail
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, Scheme, apply_diff, parse_scheme, raw_of
from ..core.scheme import plain

OBJECTIVE = ("equal", "entropy", "critic", "std", "merec", "pca")
METHODS = (*OBJECTIVE, "ahp", "optimise")
#: consistency ratio above which an AHP matrix is refused (Saaty)
CR_LIMIT = 0.1


@dataclass(frozen=True)
class Derived:
    """Weights of a node's children and how they were found."""

    node: str
    children: list[str]
    weights: np.ndarray                   # sum 1
    method: str
    units: int = 0                        # rows of the decision matrix
    consistency: dict = field(default_factory=dict)   # AHP: per expert and aggregated CR
    note: str = ""

    def table(self, scheme: Scheme) -> pd.DataFrame:
        tree = Tree.of(scheme)
        index = {p: i for i, p in enumerate(tree.paths)}
        kids = [tree.nodes[index[f"{self.node}.{c}"]] for c in self.children]
        before = np.array([k.points if k.points is not None else k.weight for k in kids], dtype=float)
        return pd.DataFrame({"child": self.children, "label": [k.label or "" for k in kids],
                             "weight_before": before / before.sum(), "weight": self.weights})


# --------------------------------------------------------------------------- data

def _node(scheme: Scheme, path: str, where: str) -> tuple[Tree, int, list[int]]:
    tree = Tree.of(scheme)
    if path not in tree.paths:
        inner = [p for p, n in zip(tree.paths, tree.nodes) if not n.is_leaf]
        raise PerfsimError(f"--node {path!r} is not a node of the scheme (nodes with children: "
                           f"{', '.join(inner[:12])}{' ...' if len(inner) > 12 else ''})", where=where)
    i = tree.paths.index(path)
    kids = [c for c in tree.children[i] if not tree.nodes[c].extra]
    if len(kids) < 2:
        raise PerfsimError(f"--node {path!r} has {len(kids)} child(ren) to weigh: at least two are needed",
                           where=where)
    return tree, i, kids


def decision_matrix(scheme: Scheme | Resolved, dataset: Dataset, node: str, year: int | None = None
                    ) -> tuple[pd.DataFrame, int]:
    """The children's scores (units x children) over the units the node applies to and
    that have every child; and how many units were left out for a missing child."""
    scheme_obj = plain(scheme)
    where = str(scheme.path) if isinstance(scheme, Resolved) else f"scheme '{scheme_obj.name}'"
    tree, i, kids = _node(scheme_obj, node, where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        detail = score_detail(scheme, dataset, year)
    paths = [tree.paths[c] for c in kids]
    held = detail.node_held[paths]
    on = detail.node_held[node] > 0
    complete = on & (held > 0).all(axis=1)
    matrix = detail.node_scores.loc[complete, paths]
    matrix.columns = [p.rsplit(".", 1)[1] for p in paths]
    return matrix, int(on.sum() - complete.sum())


def objective_weights(matrix: np.ndarray, method: str) -> np.ndarray:
    """Weights of the columns of ``matrix`` (alternatives in rows, all benefit criteria)."""
    from pymcdm import weights as pw

    m = np.asarray(matrix, dtype=float)
    if m.shape[0] < 3:
        raise PerfsimError(f"{method} weights need at least 3 units with every child scored, not {m.shape[0]}")
    if method == "pca":
        return pca_weights(m)
    if method == "merec" and (m <= 0).any():
        bad = int((m <= 0).sum())
        raise PerfsimError(f"MEREC weights need positive scores, but {bad} score(s) are 0 or less; "
                           "use another method or a normalisation without zeros (minmax range: [1, 100])")
    if method == "entropy" and (m <= 0).any():
        return entropy_weights(m)
    if method in ("entropy", "critic", "std") and np.any(np.ptp(m, axis=0) == 0):
        flat = int(np.sum(np.ptp(m, axis=0) == 0))
        warnings.warn(f"{flat} child(ren) score the same for every unit: {method} gives them no weight",
                      PerfsimWarning, stacklevel=2)
    fn = {"equal": pw.equal_weights, "entropy": pw.entropy_weights, "critic": pw.critic_weights,
          "std": pw.standard_deviation_weights, "merec": pw.merec_weights}[method]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.asarray(fn(m, np.ones(m.shape[1])), dtype=float)
    if not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise PerfsimError(f"{method} weights are not defined for these scores (constant or degenerate columns)")
    return w / w.sum()


def entropy_weights(matrix: np.ndarray) -> np.ndarray:
    """Shannon-entropy weights with the textbook convention 0 ln 0 = 0, for scores with
    zeros (pymcdm's, used for positive scores, refuses them; every min-max-scored child
    has a 0): p_ij = x_ij / sum_i x_ij, E_j = -sum_i p_ij ln p_ij / ln n, w_j ∝ 1 - E_j.
    A column of zeros carries no information (weight 0, with a warning)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2:
        raise PerfsimError("entropy weights need the scores of at least 2 units (the entropy of one unit "
                           "is not defined)")
    if not np.isfinite(m).all():
        raise PerfsimError(f"entropy weights need a score for every unit and child, but {int((~np.isfinite(m)).sum())} "
                           "are missing or not finite")
    if (m < 0).any():
        raise PerfsimError(f"entropy weights need scores of 0 or more, but {int((m < 0).sum())} score(s) are negative "
                           "(a z-score normalisation): use another method or a min-max normalisation")
    n = m.shape[0]
    total = m.sum(axis=0)
    empty = total == 0
    if empty.any():
        warnings.warn(f"{int(empty.sum())} child(ren) score 0 for every unit: entropy gives them no weight",
                      PerfsimWarning, stacklevel=3)
    p = np.divide(m, total, out=np.zeros_like(m), where=~empty)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    e = np.where(empty, 1.0, -plogp.sum(axis=0) / np.log(n))
    d = np.clip(1.0 - e, 0.0, None)
    if d.sum() <= 1e-12:
        raise PerfsimError("entropy weights are not defined for these scores (every child spreads evenly)")
    return d / d.sum()


def pca_weights(matrix: np.ndarray) -> np.ndarray:
    """COINr's PCA weights: loadings of the first principal component of the centred and
    scaled data (numpy SVD), signed to sum positive; negative loadings become 0."""
    m = np.asarray(matrix, dtype=float)
    sd = m.std(axis=0, ddof=1)
    if not rules.varies(m, axis=0).all():              # exact: a constant's sd may round to 1e-16
        raise PerfsimError("PCA weights need every child to vary over the units")
    z = (m - m.mean(axis=0)) / sd
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    loadings = vt[0]
    if loadings.sum() < 0:
        loadings = -loadings
    if (loadings < 0).any():
        warnings.warn(f"{int((loadings < 0).sum())} negative PCA loading(s) set to weight 0", PerfsimWarning,
                      stacklevel=2)
        loadings = np.maximum(loadings, 0.0)
    return loadings / loadings.sum()


# --------------------------------------------------------------------------- AHP

_FRACTION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def read_pairwise(path: str | Path, children: list[str]) -> np.ndarray:
    """One expert's pairwise comparison matrix: a CSV file whose header row and first column
    name the children (any order); cells are numbers or fractions such as ``1/3``. Errors
    name the file, row and column."""
    from ..sources.readers import read_text_table

    path = Path(path)
    frame = read_text_table(path)
    if frame.shape[1] < 2:
        raise PerfsimError("a pairwise matrix has the children as its header and first column", where=path)
    rows = [str(v).strip() for v in frame.iloc[:, 0]]
    cols = [str(c).strip() for c in frame.columns[1:]]
    for what, names in (("column", cols), ("row", rows)):
        missing = [c for c in children if c not in names]
        extra = [c for c in names if c not in children]
        if missing or extra or len(names) != len(set(names)):
            raise PerfsimError(f"the {what}s must name each child once: {', '.join(children)} "
                               f"(missing: {', '.join(missing) or 'none'}; not children: {', '.join(extra) or 'none'})",
                               where=path)
    n = len(children)
    m = np.empty((n, n))
    for r, row_name in enumerate(rows):
        for c, col_name in enumerate(cols):
            text = str(frame.iloc[r, c + 1]).strip()
            match = _FRACTION.match(text)
            try:
                value = float(match.group(1)) / float(match.group(2)) if match else float(text)
            except (ValueError, ZeroDivisionError):
                raise PerfsimError(f"{text!r} is not a number or a fraction such as 1/3",
                                   where=f"{path}, row {int(frame.index[r]) + 2}, column '{col_name}'") from None
            if not math.isfinite(value) or value <= 0:
                raise PerfsimError(f"{text!r}: comparisons are positive",
                                   where=f"{path}, row {int(frame.index[r]) + 2}, column '{col_name}'")
            m[children.index(row_name), children.index(col_name)] = value
    for a in range(n):
        if not math.isclose(m[a, a], 1.0):
            raise PerfsimError(f"the diagonal must be 1 ({children[a]} against itself is {m[a, a]:g})", where=path)
        for b in range(a + 1, n):
            if not math.isclose(m[a, b] * m[b, a], 1.0, rel_tol=1e-3):
                raise PerfsimError(f"{children[a]}/{children[b]} is {m[a, b]:g} but {children[b]}/{children[a]} is "
                                   f"{m[b, a]:g}: they must be reciprocal (e.g. 3 and 1/3)", where=path)
    return m


def ahp_weights(matrices: list[np.ndarray], allow_inconsistent: bool = False,
                names: list[str] | None = None) -> tuple[np.ndarray, dict]:
    """AHP weights of one or more experts' matrices and the consistency ratios (pymcdm)."""
    from pymcdm.weights.subjective import AHP

    names = names or [f"expert {k + 1}" for k in range(len(matrices))]
    ratios = {}
    for name, m in zip(names, matrices):
        try:
            ahp = AHP(matrix=m)
        except ValueError as exc:
            raise PerfsimError(f"not a matrix on Saaty's scale (1-9 and 1/2-1/9, reciprocal): {exc}", where=name) from None
        ratios[name] = float(ahp.get_cr())
    combined = np.exp(np.mean([np.log(m) for m in matrices], axis=0))   # geometric mean of judgements
    ahp = AHP(ranking=list(range(1, len(combined) + 1)))               # then the combined matrix
    ahp.matrix = combined
    weights = np.asarray(ahp(), dtype=float)
    ratios["combined"] = float(ahp.get_cr())
    if ratios["combined"] > CR_LIMIT and not allow_inconsistent:
        raise PerfsimError(f"the comparisons are inconsistent: consistency ratio {ratios['combined']:.3f} > {CR_LIMIT} "
                           f"({', '.join(f'{k} {v:.3f}' for k, v in ratios.items())}); revise them or give "
                           "--allow-inconsistent")
    return weights / weights.sum(), ratios


# --------------------------------------------------------------------------- optimise

def correlation_shares(matrix: np.ndarray, weights: np.ndarray, geometric: bool = False) -> np.ndarray:
    """Each column's Pearson correlation with the weighted mean, as a share of their sum."""
    m = np.asarray(matrix, dtype=float)
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    agg = np.exp(np.log(np.maximum(m, 1e-12)) @ w) if geometric else m @ w
    corr = np.array([np.corrcoef(m[:, j], agg)[0, 1] for j in range(m.shape[1])])
    return corr / corr.sum()


def optimise_weights(matrix: np.ndarray, targets: np.ndarray | None = None, geometric: bool = False,
                     seed: int = 0) -> tuple[np.ndarray, float]:
    """Weights whose correlation shares match ``targets`` (equal by default), and the
    remaining sum of squared differences (scipy.optimize, weights parametrised by softmax)."""
    from scipy.optimize import minimize

    m = np.asarray(matrix, dtype=float)
    k = m.shape[1]
    t = np.full(k, 1.0 / k) if targets is None else np.asarray(targets, dtype=float) / np.sum(targets)
    if np.any(np.ptp(m, axis=0) == 0):
        raise PerfsimError("optimised weights need every child to vary over the units")

    def weights_of(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max())
        return e / e.sum()

    def loss(z: np.ndarray) -> float:
        return float(np.sum((correlation_shares(m, weights_of(z), geometric) - t) ** 2))

    start = np.zeros(k)
    best = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12,
                                                               "maxiter": 4000 * k, "adaptive": True})
    return weights_of(best.x), float(best.fun)


# --------------------------------------------------------------------------- scenario

def derive(scheme: Resolved, dataset: Dataset, node: str, method: str, year: int | None = None,
           pairwise: list[str | Path] = (), targets: dict[str, float] | None = None,
           allow_inconsistent: bool = False) -> Derived:
    """The children's weights of ``node`` by ``method`` (see the module docstring)."""
    if method not in METHODS:
        raise PerfsimError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    tree, i, kids = _node(scheme.scheme, node, str(scheme.path))
    children = [tree.paths[c].rsplit(".", 1)[1] for c in kids]
    if method == "ahp":
        if not pairwise:
            raise PerfsimError("--method ahp needs --pairwise FILE (one CSV matrix per expert)")
        matrices = [read_pairwise(p, children) for p in pairwise]
        w, ratios = ahp_weights(matrices, allow_inconsistent, [str(p) for p in pairwise])
        return Derived(node, children, w, method, consistency=ratios,
                       note=f"AHP over {len(matrices)} expert(s), combined consistency ratio {ratios['combined']:.3f}")
    matrix, dropped = decision_matrix(scheme, dataset, node, year)
    if dropped:
        warnings.warn(f"{dropped} unit(s) lack a score on some child of {node} and are left out of the "
                      f"{method} weights", PerfsimWarning, stacklevel=2)
    if method == "optimise":
        t = None
        if targets is not None:
            unknown = sorted(set(targets) - set(children))
            if unknown:
                raise PerfsimError(f"target shares name {', '.join(unknown)}, not children of {node} "
                                   f"({', '.join(children)})")
            t = np.array([float(targets.get(c, 0.0)) for c in children])
            if (t < 0).any() or t.sum() <= 0:
                raise PerfsimError("target shares must be non-negative and not all 0")
        geometric = tree.nodes[i].aggregate == "geometric"
        w, residual = optimise_weights(matrix.to_numpy(), t, geometric)
        return Derived(node, children, w, method, units=len(matrix),
                       note=f"correlation shares matched to {'equal' if t is None else 'given'} targets "
                            f"(sum of squared differences {residual:.2e})")
    return Derived(node, children, objective_weights(matrix.to_numpy(), method), method, units=len(matrix),
                   note=f"{method} weights over {len(matrix)} units' scores of the children")


def weights_diff(scheme: Resolved, derived: Derived, digits: int = 6) -> dict:
    """``set:`` entries giving ``derived``'s weights to the node's children: relative
    ``weight`` values, or ``points`` adding up to the node's points where the children
    carry points (the last child takes the rounding remainder)."""
    tree = Tree.of(scheme.scheme)
    kids = [tree.nodes[tree.paths.index(f"{derived.node}.{c}")] for c in derived.children]
    out = {}
    if all(k.points is not None for k in kids):
        total = sum(float(k.points) for k in kids)
        values = [round(float(w) * total, digits) for w in derived.weights]
        values[-1] = round(total - sum(values[:-1]), digits)
        for c, v in zip(derived.children, values):
            out[f"{derived.node}.{c}.points"] = v
    else:
        for c, w in zip(derived.children, derived.weights):
            out[f"{derived.node}.{c}.weight"] = round(float(w), digits)
    return out


def scenario_text(scheme: Resolved, derived: Derived, out: Path, name: str | None = None) -> str:
    """The scenario file: a diff over ``scheme`` with the weights, its method in a comment."""
    import os

    import yaml

    base = os.path.relpath(Path(scheme.path).resolve(), Path(out).resolve().parent)
    name = name or f"{scheme.name}_{derived.method}_{derived.node.rsplit('.', 1)[-1]}"
    body = {"name": name,
            "description": f"{derived.method} weights for the children of {derived.node} ({derived.note})",
            "base": Path(base).as_posix(), "set": weights_diff(scheme, derived)}
    head = (f"# Weights of {derived.node}'s children by {derived.method}, written by perfsim weights.\n"
            f"# {derived.note}\n")
    if derived.consistency:
        head += "# consistency ratios: " + ", ".join(f"{k}: {v:.3f}" for k, v in derived.consistency.items()) + "\n"
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def apply_weights(scheme: Resolved, derived: Derived) -> Scheme:
    """``scheme`` with ``derived``'s weights, through the same diff a scenario file holds."""
    raw = apply_diff(raw_of(scheme), weights_diff(scheme, derived), [], str(scheme.path))
    return parse_scheme(raw, str(scheme.path))


def compare_weightings(scheme: Resolved, dataset: Dataset, node: str, methods: list[str],
                       year: int | None = None, pairwise: list[str | Path] = (),
                       progress=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The children's weights of ``node`` by each method, and what each does to the ranking.

    Returns (weights: method, child, label, weight_before, weight; effects: method,
    category, units, tau to the scheme's ranking, units_moved, max_move, grade_changes,
    note). A method that cannot be applied (AHP without pairwise files, PCA on a degenerate
    matrix) gets one effects row with the reason in ``note`` and a warning."""
    from .influence import category_taus

    year = check_fit(scheme, dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        full = score_arrays(scheme.scheme, dataset, year)
    groups = full.inputs.groups
    categories = full.inputs.units["category"].to_numpy()
    names = [str(categories[groups == g][0]) if len(set(categories[groups == g])) == 1 else "all"
             for g in np.unique(groups)]
    weights, effects = [], []
    if any(m != "ahp" for m in methods):
        _, dropped = decision_matrix(scheme, dataset, node, year)
        if dropped:
            warnings.warn(f"{dropped} unit(s) lack a score on some child of {node} and are left out of the "
                          f"data-driven weights", PerfsimWarning, stacklevel=2)
    for method in methods:
        try:
            if method == "ahp" and not pairwise:
                raise PerfsimError("no pairwise comparison files were given")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*lack a score.*", category=PerfsimWarning)
                derived = derive(scheme, dataset, node, method, year, list(pairwise))
            variant = apply_weights(scheme, derived)
        except PerfsimError as exc:
            warnings.warn(f"{method} weights for {node} skipped: {exc}", PerfsimWarning, stacklevel=2)
            effects.append({"method": method, "category": "", "units": 0, "tau": np.nan, "units_moved": 0,
                            "max_move": np.nan, "grade_changes": 0, "note": str(exc)})
            continue
        table = derived.table(scheme.scheme).assign(method=method)
        weights.append(table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            other = score_arrays(variant, dataset, year)
        taus = category_taus(full.rank, other.rank, groups)
        for k, g in enumerate(np.unique(groups)):
            on = groups == g
            move = np.abs(other.rank[on] - full.rank[on])
            effects.append({"method": method, "category": names[k], "units": int(on.sum()), "tau": taus[k],
                            "units_moved": int((move > 0).sum()), "max_move": float(move.max()),
                            "grade_changes": int((other.grade[on] != full.grade[on]).sum()),
                            "note": derived.note})
        if progress:
            progress(1)
    columns = ["method", "child", "label", "weight_before", "weight"]
    weights_table = pd.concat(weights, ignore_index=True)[columns] if weights else pd.DataFrame(columns=columns)
    return weights_table, pd.DataFrame(effects)


def weightings_text(node: str, effects: pd.DataFrame, influence: pd.DataFrame | None = None,
                    reduction=None, reduced_taus: np.ndarray | None = None, lang: str = "en") -> str:
    """The conclusion of the weightings notebook in ``lang`` (zh or en), every number from its
    arguments: which weighting moves the ranking most and least, how far nominal weights are
    from real influence, and what the reduced indicator set keeps and costs."""
    zh = lang == "zh"
    parts = []
    done = effects.dropna(subset=["tau"])
    if len(done):
        per = done.groupby("method").agg(tau_min=("tau", "min"), moved=("units_moved", "sum"),
                                         grades=("grade_changes", "sum")).sort_values("tau_min")
        most, least = per.iloc[0], per.iloc[-1]
        parts.append(f"用 {len(per)} 种方法重新确定 {node} 下各项的权重：{per.index[0]} 对排名改变最大（类别内最低 "
                     f"Kendall τ {most.tau_min:.2f}，{int(most.moved)} 个单位名次改变，{int(most.grades)} 个等次改变），"
                     f"{per.index[-1]} 最小（最低 τ {least.tau_min:.2f}，{int(least.moved)} 个单位，{int(least.grades)} 个等次）。"
                     if zh else
                     f"Re-weighting the children of {node} by {len(per)} method(s): {per.index[0]} moves the "
                     f"ranking most (lowest Kendall tau in a category {most.tau_min:.2f}, {int(most.moved)} units "
                     f"change rank, {int(most.grades)} grades change), {per.index[-1]} least (lowest tau "
                     f"{least.tau_min:.2f}, {int(least.moved)} units, {int(least.grades)} grades).")
        if (per["tau_min"] < 0.8).any():
            parts.append("τ 低于 0.8 时，权重方法和数据一样决定先后：排名使用前，权重需要说明理由。" if zh else
                         "Where tau falls below 0.8 the choice of weighting method decides the order as much as "
                         "the data do: the weights need a stated reason before the ranking is used.")
    skipped = effects[effects["tau"].isna() & (effects["note"] != "")].drop_duplicates("method")
    if len(skipped):
        parts.append("未计算：" + "；".join(f"{r.method}（{r.note}）" for r in skipped.itertuples()) + "。" if zh else
                     "Not computed: " + "; ".join(f"{r.method} ({r.note})" for r in skipped.itertuples()) + ".")
    if influence is not None and len(influence):
        gap = (influence["variance_share"] - influence["nominal_weight"])
        over, under = influence.loc[gap.idxmax()], influence.loc[gap.idxmin()]
        still = int((influence["units_moved"] == 0).sum())
        parts.append(f"按类别内总分方差的份额衡量，{over.indicator} 的实际影响最超出其名义权重（{over.variance_share:.3f}，"
                     f"名义 {over.nominal_weight:.3f}），{under.indicator} 最不及（{under.variance_share:.3f}，名义 "
                     f"{under.nominal_weight:.3f}）；{len(influence)} 个指标中有 {still} 个去掉后没有单位名次改变。"
                     if zh else
                     f"Measured by their share of the variance of totals within categories, {over.indicator} "
                     f"drives the ranking most beyond its nominal weight ({over.variance_share:.3f} against "
                     f"{over.nominal_weight:.3f}) and {under.indicator} falls furthest short of it "
                     f"({under.variance_share:.3f} against {under.nominal_weight:.3f}); {still} of {len(influence)} "
                     f"indicators move no unit when dropped.")
    if reduction is not None:
        total = len(reduction.kept) + len(reduction.dropped)
        text = (f"在每个类别的 Kendall τ 不低于 {reduction.min_tau:g} 的前提下，{total} 个指标中保留 {len(reduction.kept)} "
                "个即可（少而精）" if zh else
                f"Keeping Kendall tau at or above {reduction.min_tau:g} in every category, {len(reduction.kept)} of "
                f"{total} indicators suffice (少而精)")
        if reduced_taus is not None and np.isfinite(reduced_taus).any():
            worst, mean = np.nanmin(reduced_taus), np.nanmean(reduced_taus)
            text += (f"；精简后与完整排名的 τ 最差类别为 {worst:.3f}，平均 {mean:.3f}" if zh else
                     f"; the reduced set's tau to the full ranking is {worst:.3f} in the worst category and "
                     f"{mean:.3f} on average")
        parts.append(text + ("。" if zh else "."))
    return ("" if zh else " ").join(parts)
