"""The entry points: :func:`score_arrays` (arrays), :func:`score_detail` (tables),
:func:`score` (the result table), with the periodic assessment and effective weights."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import rules
from ..contract import Dataset
from ..errors import PerfsimError, PerfsimWarning
from ..scheme import Resolved, Scheme
from .aggregate import adjustments, aggregate_tree, leaf_scores
from .fit import check_fit
from .grading import grade_index
from .inputs import leaf_inputs
from .missing import missing_table, treated_table, warn_missing
from .tree import Inputs, Result, Tree, _scheme


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
    from ..periods import load_seasons, period_dataset

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

        from ..errors import PerfsimWarning

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

    from ..errors import PerfsimWarning

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
