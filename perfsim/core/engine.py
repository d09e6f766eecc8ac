"""The scheme engine: one dataset + one scheme -> totals, ranks and grades.

Three steps, each a pure function:

1. :func:`leaf_inputs` turns the data of one year into arrays ``x`` (actual or mean
   rating), ``t`` (target) and ``present`` of shape ``(units, leaves)``;
2. :func:`leaf_scores` applies each leaf's scoring rule (:mod:`perfsim.core.rules`);
3. :func:`aggregate_tree` walks the tree bottom-up (weights re-normalised over the
   children present for each unit) and allocates points top-down; then
   :func:`score_arrays` adds the capped bonus and deduction of :func:`adjustments`, ranks
   within category (ties share the best rank) and grades with :func:`grade_index`, which
   applies the veto.

:func:`score` runs them all and returns the result table; :func:`check_fit` is the part
that checks a scheme against a dataset and is also what ``perfsim validate --data`` runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from . import rules
from .contract import Dataset
from .errors import PerfsimError, PerfsimWarning
from .scheme import DATA_SCALED, TARGET_RULES, Node, Resolved, Scheme, iter_nodes

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


# --------------------------------------------------------------------------- helpers

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


def recut_categories(scheme: Scheme, units: pd.DataFrame, where: str = "<scheme>") -> pd.Series:
    """Each unit's category after the scheme's ``categories`` re-cut (indexed like ``units``)."""
    cats = units["category"].astype(str).copy()
    spec = scheme.categories
    if spec is None:
        return cats
    known_units = set(units["unit_id"])
    for new, old in spec.merge.items():
        missing = [c for c in old if c not in set(cats)]
        if missing:
            raise PerfsimError(f"key 'categories.merge.{new}': no category {missing[0]!r} in the data",
                               where=where)
        cats[cats.isin(old)] = new
    for old, parts in spec.split.items():
        if old not in set(cats):
            raise PerfsimError(f"key 'categories.split.{old}': no category {old!r} in the data", where=where)
        for new, members in parts.items():
            for unit in members:
                row = units.index[units["unit_id"] == unit]
                if not len(row):
                    raise PerfsimError(f"key 'categories.split.{old}.{new}': unknown unit {unit!r}", where=where)
                if cats[row[0]] != old:
                    raise PerfsimError(f"key 'categories.split.{old}.{new}': unit {unit!r} is in "
                                       f"category {cats[row[0]]!r}, not {old!r}", where=where)
                cats[row[0]] = new
    for unit, new in spec.move.items():
        if unit not in known_units:
            raise PerfsimError(f"key 'categories.move.{unit}': unknown unit", where=where)
        cats[units.index[units["unit_id"] == unit][0]] = new
    return cats


def resolve_year(dataset: Dataset, year: int | None) -> int:
    years = dataset.years
    if not years:
        raise PerfsimError("the dataset has no targets or actuals, so no year to score",
                           where=dataset.origin)
    if year is None:
        return years[-1]
    if year not in years:
        raise PerfsimError(f"no targets or actuals for year {year} (years present: "
                           f"{', '.join(map(str, years))})", where=dataset.origin)
    return year


def _of_year(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    return frame[frame["year"].astype(int) == year] if len(frame) else frame


def year_end_actuals(dataset: Dataset, year: int) -> pd.DataFrame:
    """The latest year-to-date actual of each (unit, indicator) within ``year``."""
    actuals = dataset.actuals
    actuals = actuals[actuals["period"].str.startswith(f"{year}-")]
    return actuals.sort_values("period").drop_duplicates(["unit_id", "indicator_id"], keep="last")


@dataclass(frozen=True)
class YearView:
    """One year of a dataset as arrays aligned with the sorted unit ids.

    Built once per (dataset, year) and cached on the dataset, so that scoring many
    scenarios on the same data does the pandas work once. Every matrix is
    ``units x keys`` with NaN where the data has no row.
    """

    ids: pd.Index                       # unit ids, sorted
    units: pd.DataFrame                 # sorted by unit_id, 0..n-1 index
    tables: dict                        # name -> rows of that year
    matrices: dict                      # name -> (array units x keys, {key: column})
    memo: dict = field(default_factory=dict, compare=False, repr=False)   # per-scheme masks
    panels: dict = field(default_factory=dict)   # leader rater_id -> its panel (leaders by default)

    def column(self, name: str, key: str) -> np.ndarray:
        values, where = self.matrices[name]
        j = where.get(key)
        return values[:, j] if j is not None else np.full(len(self.ids), np.nan)

    def matrix(self, name: str) -> tuple[np.ndarray, dict]:
        return self.matrices[name]


def _matrix(frame: pd.DataFrame, ids: pd.Index, key: str, value: str,
            keys: list | None = None) -> tuple[np.ndarray, dict]:
    """Pivot rows of (unit_id, key, value) into units x keys, summing duplicates."""
    if keys is None:
        keys = sorted(frame[key].unique()) if len(frame) else []
    if len(frame):
        table = frame.pivot_table(index="unit_id", columns=key, values=value, aggfunc="sum")
        values = table.reindex(index=ids, columns=keys).to_numpy(dtype=float)
    else:
        values = np.full((len(ids), len(keys)), np.nan)
    return values, {k: j for j, k in enumerate(keys)}


def year_view(dataset: Dataset, year: int) -> YearView:
    key = ("year_view", year)
    if key in dataset.cache:
        return dataset.cache[key]
    units = dataset.units.sort_values("unit_id", kind="stable").reset_index(drop=True)
    ids = pd.Index(units["unit_id"])
    indicators = list(dataset.indicators["indicator_id"])
    tables = {name: _of_year(dataset.tables[name], year)
              for name in ("targets", "leader_ratings", "satisfaction", "special", "adjustments")}
    adj = tables["adjustments"]
    sat = tables["satisfaction"]
    matrices = {
        "target": _matrix(tables["targets"], ids, "indicator_id", "target", indicators),
        "actual": _matrix(year_end_actuals(dataset, year), ids, "indicator_id", "value", indicators),
        "leader": _matrix(tables["leader_ratings"], ids, "rater_id", "rating"),
        "sat_score": _matrix(sat, ids, "group", "score"),
        "sat_respondents": _matrix(sat, ids, "group", "respondents"),
        "special": _matrix(tables["special"], ids, "facet", "score"),
        "bonus": _matrix(adj[adj["type"] == "bonus"].assign(all="bonus"), ids, "all", "points", ["bonus"]),
        "deduction": _matrix(adj[adj["type"] == "deduction"], ids, "item", "points"),
        "veto": _matrix(adj[adj["type"] == "veto"].assign(all="veto", one=1.0), ids, "all", "one", ["veto"]),
    }
    share_credit(dataset, year, ids, matrices)
    leader = tables["leader_ratings"]
    panels = (dict(zip(leader["rater_id"], leader["panel"])) if "panel" in leader and len(leader) else {})
    view = YearView(ids, units, tables, matrices, panels=panels)
    dataset.cache[key] = view
    return view


def install_year_view(dataset: Dataset, year: int, view: YearView) -> None:
    """Hand the engine a year's arrays built elsewhere (the synthetic generator builds them
    straight from its own arrays): the view :func:`year_view` would otherwise build, and the
    dataset's one year."""
    dataset.cache[("year_view", year)] = view
    dataset.cache["years"] = [year]


def share_credit(dataset: Dataset, year: int, ids: pd.Index, matrices: dict) -> None:
    """Shared targets (the optional ``responsibilities`` table): the units responsible for an
    indicator achieve it jointly. The joint actual is the sum of their actuals and the joint
    target the sum of their targets; each unit is credited its ``share`` of both, so the
    credits add up to the joint actual and target and every responsible unit scores the
    joint achievement. Changes ``matrices['actual']`` and ``['target']`` (copies)."""
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return
    rows = shared[shared["year"] == year]
    actual, at = matrices["actual"]
    target, tt = matrices["target"]
    actual, target = actual.copy(), target.copy()          # pandas may hand out read-only views
    matrices["actual"], matrices["target"] = (actual, at), (target, tt)
    for indicator, part in rows.groupby("indicator_id"):
        u = ids.get_indexer(part["unit_id"])
        share = part["share"].to_numpy(dtype=float)
        a, t = actual[u, at[indicator]], target[u, tt[indicator]]
        joint_actual = np.nansum(a) if np.isfinite(a).any() else np.nan
        joint_target = np.nansum(t) if np.isfinite(t).any() else np.nan
        actual[u, at[indicator]] = share * joint_actual
        target[u, tt[indicator]] = share * joint_target


def credit_table(dataset: Dataset, year: int) -> pd.DataFrame:
    """Per shared indicator and responsible unit: role, share, its own actual and target,
    the joint actual and target, and the credited actual and target (share x joint)."""
    view = year_view(dataset, year)
    raw_actual = _matrix(year_end_actuals(dataset, year), view.ids, "indicator_id", "value",
                         list(dataset.indicators["indicator_id"]))
    raw_target = _matrix(view.tables["targets"], view.ids, "indicator_id", "target",
                         list(dataset.indicators["indicator_id"]))
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return pd.DataFrame(columns=["unit_id", "indicator_id", "role", "share", "actual", "target",
                                     "joint_actual", "joint_target", "credited_actual", "credited_target"])
    rows = shared[shared["year"] == year].copy()
    u = view.ids.get_indexer(rows["unit_id"])
    j = [raw_actual[1][i] for i in rows["indicator_id"]]
    rows["actual"] = raw_actual[0][u, j]
    rows["target"] = raw_target[0][u, j]
    credited_a, credited_t = view.matrices["actual"][0][u, j], view.matrices["target"][0][u, j]
    rows["joint_actual"] = credited_a / rows["share"].to_numpy()
    rows["joint_target"] = credited_t / rows["share"].to_numpy()
    rows["credited_actual"], rows["credited_target"] = credited_a, credited_t
    return rows.drop(columns="year").reset_index(drop=True)


def cascade_gaps(dataset: Dataset, year: int) -> pd.DataFrame:
    """Indicators whose city goal (``goals``) the units' targets do not add up to (层层分解):
    the goal, the sum of the unit targets, the gap (goal - sum; for lower-is-better
    indicators sum - goal) and how many units carry a target. Only gaps are listed."""
    goals = dataset.tables.get("goals")
    columns = ["indicator_id", "goal", "unit_targets", "gap", "units"]
    if goals is None or not len(goals):
        return pd.DataFrame(columns=columns)
    lower = set(dataset.indicators.loc[dataset.indicators["direction"] == "lower", "indicator_id"])
    targets = dataset.targets[dataset.targets["year"] == year]
    rows = []
    for g in goals[goals["year"] == year].itertuples():
        mine = targets[targets["indicator_id"] == g.indicator_id]["target"]
        total = float(mine.sum())
        gap = (total - g.goal) if g.indicator_id in lower else (g.goal - total)
        if gap > 1e-9 * max(1.0, abs(g.goal)):
            rows.append({"indicator_id": g.indicator_id, "goal": g.goal, "unit_targets": total, "gap": gap,
                         "units": int(len(mine))})
    return pd.DataFrame(rows, columns=columns)


def _check_responsibilities(dataset: Dataset, year: int) -> None:
    shared = dataset.tables.get("responsibilities")
    if shared is None or not len(shared):
        return
    rows = shared[shared["year"] == year]
    measure = dict(zip(dataset.indicators["indicator_id"], dataset.indicators["unit_of_measure"].fillna("")))
    for indicator, part in rows.groupby("indicator_id"):
        if "%" in str(measure.get(indicator, "")):
            raise PerfsimError(f"shared indicator '{indicator}' is a percentage ({measure[indicator]}): a shared target "
                               "adds the units' actuals and targets, so it needs an amount or a count",
                               where=dataset.where("responsibilities", part.index[0], "indicator_id"))
        leads = int((part["role"] == "lead").sum())
        if leads != 1:
            r = part.index[0]
            raise PerfsimError(f"shared indicator '{indicator}' has {leads} lead units in {year}: exactly one unit "
                               "leads (主责), the others are co-responsible (分办)",
                               where=dataset.where("responsibilities", r, "role"))
        total = float(part["share"].sum())
        if abs(total - 1.0) > 1e-6:
            r = part.index[0]
            raise PerfsimError(f"the shares of shared indicator '{indicator}' add up to {total:g} in {year}, not 1: "
                               "the credits must add up to the joint target", where=dataset.where("responsibilities", r,
                                                                                                  "share"))


# --------------------------------------------------------------------------- fit

def check_fit(scheme: Scheme | Resolved, dataset: Dataset, year: int | None = None) -> int:
    """Check that a scheme can score a dataset; return the year. Raises PerfsimError."""
    scheme, where = _scheme(scheme)
    year = resolve_year(dataset, year)
    tree = Tree.of(scheme)
    recut_categories(scheme, dataset.units, where)
    _check_units_fit(scheme, dataset, where)
    key = ("data_checks", year)                 # what depends on the data alone: once per dataset and year
    if key not in dataset.cache:
        _check_responsibilities(dataset, year)
        dataset.cache[key] = cascade_gaps(dataset, year)
    gaps = dataset.cache[key]
    if len(gaps):
        first = gaps.iloc[0]
        warnings.warn(f"{len(gaps)} indicator(s) whose unit targets do not add up to the city goal in {year} "
                      f"(first: {first.indicator_id}, goal {first.goal:g}, unit targets {first.unit_targets:g}, "
                      f"gap {first.gap:g}); see perfsim.cascade_gaps", PerfsimWarning, stacklevel=2)
    known = set(dataset.indicators["indicator_id"])
    view = year_view(dataset, year)
    targets = view.tables["targets"]
    zero = targets[targets["target"] == 0]
    for i in tree.leaves:
        node, path = tree.nodes[i], tree.paths[i]
        source = tree.leaf_source(i)
        if source == "indicator":
            indicator = tree.indicator_of(i)
            if indicator not in known:
                raise PerfsimError(f"key '{path}': indicator '{indicator}' is not in "
                                   f"{dataset.where('indicators')}", where=where)
            if node.divide_by is not None and node.divide_by not in known:
                raise PerfsimError(f"key '{path}.divide_by': indicator '{node.divide_by}' is not in "
                                   f"{dataset.where('indicators')}", where=where)
            if node.log and node.rule in DATA_SCALED:
                values = view.column("actual", indicator)
                if node.divide_by is not None:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        values = values / view.column("actual", node.divide_by)
                bad = np.flatnonzero(values <= 0)
                if len(bad):
                    raise PerfsimError(f"key '{path}.log': unit '{view.ids[bad[0]]}' has a value of "
                                       f"{values[bad[0]]:g} on indicator '{indicator}', which has no logarithm "
                                       f"({len(bad)} such unit(s))", where=where)
            if node.rule in TARGET_RULES and len(zero):
                rows = zero[zero["indicator_id"] == indicator]
                applies = set(dataset.units["unit_id"][_applies(node, dataset.units)])
                rows = rows[rows["unit_id"].isin(applies)]
                if len(rows):
                    r = rows.index[0]
                    raise PerfsimError(
                        f"target is 0 for unit '{rows.loc[r, 'unit_id']}', but indicator "
                        f"'{indicator}' is {node.rule}-scored (key '{path}' in {where}), "
                        "which divides by the target",
                        where=dataset.where("targets", r, "target"))
        elif source == "units":
            for column in filter(None, (node.field, node.per)):
                if dataset.units[column].isna().all():
                    raise PerfsimError(f"key '{path}': units have no values in column '{column}'",
                                       where=where)
        else:
            table = source
            frame = view.tables[table]
            if frame.empty and tree.in_extra(i):
                continue                 # an extra component without data adds nothing (warn_missing says so)
            if frame.empty:
                raise PerfsimError(f"key '{path}': needs table '{table}' with rows for year "
                                   f"{year}, but {dataset.where(table)} has none (only a component marked "
                                   "extra, such as the district special indicators, may go without data)",
                                   where=where)
            if source == "satisfaction" and node.groups is not None:
                unknown = frame[~frame["group"].isin(list(node.groups))]
                if len(unknown):
                    r = unknown.index[0]
                    raise PerfsimError(f"group '{unknown.loc[r, 'group']}' has no weight in key "
                                       f"'{path}.groups' of {where}",
                                       where=dataset.where(table, r, "group"))
            if source == "leader_ratings" and "panel" in frame:
                twice = frame.groupby("rater_id")["panel"].nunique()
                if (twice > 1).any():
                    rater = twice[twice > 1].index[0]
                    r = frame.index[frame["rater_id"] == rater][0]
                    raise PerfsimError(f"rater '{rater}' is in more than one panel in {year} "
                                       f"({', '.join(sorted(frame.loc[frame['rater_id'] == rater, 'panel'].unique()))})",
                                       where=dataset.where(table, r, "panel"))
                if node.panels is not None:
                    have = sorted(frame["panel"].unique())
                    unknown = [k for k in node.panels if k not in have]
                    if unknown:
                        raise PerfsimError(f"key '{path}.panels': panel '{unknown[0]}' has no ratings in {year} "
                                           f"(panels in {dataset.where(table)}: {', '.join(have)})", where=where)
            if source == "special" and not (frame["facet"] == node.facet).any():
                raise PerfsimError(f"key '{path}': no rows of facet '{node.facet}' in "
                                   f"{dataset.where(table)} for year {year}", where=where)
    items = scheme.adjustments.deduction.items
    adj = view.tables["adjustments"]
    if items is not None and len(adj):
        bad = adj[(adj["type"] == "deduction") & ~adj["item"].isin(list(items))]
        if len(bad):
            r = bad.index[0]
            raise PerfsimError(f"deduction item '{bad.loc[r, 'item']}' is not one of the items "
                               f"in key 'adjustments.deduction.items' of {where}",
                               where=dataset.where("adjustments", r, "item"))
    if len(adj):
        bad = adj[(adj["type"] != "veto") & adj["points"].isna()]
        if len(bad):
            r = bad.index[0]
            raise PerfsimError("a bonus or deduction needs points",
                               where=dataset.where("adjustments", r, "points"))
    return year


def _check_units_fit(scheme: Scheme, dataset: Dataset, where: str) -> None:
    """The unit kinds the scheme accepts, and the unit columns its ``applies_to`` rules
    read: present in the data (not defaulted), with values some unit has."""
    import warnings

    from .errors import PerfsimWarning

    units = dataset.units
    if scheme.unit_kinds is not None:
        if dataset.defaulted("units", "kind"):
            raise PerfsimError(f"key 'unit_kinds': {dataset.where('units')} has no column 'kind'", where=where)
        bad = units[~units["kind"].isin(scheme.unit_kinds)]
        if len(bad):
            r = bad.index[0]
            raise PerfsimError(f"{bad.loc[r, 'kind']!r} is not one of the unit kinds in key 'unit_kinds' "
                               f"of {where} ({', '.join(scheme.unit_kinds)})",
                               where=dataset.where("units", r, "kind"))
    for path, node in iter_nodes(scheme.tree):
        rule = node.applies_to
        if rule is None:
            continue
        for column in ("kind", "district_type", "category"):
            allowed = getattr(rule, column)
            if allowed is None:
                continue
            if dataset.defaulted("units", column):
                raise PerfsimError(f"key '{path}.applies_to.{column}': {dataset.where('units')} has no "
                                   f"column '{column}'", where=where)
            have = set(units[column].dropna())
            unknown = [v for v in allowed if v not in have]
            if unknown:
                warnings.warn(f"{where}: key '{path}.applies_to.{column}': no unit has {column} "
                              f"{unknown[0]!r} (values in the data: {', '.join(sorted(map(str, have)))})",
                              PerfsimWarning, stacklevel=3)
        if node.source == "satisfaction" and node.groups is None and dataset.defaulted("satisfaction", "respondents"):
            warnings.warn(f"{where}: key '{path}' weighs groups by respondents, but "
                          f"{dataset.where('satisfaction')} has no column 'respondents': groups weigh equally",
                          PerfsimWarning, stacklevel=3)


# --------------------------------------------------------------------------- step 1

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
    from .treat import treat

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


def _rating_input(node: Node, view: YearView) -> np.ndarray:
    """Mean rating per unit (NaN where none) for one rating leaf."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if node.source == "leader_ratings":
            num = den = 0.0
            for weight, r in leader_panels(node, view):
                value = _rater_mean(r, node.trim)
                num = num + weight * np.nan_to_num(value)
                den = den + weight * ~np.isnan(value)
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        if node.source == "satisfaction":
            score, where = view.matrix("sat_score")
            if node.groups is None:
                w, _ = view.matrix("sat_respondents")
            else:
                weights = np.zeros(len(where))
                for group, j in where.items():
                    weights[j] = node.groups.get(group, 0.0)
                w = np.broadcast_to(weights, score.shape)
            w = np.where(np.isnan(score), 0.0, w)
            den = w.sum(axis=1)
            num = (w * np.nan_to_num(score)).sum(axis=1)
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return view.column("special", node.facet)


def _rater_mean(r: np.ndarray, trim: bool) -> np.ndarray:
    """Mean rating per unit (rows) over the raters (columns) that rated it; with ``trim``
    the highest and lowest dropped where at least three rated."""
    count = np.sum(~np.isnan(r), axis=1)
    total = np.nansum(r, axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if not trim:
        return mean
    filled_hi = np.where(np.isnan(r), -np.inf, r).max(axis=1)
    filled_lo = np.where(np.isnan(r), np.inf, r).min(axis=1)
    trimmed = (total - filled_hi - filled_lo) / np.maximum(count - 2, 1)
    return np.where(count >= 3, trimmed, mean)


def leader_panels(node: Node, view: YearView) -> list[tuple[float, np.ndarray]]:
    """The leaf's rater panels as (weight, ratings units x raters after the levers): every
    rating as one panel unless the leaf weighs ``panels``; a unit's panel means are
    combined by these weights over the panels that rated it."""
    r, where = view.matrix("leader")
    if node.panels is None:
        return [(1.0, rater_levers(r, node, view))]
    panel_of = np.array([view.panels.get(k, "leaders") for k in sorted(where, key=where.get)], dtype=object)
    return [(float(w), rater_levers(r[:, panel_of == name], node, view)) for name, w in node.panels.items()
            if w > 0]


#: convert: rank without floor: the lowest-ranked unit gets this share of the full rating
RANK_FLOOR = 0.6


def rater_levers(r: np.ndarray, node: Node, view: YearView) -> np.ndarray:
    """Leader ratings (units x raters) after the leaf's levers: ``adjust`` (each rater's
    ratings centred on the grand mean, or also scaled to the pooled spread, or the
    two-way model's unit effect for every rating) or ``convert`` (each rater's ratings
    turned into ranks within the category, mapped onto [floor x 100, 100], or into tiers)."""
    convert = node.convert or "mean"
    adjust = node.adjust or "none"
    if convert == "mean" and adjust == "none":
        return r
    rated = ~np.isnan(r)
    if convert == "mean":
        grand = np.nanmean(r) if rated.any() else np.nan
        mean = np.nanmean(np.where(rated, r, np.nan), axis=0)
        if adjust == "centre":
            return r - mean[None, :] + grand
        if adjust == "standardise":
            sd = np.nanstd(r, axis=0, ddof=1)
            pooled = np.sqrt(np.nanmean(sd ** 2))
            with np.errstate(invalid="ignore", divide="ignore"):
                scaled = np.where(sd[None, :] > 0, (r - mean[None, :]) / sd[None, :] * pooled, 0.0)
            return np.where(rated, grand + scaled, np.nan)
        effect = rules.two_way_unit_effect(r)
        return np.where(rated, effect[:, None], np.nan)
    groups = (view.units["category"].to_numpy() if (node.within or "category") == "category"
              else np.zeros(len(r), dtype=object))
    out = np.full_like(r, np.nan)
    for g in pd.unique(groups):
        on = groups == g
        if convert == "rank":
            floor = node.floor if node.floor is not None else RANK_FLOOR
            out[on] = 100.0 * (floor + (1.0 - floor) * rules.rank_share(r[on]))
        else:
            out[on] = rules.tier_ratings(r[on], node.tiers)
    return out


# --------------------------------------------------------------------------- step 2

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


# --------------------------------------------------------------------------- step 3

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


def _quota_table(g, groups: np.ndarray, max_rank: int) -> np.ndarray:
    """Quota grading as a table: the grade index of each unit at each rank 1..max_rank
    (units x max_rank). The first grades go to the best ranks, each taking its share of
    the group's size (rounded as the scheme says), the second to last grade to the rest."""
    size = np.bincount(groups)[groups].astype(float)
    round_ = {"floor": np.floor, "round": lambda v: np.floor(v + 0.5), "ceil": np.ceil}[g.rounding]
    ranks_ = np.arange(1, max_rank + 1)[None, :]
    table = np.full((len(groups), max_rank), len(g.grades) - 2, dtype=np.int64)
    cumulative = np.zeros(len(groups))
    assigned = np.zeros(table.shape, dtype=bool)
    for k, name in enumerate(g.grades[:-2]):
        # round to 9 places first so that 0.2 * 5 counts as 1 under floor and ceil alike
        cumulative = cumulative + round_(np.round((g.quota or {}).get(name, 0.0) * size, 9))
        hit = ~assigned & (ranks_ <= cumulative[:, None])
        table[hit] = k
        assigned |= hit
    return table


def grade_index(scheme: Scheme, total: np.ndarray, rank: np.ndarray, groups: np.ndarray,
                veto: np.ndarray) -> np.ndarray:
    """Index into ``scheme.grading.grades`` per unit; works on (units,) or (draws, units).

    By quota: within each ranking group the first grades go to the best ranks, each grade
    taking its share of the group's size (rounded as the scheme says; ties at the edge
    share the better grade), the second to last grade to the rest, the last grade below
    ``floor``. By thresholds: the best grade whose minimum total is reached. A veto gives
    the last grade whatever the total.
    """
    g = scheme.grading
    if g is None:
        return np.zeros(np.shape(total), dtype=np.int64)
    names = g.grades
    if g.method == "quota":
        rank = np.asarray(rank)
        table = _quota_table(g, groups, int(rank.max(initial=1)))
        out = table[np.arange(len(groups)), rank - 1]
        if g.floor is not None:
            out[total < g.floor] = len(names) - 1
    else:
        out = np.full(np.shape(total), len(names) - 1, dtype=np.int64)
        for k in reversed(range(len(names) - 1)):
            th = (g.thresholds or {}).get(names[k])
            if th is not None:
                out[total >= th] = k
    out[..., veto] = len(names) - 1
    return out


def grade_counts(scheme: Scheme, total: np.ndarray, rank: np.ndarray, rank_hist: np.ndarray,
                 groups: np.ndarray, veto: np.ndarray) -> np.ndarray:
    """How many of the draws give each unit each grade (units x grades): the same as
    counting :func:`grade_index` over the draws (``total``, ``rank``: draws x units), but
    quota grades are read off the rank histogram (``rank_hist``: units x ranks) and only
    the draws below the floor are visited one by one."""
    g = scheme.grading
    draws = total.shape[0]
    if g is None:
        return np.full((len(groups), 1), draws, dtype=np.int64)
    K = len(g.grades)
    if g.method == "quota":
        table = _quota_table(g, groups, rank_hist.shape[1])
        counts = np.stack([(rank_hist * (table == k)).sum(axis=1) for k in range(K)], axis=1)
        if g.floor is not None:
            low = np.flatnonzero(total.min(axis=0) < g.floor)     # units ever below the floor
            u, d = np.nonzero((total[:, low] < g.floor).T)
            u = low[u]
            np.add.at(counts, (u, table[u, rank[d, u] - 1]), -1)
            np.add.at(counts, (u, np.full(len(u), K - 1)), 1)
    else:
        index = grade_index(scheme, total, rank, groups, np.zeros(len(groups), dtype=bool))
        unit = np.arange(len(groups))[None, :]
        counts = np.bincount((unit * K + index).ravel(order="K"), minlength=len(groups) * K).reshape(-1, K)
    counts[veto] = 0
    counts[veto, K - 1] = draws
    return counts


MISSING_COLUMNS = ("year", "unit_id", "name", "category", "indicator_id", "path", "rule", "value",
                   "score", "note")


def missing_table(scheme: Scheme, inputs: Inputs, s_leaf: np.ndarray) -> pd.DataFrame:
    """Every cell where a unit is assessed on an indicator but has no actual, and what the
    scheme's ``missing`` rule did with it: ``rule`` (zero, exclude, impute:METHOD),
    ``value`` (the actual used: an imputed one, else empty), ``score`` (the fraction of
    full marks the leaf gave; empty when excluded) and a ``note`` for cells that could not
    be imputed."""
    if inputs.missing is None or not inputs.missing.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MISSING_COLUMNS})
    tree = Tree.of(scheme)
    u, j = np.nonzero(inputs.missing)
    codes = inputs.missing[u, j]
    policies = np.array(inputs.policies, dtype=object)[j]
    rule = np.where(codes == NOT_IMPUTABLE, "exclude", np.where(codes == ABSENT, "absent", policies))
    note = np.where(codes == NOT_IMPUTABLE,
                    np.char.add("no value to impute by ", np.array([p.split(":", 1)[-1] for p in policies])), "")
    sources = np.array([tree.leaf_source(tree.leaves[k]) for k in j], dtype=object)
    note = np.where(codes == ABSENT, np.char.add(np.char.add("no rows in table ", sources.astype(str)),
                                                 f" for {inputs.year}: the extra component adds 0"), note)
    value = np.where(codes == IMPUTED_VALUE, inputs.x[u, j], np.nan)
    score = np.where((codes == EXCLUDED) | (codes == NOT_IMPUTABLE) | (codes == ABSENT), np.nan, s_leaf[u, j])
    units = inputs.units
    table = pd.DataFrame({
        "year": inputs.year, "unit_id": units["unit_id"].to_numpy()[u], "name": units["name"].to_numpy()[u],
        "category": units["category"].to_numpy()[u],
        "indicator_id": [tree.indicator_of(tree.leaves[k]) for k in j],
        "path": [tree.paths[tree.leaves[k]] for k in j], "rule": rule, "value": value, "score": score,
        "note": note})
    return table.sort_values(["unit_id", "path"], kind="stable").reset_index(drop=True)


def missing_summary(table: pd.DataFrame) -> str:
    """'3 scored 0 (zero), 1 excluded, 2 imputed by category_median' from :func:`missing_table`."""
    parts = []
    for rule, count in table["rule"].value_counts(sort=False).sort_index().items():
        if rule == "absent":
            parts.append(f"{count} without data (no table: an extra component adds 0)")
        elif rule == "zero":
            parts.append(f"{count} scored 0 (missing: zero)")
        elif rule == "exclude":
            parts.append(f"{count} excluded, weights re-normalised (missing: exclude)")
        else:
            parts.append(f"{count} imputed by {rule.split(':', 1)[1]}")
    return ", ".join(parts)


def units_without_data(scheme: Scheme, inputs: Inputs) -> np.ndarray:
    """Units none of whose normal components has any input of their own (they score 0)."""
    tree = Tree.of(scheme)
    normal = np.zeros(len(tree.leaves), dtype=bool)
    for j, i in enumerate(tree.leaves):
        k = i
        while tree.parent[k] > 0:
            k = tree.parent[k]
        normal[j] = not tree.nodes[k].extra
    own = inputs.present & ((inputs.missing == NOT_MISSING) if inputs.missing is not None else True)
    return ~own[:, normal].any(axis=1)


def warn_missing(scheme: Scheme, inputs: Inputs, dataset: Dataset, table: pd.DataFrame) -> None:
    """Say (a :class:`PerfsimWarning`) how many missing actuals each rule touched, and
    which units have no data at all."""
    import warnings

    from .errors import PerfsimWarning

    ids = inputs.units["unit_id"].to_numpy()
    absent = table[table["rule"] == "absent"] if len(table) else table
    if len(absent):
        tree = Tree.of(scheme)
        for source, rows in absent.groupby(absent["note"].str.split().str[4], sort=True):
            tops = sorted({".".join(p.split(".")[:2]) for p in rows["path"]})
            labels = []
            for top in tops:
                node = tree.nodes[tree.paths.index(top)]
                labels.append(f"'{top.split('.', 1)[-1]}'" + (f" ({node.label})" if getattr(node, "label", None) else ""))
            warnings.warn(f"table '{source}' has no rows for year {inputs.year} in {dataset.where(source)}: "
                          f"component {', '.join(labels)} adds 0 points for {rows['unit_id'].nunique()} unit(s) "
                          "(an extra component without data; every cell in missing.csv)", PerfsimWarning, stacklevel=3)
    table = table[table["rule"] != "absent"] if len(table) else table
    if len(table):
        first = table.iloc[0]
        warnings.warn(f"{len(table)} assessed cell(s) in year {inputs.year} have no actual in "
                      f"{dataset.where('actuals')}: {missing_summary(table)} (first: unit {first['unit_id']}, "
                      f"indicator {first['indicator_id']}; every cell in missing.csv)",
                      PerfsimWarning, stacklevel=3)
    empty = units_without_data(scheme, inputs)
    if empty.any():
        shown = ", ".join(ids[empty][:10]) + (" ..." if empty.sum() > 10 else "")
        warnings.warn(f"{int(empty.sum())} unit(s) have no data at all in year {inputs.year} and score 0, "
                      f"ranked last with the lowest grade: {shown}", PerfsimWarning, stacklevel=3)
    for j, result in inputs.treated.items():
        if result.method != "none":
            tree = Tree.of(scheme)
            path = tree.paths[tree.leaves[j]]
            what = (f"{result.points} value(s) winsorised" if result.method == "winsorise"
                    else "log-transformed")
            warnings.warn(f"key '{path}.treat': skewness {result.skew_before:.2f}, kurtosis "
                          f"{result.kurtosis_before:.2f} in year {inputs.year}: {what} (now "
                          f"{result.skew_after:.2f}, {result.kurtosis_after:.2f})", PerfsimWarning, stacklevel=3)


def treated_table(scheme: Scheme, inputs: Inputs) -> pd.DataFrame:
    """One row per leaf with ``treat``: method applied, points, skewness and kurtosis."""
    tree = Tree.of(scheme)
    rows = [{"year": inputs.year, "path": tree.paths[tree.leaves[j]],
             "indicator_id": tree.indicator_of(tree.leaves[j]), "method": r.method, "points": r.points,
             "skew_before": r.skew_before, "kurtosis_before": r.kurtosis_before,
             "skew_after": r.skew_after, "kurtosis_after": r.kurtosis_after}
            for j, r in inputs.treated.items()]
    return pd.DataFrame(rows, columns=["year", "path", "indicator_id", "method", "points", "skew_before",
                                       "kurtosis_before", "skew_after", "kurtosis_after"])


@dataclass(frozen=True)
class Scored:
    """What :func:`score_arrays` computes, as arrays over the units sorted by unit_id."""

    inputs: Inputs
    node_score: np.ndarray      # units x nodes, fraction of full marks
    node_points: np.ndarray     # units x nodes, points earned
    node_held: np.ndarray       # units x nodes, points at stake
    total: np.ndarray
    rank: np.ndarray
    grade: np.ndarray           # index into the scheme's grades
    bonus: np.ndarray
    deduction: np.ndarray
    veto: np.ndarray


def score_arrays(scheme: Scheme, dataset: Dataset, year: int) -> Scored:
    """Score every unit of one year as arrays, without checking the fit (see
    :func:`check_fit`) or building tables: the inner loop of ensembles and calibration.

    With ``assessment:`` the total is the weighted mean of the assessed months' totals
    (each month scored by :func:`perfsim.core.periods.period_dataset`), ranked and graded
    again; the node arrays are December's (the year-end assessment)."""
    if scheme.assessment is not None:
        return _assessed(scheme, dataset, year)
    inputs = leaf_inputs(scheme, dataset, year)
    s_leaf = leaf_scores(scheme, inputs)
    node_score, node_points, node_held = aggregate_tree(scheme, s_leaf, inputs.present,
                                                        inputs.units["unit_id"].to_numpy())
    bonus, deduction, veto = adjustments(scheme, dataset, year)
    tree = Tree.of(scheme)
    total = node_points[:, 0] + bonus - deduction
    for c in tree.children[0]:
        if tree.nodes[c].extra:
            total = total + node_points[:, c]
    if scheme.ranking.round is not None:
        total = np.round(total, scheme.ranking.round)
    rank = rules.competition_rank(total, inputs.groups)
    return Scored(inputs, node_score, node_points, node_held, total, rank,
                  grade_index(scheme, total, rank, inputs.groups, veto), bonus, deduction, veto)


def period_totals(scheme: Scheme, dataset: Dataset, year: int) -> dict[int, np.ndarray]:
    """Each assessed month's totals (units sorted by id) under ``scheme``'s assessment."""
    from .periods import load_seasons, period_dataset

    plain = scheme.model_copy(update={"assessment": None})
    seasons = load_seasons()
    out = {}
    for month in sorted(scheme.assessment.weights):
        period = f"{year}-{month:02d}"
        if not (dataset.actuals["period"] == period).any():
            raise PerfsimError(f"key 'assessment.weights.{month}': the data have no actuals for {period}, so that "
                               f"month cannot be assessed", where=dataset.where("actuals"))
        if month == 12:
            out[month] = score_arrays(plain, dataset, year).total
            continue
        with warnings.catch_warnings():     # indicators not reported by then are expected, not missing
            warnings.simplefilter("ignore", PerfsimWarning)
            out[month] = score_arrays(plain, period_dataset(dataset, period, seasons), year).total
    return out


def _assessed(scheme: Scheme, dataset: Dataset, year: int) -> Scored:
    plain = scheme.model_copy(update={"assessment": None})
    end = score_arrays(plain, dataset, year)
    weights = scheme.assessment.weights
    totals = period_totals(scheme, dataset, year)
    total = sum(weights[m] * totals[m] for m in totals) / sum(weights.values())
    if scheme.ranking.round is not None:
        total = np.round(total, scheme.ranking.round)
    rank = rules.competition_rank(total, end.inputs.groups)
    return Scored(end.inputs, end.node_score, end.node_points, end.node_held, total, rank,
                  grade_index(scheme, total, rank, end.inputs.groups, end.veto), end.bonus, end.deduction, end.veto)


def score_detail(scheme: Scheme | Resolved, dataset: Dataset, year: int | None = None) -> Result:
    """Score every unit; the result table plus the score and points of every node."""
    scheme_obj, where = _scheme(scheme)
    year = check_fit(scheme, dataset, year)
    try:
        s = score_arrays(scheme_obj, dataset, year)
    except PerfsimError as exc:          # name the scheme file where the array code could not
        if exc.where is not None:
            raise
        raise PerfsimError(exc.detail, where=where) from None
    s_leaf = s.node_score[:, list(Tree.of(scheme_obj).leaves)]
    missing = missing_table(scheme_obj, s.inputs, s_leaf)
    warn_missing(scheme_obj, s.inputs, dataset, missing)
    units = s.inputs.units
    ids = pd.Index(units["unit_id"])
    tree = Tree.of(scheme_obj)
    names = np.array(scheme_obj.grading.grades, dtype=object) if scheme_obj.grading else None
    table = pd.DataFrame({
        "unit_id": units["unit_id"], "name": units["name"], "category": units["category"],
        "total": s.total, "rank": s.rank,
        "grade": names[s.grade] if names is not None else np.full(len(ids), "", dtype=object),
    })
    for c in tree.children[0]:
        table[tree.paths[c].split(".", 1)[1]] = s.node_points[:, c]
    if tree.nodes[0].aggregate == "geometric" and len(tree.children[0]) > 1:
        import warnings

        from .errors import PerfsimWarning

        warnings.warn(f"the root of {where} aggregates by a weighted geometric mean: each component column is "
                      "the component's score times its points (what it would add under an arithmetic mean), so "
                      "the columns do not add up to the total; the total is the root's points times the weighted "
                      "geometric mean of the component scores. Read the columns as levels, not as shares of the "
                      "total", PerfsimWarning, stacklevel=2)
    table["bonus"], table["deduction"], table["veto"] = s.bonus, s.deduction, s.veto
    if scheme_obj.assessment is not None:          # each assessed month's total beside the year's
        for month, totals in period_totals(scheme_obj, dataset, year).items():
            table[f"total_{month:02d}"] = totals
    table = table.sort_values(["category", "rank", "unit_id"], kind="stable").reset_index(drop=True)
    columns = list(tree.paths)
    scores = pd.DataFrame(s.node_score, index=ids, columns=columns)
    points = pd.DataFrame(s.node_points, index=ids, columns=columns)
    held = pd.DataFrame(s.node_held, index=ids, columns=columns)
    return Result(table=table, node_scores=scores, node_points=points, node_held=held, year=year,
                  missing=missing, treated=treated_table(scheme_obj, s.inputs))


def unit_type(units: pd.DataFrame) -> pd.Series:
    """'central district', 'outer district', or the category, per unit (indexed by unit_id)."""
    kind = units["district_type"].fillna("").map(lambda t: f"{t} district" if t else "")
    return pd.Series(kind.where(kind != "", units["category"]).to_numpy(), index=units["unit_id"].to_numpy())


def effective_weights(result: Result, dataset: Dataset, leaves_only: bool = True) -> pd.DataFrame:
    """Mean points at stake per node (rows) and unit type (columns)."""
    held = result.node_held
    if leaves_only:
        paths = [p for p in held.columns if not any(q.startswith(p + ".") for q in held.columns)]
        held = held[paths]
    types = unit_type(dataset.units).reindex(held.index)
    return held.groupby(types.to_numpy()).mean().T


#: the share of a unit's points one indicator may carry before it is flagged (少而精 with
#: 突出主要职能 asks for a few weighty indicators, not one that decides the total)
MAX_SHARE = 0.25


def concentration(result: Result, dataset: Dataset, max_share: float = MAX_SHARE) -> pd.DataFrame:
    """Per unit type and leaf, the share of the units' points the leaf carries after
    re-normalisation (``applies_to`` and missing data move weight to the leaves that stay):
    ``unit_type, path, units, mean_points, share, max_share, flagged`` (share: the mean over
    the type's units of the leaf's points at stake over the root's; max_share: the largest
    for any one unit; flagged: max_share above ``max_share``). Sorted by share, largest first."""
    if not 0 < max_share <= 1:
        raise PerfsimError(f"the largest share of a unit's points must be above 0 and at most 1 (got {max_share})")
    held = result.node_held
    columns = list(held.columns)
    leaves = [p for p in columns if not any(q.startswith(p + ".") for q in columns)]
    root = held[columns[0]].replace(0, np.nan)
    share = held[leaves].div(root, axis=0)
    types = unit_type(dataset.units).reindex(held.index).to_numpy()
    frames = []
    for kind, rows in share.groupby(types):
        points = held.loc[rows.index, leaves]
        frames.append(pd.DataFrame({"unit_type": kind, "path": leaves, "units": len(rows),
                                    "mean_points": points.mean().to_numpy(), "share": rows.mean().to_numpy(),
                                    "max_share": rows.max().to_numpy()}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["unit_type", "path", "units", "mean_points", "share", "max_share"])
    table = table[table["mean_points"] > 0]
    table["flagged"] = table["max_share"] > max_share + 1e-12
    return table.sort_values(["share", "unit_type"], ascending=[False, True], kind="stable").reset_index(drop=True)


def warn_concentration(table: pd.DataFrame, max_share: float = MAX_SHARE) -> None:
    """Say (a :class:`PerfsimWarning`) which leaves carry more than ``max_share`` of a unit's points."""
    import warnings

    from .errors import PerfsimWarning

    flagged = table[table["flagged"]]
    if len(flagged):
        shown = "; ".join(f"{r.path.split('.')[-1]} carries {r.max_share:.1%} of the points of {r.unit_type} units "
                          f"(mean {r.mean_points:.1f} points)" for r in flagged.head(5).itertuples())
        warnings.warn(f"{len(flagged)} indicator(s) carry more than {max_share:.0%} of a unit's points after "
                      f"re-normalisation: {shown}{' ...' if len(flagged) > 5 else ''}", PerfsimWarning, stacklevel=3)


def score(scheme: Scheme | Resolved, dataset: Dataset, year: int | None = None) -> pd.DataFrame:
    """Score every unit: ``unit_id, name, category, total, rank, grade``, one column of
    points per top-level component, then ``bonus, deduction, veto``; sorted by category
    and rank."""
    return score_detail(scheme, dataset, year).table


def component_columns(scheme: Scheme | Resolved) -> list[str]:
    scheme_obj, _ = _scheme(scheme)
    return list((scheme_obj.tree.children or {}).keys())


__all__: Sequence[str] = ("score", "score_detail", "check_fit", "leaf_inputs", "leaf_scores",
                          "aggregate_tree", "Tree", "Inputs", "Result")
