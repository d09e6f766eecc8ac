"""Steps 2 and 3: :func:`leaf_scores` scores each leaf by its rule's entry in the registry
(:data:`perfsim.core.rules.RULES`); :func:`aggregate_tree` walks the tree bottom-up and
allocates points top-down; :func:`adjustments` gives the capped bonus and deduction."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import rules
from ..contract import Dataset
from ..errors import PerfsimError
from ..scheme import Node, Scheme
from .tree import IMPUTED_SCORE, Inputs, NOT_MISSING, Tree
from .year import year_view


def leaf_scores(scheme: Scheme, inputs: Inputs) -> np.ndarray:
    """Fraction of full marks per unit and leaf; 0 where a present leaf lacks its actual.
    Each leaf is scored by its rule's entry in the registry (:data:`perfsim.core.rules.RULES`)."""
    tree = Tree.of(scheme)
    s = np.zeros_like(inputs.x)
    for j, i in enumerate(tree.leaves):
        node = tree.nodes[i]
        x, t, lower = inputs.x[:, j], inputs.t[:, j], bool(inputs.lower[j])
        spec = rules.RULES[node.rule]
        if spec.kind == "scaled":
            x, groups = _scaled_input(node, np.where(inputs.present[:, j], x, np.nan), inputs)
            col = spec.score(node, x, t, lower, groups)
        else:
            col = spec.score(node, x, t, lower, None)
        s[:, j] = np.where(inputs.present[:, j], np.nan_to_num(col, nan=0.0), 0.0)
    if inputs.missing is not None and (inputs.missing == IMPUTED_SCORE).any():
        _fill_unit_mean(tree, inputs, s)
    return s


def _scaled_input(node: Node, x: np.ndarray, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """What a data-scaled rule scores: the present values (logged with ``log``) and the
    groups they are scaled within (the unit's category, or all units with ``within: all``)."""
    groups = inputs.categories if (node.within or "category") == "category" else np.zeros(len(x), dtype=np.int64)
    if node.log:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(x)
    return x, groups


def _fill_unit_mean(tree: "Tree", inputs: Inputs, s: np.ndarray) -> None:
    """``impute: unit_mean``: the unit's mean score on its other indicators under the same
    parent (those with an actual of their own)."""
    col = {i: j for j, i in enumerate(tree.leaves)}
    own = inputs.present & (inputs.missing == NOT_MISSING)
    for j in np.flatnonzero((inputs.missing == IMPUTED_SCORE).any(axis=0)):
        i = tree.leaves[j]
        siblings = [col[c] for c in tree.children[tree.parent[i]] if c != i and c in col]
        rows = inputs.missing[:, j] == IMPUTED_SCORE
        donors = own[:, siblings]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (s[:, siblings] * donors).sum(axis=1) / donors.sum(axis=1)
        s[rows, j] = np.nan_to_num(mean[rows])


def aggregate_tree(scheme: Scheme, s_leaf: np.ndarray, present_leaf: np.ndarray,
                   ids: "Sequence[str] | None" = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node scores, earned points and points held, each (units, nodes), from leaf scores.

    Bottom-up: a node's score is the weighted (arithmetic or geometric) mean of its
    present, non-extra children, weights re-normalised per unit. Top-down: the root holds
    ``tree.points``; each normal child receives its re-normalised share of its parent's
    points, an ``extra`` child its own points. Earned points = score x points held.

    A geometric mean over a present child scoring 0 or less is an error naming the units
    (``ids``) and the nodes, unless the node declares ``geometric_floor``: child scores
    below it are raised to it.
    """
    tree = Tree.of(scheme)
    n, k = s_leaf.shape[0], len(tree.nodes)
    score = np.zeros((n, k))
    present = np.zeros((n, k), dtype=bool)
    shares: dict[int, np.ndarray] = {}
    for j, i in enumerate(tree.leaves):
        score[:, i], present[:, i] = s_leaf[:, j], present_leaf[:, j]
    for i in reversed(range(k)):
        kids = [c for c in tree.children[i] if not tree.nodes[c].extra]
        if not kids:
            continue
        w = np.array([_weight(tree.nodes[c]) for c in kids])
        child = score[:, kids]
        if tree.nodes[i].aggregate == "geometric":
            child = _geometric_children(tree, i, kids, child, present[:, kids] & (w > 0), ids)
        score[:, i], shares[i] = rules.aggregate(child, w, present[:, kids], tree.nodes[i].aggregate)
        present[:, i] = present[:, kids].any(axis=1)
    held = np.zeros((n, k))
    held[:, 0] = float(scheme.tree.points)
    for i in range(k):
        kids = [c for c in tree.children[i] if not tree.nodes[c].extra]
        for col, c in enumerate(kids):
            held[:, c] = held[:, i] * shares[i][:, col]
        for c in tree.children[i]:
            if tree.nodes[c].extra:
                held[:, c] = float(tree.nodes[c].points) * present[:, c]
    return score, score * held, held


def _geometric_children(tree: "Tree", i: int, kids: list[int], child: np.ndarray, on: np.ndarray,
                        ids: "Sequence[str] | None") -> np.ndarray:
    """Child scores of a geometric node, after its declared policy for zeros."""
    node = tree.nodes[i]
    bad = on & (child <= 0)
    if not bad.any():
        return child
    if node.geometric_floor is not None:
        return np.where(on, np.maximum(child, node.geometric_floor), child)
    u, c = np.nonzero(bad)
    units = sorted({str(ids[k]) if ids is not None else f"#{k}" for k in u})
    nodes = sorted({tree.paths[kids[k]] for k in c})
    raise PerfsimError(f"key '{tree.paths[i]}': a geometric mean over a score of 0 or less for "
                       f"{len(units)} unit(s) ({', '.join(units[:8])}{' ...' if len(units) > 8 else ''}) in "
                       f"{', '.join(nodes[:5])}: declare 'geometric_floor: 0.01' (scores below raised to it) "
                       "or aggregate arithmetically")


def _weight(node: Node) -> float:
    return float(node.points if node.points is not None else node.weight)


def adjustments(scheme: Scheme, dataset: Dataset, year: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Capped bonus, capped deduction (per item, then in total) and veto flag per unit."""
    view = year_view(dataset, year)
    rules_ = scheme.adjustments
    bonus = np.nan_to_num(view.column("bonus", "bonus"))
    if rules_.bonus.cap is not None:
        bonus = np.minimum(bonus, rules_.bonus.cap)
    per_item, where = view.matrix("deduction")
    per_item = np.nan_to_num(per_item)
    if rules_.deduction.items is not None and where:
        caps = np.array([rules_.deduction.items[k].cap if k in rules_.deduction.items
                         and rules_.deduction.items[k].cap is not None else np.inf
                         for k in sorted(where, key=where.get)])
        per_item = np.minimum(per_item, caps)
    deduction = per_item.sum(axis=1)
    if rules_.deduction.cap is not None:
        deduction = np.minimum(deduction, rules_.deduction.cap)
    veto = ~np.isnan(view.column("veto", "veto")) if rules_.veto else np.zeros(len(view.ids), bool)
    return bonus, deduction, veto
