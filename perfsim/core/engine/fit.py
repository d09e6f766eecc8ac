"""Whether a scheme fits a dataset (:func:`check_fit`, what ``perfsim validate --data`` runs):
every error at once, naming the file, row and key."""

from __future__ import annotations

import warnings

import numpy as np

from ..contract import Dataset
from ..errors import PerfsimError, PerfsimWarning
from ..scheme import DATA_SCALED, TARGET_RULES, Resolved, Scheme, iter_nodes
from .credit import _check_responsibilities, cascade_gaps
from .tree import Tree, _applies, _scheme
from .year import recut_categories, resolve_year, year_view


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

    from ..errors import PerfsimWarning

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
