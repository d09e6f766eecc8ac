"""What the engine did with every missing actual, said where the user sees it (the missing
table, its summary, the warnings)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..contract import Dataset
from ..scheme import Scheme
from .tree import ABSENT, EXCLUDED, IMPUTED_VALUE, Inputs, NOT_IMPUTABLE, NOT_MISSING, Tree


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

    from ..errors import PerfsimWarning

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
