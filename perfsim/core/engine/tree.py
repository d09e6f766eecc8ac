"""The scheme as arrays: :class:`Tree` (nodes, leaves, parents; cached per scheme),
:class:`Inputs` (step 1's arrays) and :class:`Result` (what :func:`score_detail` returns),
with the codes of a missing actual."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..scheme import Node, Resolved, Scheme, iter_nodes


#: codes of :attr:`Inputs.missing`: what was done with a unit's missing actual on a leaf
NOT_MISSING, ZERO, EXCLUDED, IMPUTED_VALUE, IMPUTED_SCORE, NOT_IMPUTABLE, ABSENT = range(7)


_TREES: dict[int, tuple[Scheme, "Tree"]] = {}


@dataclass(frozen=True)
class Tree:
    """The scheme tree flattened depth-first (parents before children)."""

    paths: tuple[str, ...]
    nodes: tuple[Node, ...]
    parent: tuple[int, ...]            # -1 for the root
    children: tuple[tuple[int, ...], ...]
    leaves: tuple[int, ...]            # node indices of the leaves, in tree order

    @classmethod
    def of(cls, scheme: Scheme) -> "Tree":
        """The flattened tree of a scheme (memoised: schemes are immutable)."""
        hit = _TREES.get(id(scheme))
        if hit is not None and hit[0] is scheme:
            return hit[1]
        tree = cls._build(scheme)
        if len(_TREES) > 256:
            _TREES.clear()
        _TREES[id(scheme)] = (scheme, tree)   # holding the scheme keeps its id unique
        return tree

    @classmethod
    def _build(cls, scheme: Scheme) -> "Tree":
        paths, nodes = zip(*iter_nodes(scheme.tree))
        index = {p: i for i, p in enumerate(paths)}
        parent = tuple(index[p.rsplit(".", 1)[0]] if "." in p else -1 for p in paths)
        children = tuple(tuple(j for j, q in enumerate(parent) if q == i) for i in range(len(paths)))
        leaves = tuple(i for i, n in enumerate(nodes) if n.is_leaf)
        return cls(paths, nodes, parent, children, leaves)

    def leaf_source(self, i: int) -> str:
        node = self.nodes[i]
        return node.source or "indicator"

    def indicator_of(self, i: int) -> str:
        node = self.nodes[i]
        return node.indicator or self.paths[i].rsplit(".", 1)[1]

    def in_extra(self, i: int) -> bool:
        """Whether node ``i`` is, or lies under, a component marked ``extra`` (points on top)."""
        if i <= 0:                      # the root
            return False
        while self.parent[i] > 0:       # up to the top-level component
            i = self.parent[i]
        return bool(self.nodes[i].extra)


@dataclass(frozen=True)
class Inputs:
    """Per-leaf inputs for one year, rows aligned with ``units`` (sorted by unit_id)."""

    units: pd.DataFrame
    x: np.ndarray
    t: np.ndarray
    present: np.ndarray
    lower: np.ndarray
    categories: np.ndarray    # category code per unit (minmax and rank compare within it)
    groups: np.ndarray        # ranking group per unit (category, or one group for all)
    year: int
    #: units x leaves: what the scheme's missing-data rule did (NOT_MISSING, ZERO, ...)
    missing: np.ndarray | None = None
    #: per leaf, the rule that applies to a missing actual ("zero", "exclude", "impute:...")
    policies: tuple[str, ...] = ()
    #: per leaf with ``treat``: how its values were treated (a :class:`~perfsim.core.treat.Treated`)
    treated: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """Everything :func:`score` computed: the table plus per-node detail."""

    table: pd.DataFrame
    node_scores: pd.DataFrame   # units x node paths, fraction of full marks
    node_points: pd.DataFrame   # units x node paths, points earned
    node_held: pd.DataFrame     # units x node paths, points at stake (the effective weight)
    year: int
    #: every missing actual and what the scheme's rule did with it (see :func:`missing_table`)
    missing: pd.DataFrame | None = None
    #: outlier treatment per leaf with ``treat`` (see :func:`treated_table`)
    treated: pd.DataFrame | None = None


def _scheme(scheme: Scheme | Resolved) -> tuple[Scheme, str]:
    if isinstance(scheme, Resolved):
        return scheme.scheme, str(scheme.path)
    return scheme, f"scheme '{scheme.name}'"


def _applies(node: Node, units: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(units), dtype=bool)
    rule = node.applies_to
    if rule is None:
        return mask
    for column in ("kind", "district_type", "category"):
        allowed = getattr(rule, column)
        if allowed is not None:
            mask &= units[column].isin(allowed).to_numpy()
    return mask
