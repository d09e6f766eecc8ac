"""The uncertainty model: a scheme and a dataset compiled once into arrays.

:func:`compile_model` turns a scheme, a dataset and an uncertainty spec into a
:class:`Model`: fixed leaf scores (one set per combination of scoring choices), presence
masks, the tree's internal nodes bottom-up (:class:`Aggregation`), adjustments, the
standard deviation of each noisy leaf and the groups of uncertain weights. The Monte
Carlo (:mod:`perfsim.uncertainty.montecarlo`) and the robustness analyses
(:mod:`perfsim.uncertainty.robustness`) take the model and nothing else.

Uncertain inputs, all declared in the scheme's ``uncertainty`` section (or a separate
file):

* weights of the children of chosen nodes: ``uniform`` multipliers in [1 - spread,
  1 + spread] (independent, as Sobol analysis needs), or ``dirichlet`` around the nominal
  shares with a concentration;
* alternative scoring and aggregation choices (``cap``, ``floor`` of a leaf, or
  ``aggregate`` of a node): each draw picks one of the listed values;
* leader-rater resampling: each unit's mean rating varies with the standard error of the
  raters' mean (normal approximation of the bootstrap);
* survey sampling noise: each group's mean score varies with respondent_sd / sqrt(n).
"""


from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..core.contract import Dataset
from ..core.engine import Tree, adjustments, check_fit, leaf_inputs, leaf_scores, year_view
from ..core.errors import PerfsimError
from ..core.scheme import (ChoiceSpec, Resolved, Scheme, UncertaintySpec, apply_diff, parse_scheme,
                           pydantic_error, raw_of)
from ..core.yamlio import load_yaml
from ..core.scheme import plain


def load_spec(path) -> UncertaintySpec:
    """An uncertainty spec from its own YAML file (top-level ``uncertainty:`` or bare)."""
    raw = load_yaml(path)
    raw = raw.get("uncertainty", raw)
    try:
        return UncertaintySpec.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, str(path), prefix="uncertainty spec: ") from None


# --------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Aggregation:
    """An internal node of the tree as the Monte Carlo sees it."""

    index: int                 # node index in the tree
    children: np.ndarray       # node indices of the normal children
    weights: np.ndarray        # nominal weights of those children
    geometric: bool


@dataclass
class Model:
    """A scheme and dataset compiled to arrays (one per combination of choices)."""

    ids: np.ndarray
    categories: np.ndarray
    category_labels: list[str]
    groups: np.ndarray
    n: int
    tree: Tree
    nodes: list[Aggregation]                      # internal nodes, bottom-up
    present: np.ndarray                    # units x tree nodes
    scores: list[np.ndarray]               # per choice combination: units x tree nodes (leaves filled)
    geometric: list[dict[int, bool]]       # per combination: node index -> geometric?
    combos: list[tuple]                    # the choice values of each combination
    root_points: float
    extras: list[tuple[int, float]]        # (node index, points) of extra components
    bonus: np.ndarray
    deduction: np.ndarray
    veto: np.ndarray
    decimals: int | None
    noise: dict[int, np.ndarray] = field(default_factory=dict)   # leaf node index -> sd of its score
    weight_groups: list[tuple[int, str, float, float]] = field(default_factory=list)
    # (node position in self.nodes, method, spread, concentration)
    scheme: Scheme | None = None
    spec: UncertaintySpec = field(default_factory=UncertaintySpec)   # what varies, and how
    patterns: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    # (unit indices, presence over tree nodes) for each distinct presence pattern
    _plan: object = field(default=None, repr=False, compare=False)

    @property
    def weight_names(self) -> list[str]:
        """One name per uncertain weight: the child's path."""
        return [self.tree.paths[c] for pos, *_ in self.weight_groups for c in self.nodes[pos].children]

    def subset(self, units: np.ndarray) -> "Model":
        """The same model restricted to some units (indices, e.g. one category): what is
        drawn for them is unchanged, work and memory shrink with them."""
        from dataclasses import replace

        units = np.asarray(units, dtype=np.intp)
        present = self.present[units]
        uniq, pattern_of = np.unique(present, axis=0, return_inverse=True)
        codes, groups = np.unique(self.groups[units], return_inverse=True)
        return replace(self, ids=self.ids[units], categories=self.categories[units],
                       groups=groups.astype(np.int64).ravel(), n=len(units), present=present,
                       scores=[s[units] for s in self.scores], bonus=self.bonus[units],
                       deduction=self.deduction[units], veto=self.veto[units],
                       noise={i: sd[units] for i, sd in self.noise.items()},
                       patterns=[(np.flatnonzero(pattern_of.ravel() == k), uniq[k]) for k in range(len(uniq))],
                       _plan=None)


def leaf_noise_sd(node, view, spec: UncertaintySpec) -> np.ndarray | None:
    """Standard deviation of a rating leaf's score (fraction of full marks), per unit
    (None when the spec does not make this leaf noisy)."""
    if node.source == "leader_ratings" and spec.leader_noise:
        from ..core.engine import leader_panels

        var = np.zeros(len(view.ids))
        total = np.zeros(len(view.ids))
        for weight, r in leader_panels(node, view):         # the ratings the leaf averages, per panel
            count = np.sum(~np.isnan(r), axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = np.nanstd(r, axis=1, ddof=1) if r.shape[1] > 1 else np.zeros(len(view.ids))
            rated = count > 0
            var += np.where(rated, weight ** 2 * np.nan_to_num(sd) ** 2 / np.maximum(count, 1), 0.0)
            total += weight * rated
        return np.where(total > 0, np.sqrt(var) / np.where(total > 0, total, 1.0), 0.0) / 100.0
    if node.source == "satisfaction" and spec.survey_noise:
        score, where = view.matrix("sat_score")
        resp, _ = view.matrix("sat_respondents")
        if node.groups is None:
            w = np.nan_to_num(resp)
        else:
            weights = np.zeros(len(where))
            for g, j in where.items():
                weights[j] = node.groups.get(g, 0.0)
            w = np.where(np.isnan(score), 0.0, weights[None, :])
        n = np.where(np.nan_to_num(resp) > 0, resp * spec.respondents_scale, np.inf)
        var = np.nansum(w ** 2 * spec.respondent_sd ** 2 / n, axis=1)
        total = w.sum(axis=1)
        return np.where(total > 0, np.sqrt(var) / np.where(total > 0, total, 1.0), 0.0) / 100.0
    return None


def _choice_targets(tree: Tree, choice: ChoiceSpec) -> list[str]:
    """Nodes a choice applies to: its path (``*`` wildcards allowed) filtered by field."""
    from fnmatch import fnmatchcase

    def fits(i: int) -> bool:
        node = tree.nodes[i]
        if choice.field == "aggregate":
            return not node.is_leaf
        return node.is_leaf and node.rule == {"cap": "ratio", "floor": "band"}[choice.field]

    found = [p for i, p in enumerate(tree.paths) if fnmatchcase(p, choice.path) and fits(i)]
    if not found:
        raise PerfsimError(f"key 'uncertainty.choices': no node matches '{choice.path}' for "
                           f"field {choice.field}")
    return found


def compile_model(scheme: Resolved | Scheme, dataset: Dataset, spec: UncertaintySpec,
                  year: int | None = None) -> Model:
    """Compile once: leaf scores per choice combination, presence, nodes, adjustments."""
    base = plain(scheme)
    raw = raw_of(scheme)
    year = check_fit(base, dataset, year)
    tree = Tree.of(base)
    # choice combinations: each is a scheme variant with the chosen field values
    targets = [_choice_targets(tree, c) for c in spec.choices]
    combos = list(itertools.product(*(c.values for c in spec.choices))) or [()]
    scores, geometric = [], []
    present = None
    for combo in combos:
        variant = base
        if combo:
            changes = {f"{path}.{c.field}": v for c, paths, v in zip(spec.choices, targets, combo)
                       for path in paths}
            variant = parse_scheme(apply_diff(raw, changes, [], "<uncertainty choice>"), "<choice>")
        vtree = Tree.of(variant)
        inputs = leaf_inputs(variant, dataset, year)
        s_leaf = leaf_scores(variant, inputs)
        s = np.zeros((len(inputs.units), len(vtree.nodes)))
        p = np.zeros_like(s, dtype=bool)
        for j, i in enumerate(vtree.leaves):
            s[:, i], p[:, i] = s_leaf[:, j], inputs.present[:, j]
        for i in reversed(range(len(vtree.nodes))):
            kids = [c for c in vtree.children[i] if not vtree.nodes[c].extra]
            if kids:
                p[:, i] = p[:, kids].any(axis=1)
        present = p if present is None else present
        scores.append(s)
        geometric.append({i: vtree.nodes[i].aggregate == "geometric" for i in range(len(vtree.nodes))})
    units = inputs.units
    nodes = []
    for i in reversed(range(len(tree.nodes))):
        kids = np.array([c for c in tree.children[i] if not tree.nodes[c].extra], dtype=int)
        if len(kids):
            w = np.array([float(tree.nodes[c].points if tree.nodes[c].points is not None
                                else tree.nodes[c].weight) for c in kids])
            nodes.append(Aggregation(i, kids, w / w.max() if w.max() > 0 else w,   # relative weights
                                     tree.nodes[i].aggregate == "geometric"))
    extras = [(c, float(tree.nodes[c].points)) for c in tree.children[0] if tree.nodes[c].extra]
    bonus, deduction, veto = adjustments(base, dataset, year)
    view = year_view(dataset, year)
    noise = {}
    for i in tree.leaves:
        sd = leaf_noise_sd(tree.nodes[i], view, spec)
        if sd is not None:
            noise[i] = sd
    weight_groups = []
    position = {node.index: k for k, node in enumerate(nodes)}
    for ws in spec.weights:
        targets = []
        if ws.nodes:
            for path in ws.nodes:
                if path not in tree.paths or tree.paths.index(path) not in position:
                    raise PerfsimError(f"key 'uncertainty.weights': '{path}' is not an internal node")
                targets.append(tree.paths.index(path))
        if ws.level is not None:
            targets += [i for i in position if tree.paths[i].count(".") == ws.level]
        for i in targets:
            if len(nodes[position[i]].children) > 1 and all(g[0] != position[i] for g in weight_groups):
                weight_groups.append((position[i], ws.method, ws.spread, ws.concentration))
    codes, labels = pd.factorize(units["category"], sort=True)
    categories = codes.astype(np.int64)
    groups = categories if base.ranking.within == "category" else np.zeros(len(units), np.int64)
    uniq, pattern_of = np.unique(present, axis=0, return_inverse=True)
    patterns = [(np.flatnonzero(pattern_of.ravel() == k), uniq[k]) for k in range(len(uniq))]
    return Model(patterns=patterns, ids=units["unit_id"].to_numpy(), categories=categories,
                 category_labels=[str(c) for c in labels], groups=groups,
                 n=len(units), tree=tree, nodes=nodes, present=present, scores=scores,
                 geometric=geometric, combos=combos, root_points=float(base.tree.points),
                 extras=extras, bonus=bonus, deduction=deduction, veto=veto,
                 decimals=base.ranking.round, noise=noise, weight_groups=weight_groups, scheme=base,
                 spec=spec)


