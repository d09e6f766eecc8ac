"""What the scenario explorer computes, as pure functions (the web app in
:mod:`perfsim.runners.explorer` only draws them).

A *setting* is a scenario diff held as data: an ordered list of reallocations (component,
points, where the freed points go) and a mapping of ``set`` paths to values, exactly the
``reallocate:`` and ``set:`` of a scenario file. It is resolved against the base by
:func:`perfsim.core.scheme.resolve_diff`, the code that loads scenario files, so a setting
the explorer accepts is one ``perfsim validate`` accepts, refused with the same message
otherwise, and :func:`scenario_yaml` writes it as the file ``perfsim batch`` runs.

:func:`view` scores a setting and compares it with the base: the ranking with rank and grade
changes, winners and losers by unit type (central and outer districts, then the department
categories), the grade transition matrix and the largest movers. :func:`unit_split` splits one
unit's move by component (Shapley values, :func:`perfsim.analyses.attribution.attribute`).
:func:`rank_reach` finds the best and the worst rank one unit can reach when the points of the
top-level components may each move within a band around the setting's (the total kept), as a
mixed-integer programme (:func:`scipy.optimize.milp`), and checks both ends with the engine.
:func:`verdict_worlds` simulates a setting on posterior draws of the reference table's worlds
and :func:`verdict_summary` turns the effects into the verdict over the worlds a city's data
allow (the explorer runs the first in chunks in its background worker).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.engine import score_detail, unit_type
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, resolve_diff
from .attribution import attribute
from .compare import rank_shifts

#: how many movers the slope chart shows
MOVERS = 12


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Setting:
    """A scenario diff as data: ``reallocate`` (component, points, to) in order and ``set``
    (dotted path -> value, as in a scenario file). Immutable: every change makes a new one."""

    reallocate: tuple[tuple[str, float, str], ...] = ()
    set: tuple[tuple[str, Any], ...] = ()

    @property
    def changes(self) -> dict[str, Any]:
        return dict(self.set)

    def is_base(self) -> bool:
        return not self.reallocate and not self.set

    def with_points(self, component: str, points: float, to: str) -> "Setting":
        """The component holds ``points``, the difference going as ``to`` says. A repeated move
        of the component last moved, with the same rule, replaces that move."""
        ops = list(self.reallocate)
        if ops and ops[-1][0] == component and ops[-1][2] == to:
            ops.pop()
        ops.append((component, float(points), to))
        return Setting(tuple(ops), self.set)

    def with_set(self, path: str, value: Any) -> "Setting":
        """``set: {path: value}``; ``value`` None drops the path (back to the base's value)."""
        changes = dict(self.set)
        changes.pop(path, None)
        if value is not None:
            changes[path] = value
        return Setting(self.reallocate, tuple(changes.items()))

    def diff(self, name: str, base: str, description: str | None = None) -> dict[str, Any]:
        """The scenario file's content (what :func:`scenario_yaml` writes)."""
        out: dict[str, Any] = {"name": name}
        if description:
            out["description"] = description
        out["base"] = base
        if self.reallocate:
            out["reallocate"] = [{"component": c, "points": _plain(p), "to": t} for c, p, t in self.reallocate]
        if self.set:
            out["set"] = {k: _plain(v) for k, v in self.set}
        return out

    def key(self) -> str:
        """A short hash of the setting (what results are cached by)."""
        text = json.dumps([self.reallocate, self.set], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    """Numbers as YAML writes them back (5.0 -> 5), containers recursively."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def setting_of(scenario: Resolved) -> Setting:
    """The setting of a loaded scenario (its outermost diff). A scenario that removes nodes
    cannot be shown on the explorer's controls and is refused."""
    diff = scenario.diff
    if diff.get("remove"):
        raise PerfsimError(f"scenario '{scenario.name}' removes {', '.join(diff['remove'])}: the explorer "
                           "shows reallocations and set values only", where=scenario.path)
    ops = tuple((op["component"], float(op["points"]), op.get("to", "proportional"))
                for op in diff.get("reallocate", []))
    return Setting(ops, tuple(diff.get("set", {}).items()))


def resolve(base: Resolved, setting: Setting, name: str = "explored") -> Resolved:
    """The scheme of ``setting`` over ``base`` (validated whole, as a scenario file is)."""
    return resolve_diff(base, setting.diff(name, base.path.name), where=f"setting '{name}'")


def scenario_yaml(base: Resolved, setting: Setting, name: str, base_ref: str,
                  description: str | None = None) -> str:
    """The setting as a scenario file whose ``base:`` is ``base_ref`` (a path relative to where
    the file is written); :func:`perfsim.runners.explorer.save_scenario` writes it and checks that
    the file resolves to the same scheme as the setting."""
    import yaml

    diff = setting.diff(name, base_ref, description)
    return ("# written by perfsim explore: a scenario diff over "
            f"{base.path.name} (check it with perfsim validate, run it with perfsim batch)\n"
            + yaml.safe_dump(diff, allow_unicode=True, sort_keys=False))


# --------------------------------------------------------------------------- the view

@dataclass(frozen=True)
class View:
    """Everything the explorer shows for one setting."""

    scheme: Resolved
    table: pd.DataFrame            # the ranking: unit, category, total, rank, grade, base and changes
    groups: pd.DataFrame           # winners and losers by unit type
    transitions: pd.DataFrame      # grade transition counts (rows: base grade, columns: setting's)
    movers: pd.DataFrame           # the largest rank movers
    scored: pd.DataFrame           # the engine's result table (score's columns)
    facts: dict[str, Any] = field(default_factory=dict)


def winners_losers(shifts: pd.DataFrame, groups: pd.Series, grades: Sequence[str]) -> pd.DataFrame:
    """Per group (``groups``: unit id -> group, as :func:`perfsim.core.engine.unit_type` gives:
    central district, outer district or the category): units, mean change of total, units up
    and down in rank, units up and down a grade (``grades`` best first). Rows: districts first, then the categories, each by name."""
    order = {g: i for i, g in enumerate(grades)}
    group = groups.reindex(shifts["unit_id"]).to_numpy()
    names = sorted(set(group), key=lambda g: (0 if str(g).endswith("district") else 1, str(g)))
    code = pd.Index(names).get_indexer(group)
    gb = shifts["grade_base"].map(order).to_numpy(dtype=float)
    gs = shifts["grade_scenario"].map(order).to_numpy(dtype=float)
    shift = shifts["shift"].to_numpy()
    change = (shifts["total_scenario"] - shifts["total_base"]).to_numpy(dtype=float)
    k = len(names)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(code, weights=mask.astype(float), minlength=k).astype(int)

    units = np.bincount(code, minlength=k)
    return pd.DataFrame({"group": names, "units": units,
                         "mean_total_change": np.bincount(code, weights=change, minlength=k) / np.maximum(units, 1),
                         "rank_up": count(shift < 0), "rank_down": count(shift > 0),
                         "grade_up": count(gs < gb), "grade_down": count(gs > gb)})


def grade_transitions(shifts: pd.DataFrame, grades: Sequence[str]) -> pd.DataFrame:
    """Counts of units by base grade (rows) and the setting's grade (columns), best first."""
    index = pd.Index(list(grades))
    a, b = index.get_indexer(shifts["grade_base"]), index.get_indexer(shifts["grade_scenario"])
    ok = (a >= 0) & (b >= 0)
    k = len(index)
    counts = np.bincount(a[ok] * k + b[ok], minlength=k * k).reshape(k, k)
    table = pd.DataFrame(counts, index=pd.Index(index, name="grade_base"),
                         columns=pd.Index(index, name="grade_scenario"))
    return table


def view(base_table: pd.DataFrame, scheme: Resolved, dataset, year: int | None = None,
         movers: int = MOVERS) -> View:
    """Score ``scheme`` and compare it with ``base_table`` (the base's :func:`perfsim.score`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PerfsimWarning)
        scored = score_detail(scheme, dataset, year).table
    shifts = rank_shifts(base_table, scored)
    grades = list(scheme.scheme.grading.grades) if scheme.scheme.grading else []
    order = {g: i for i, g in enumerate(grades)}
    table = shifts.assign(total_change=shifts["total_scenario"] - shifts["total_base"],
                          grade_change=shifts["grade_base"].map(order) - shifts["grade_scenario"].map(order))
    groups = winners_losers(shifts, unit_type(dataset.units), grades)
    moved = table[table["shift"] != 0]
    top = moved.reindex(moved["shift"].abs().sort_values(ascending=False, kind="stable").index).head(movers)
    facts = {"units": int(len(table)), "moved": int(len(moved)),
             "grade_changes": int((table["grade_change"] != 0).sum()),
             "warnings": sorted({str(w.message) for w in caught})}
    return View(scheme, table.reset_index(drop=True), groups, grade_transitions(shifts, grades),
                top.reset_index(drop=True), scored, facts)


def unit_split(base_table: pd.DataFrame, view_: View, unit: str) -> pd.DataFrame:
    """One unit's move split by part: ``part, total_change, shapley`` (rank change), with a last
    row ``recut`` for a change of categories or rounding. ``shapley`` adds up to the shift."""
    scheme = view_.scheme.scheme
    components = list((scheme.tree.children or {}).keys())
    decimals = scheme.ranking.round if scheme.ranking is not None else None
    split = attribute(base_table, view_.scored, components, decimals)
    row = split[split["unit_id"] == unit]
    if row.empty:
        raise PerfsimError(f"unit '{unit}' is not in the dataset")
    row = row.iloc[0]
    parts = [c[len("delta_"):] for c in split.columns if c.startswith("delta_")]
    out = pd.DataFrame({"part": parts,
                        "total_change": [float(row[f"delta_{p}"]) for p in parts],
                        "shapley": [float(row.get(f"shapley_{p}", 0.0)) for p in parts]})
    out.loc[len(out)] = ["recut", 0.0, float(row["recut"])]
    return out


# --------------------------------------------------------------------------- beyond the anchors

def rank_reach(scheme: Resolved, dataset, unit: str, band: float = 0.2, year: int | None = None,
               ) -> pd.DataFrame:
    """The best and the worst rank ``unit`` can reach within its category when the points of
    each top-level component (not the extras) may move by at most ``band`` (a share of its
    points) and their total stays. Rows ``best`` and ``worst``: ``rank`` (the programme's),
    ``rank_engine`` (the engine's rank with those points: the answer), the points per component.

    A unit's total is linear in the component points, sum_c p_c s_ic + e_i (s_ic its score
    share of component c, e_i its extras, bonus and deductions), so the best rank is a
    mixed-integer programme: minimise the number of peers j with a binary y_j and
    total_j - total_u <= M y_j; the worst maximises the peers with total_j >= total_u + 0.01
    (the ranking rounds to 0.01). Solved with scipy.optimize.milp (HiGHS)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    if not 0 <= band < 1:
        raise PerfsimError(f"the band must lie in [0, 1) (a share of each component's points; got {band})")
    tree = scheme.scheme.tree
    comps = [k for k, c in (tree.children or {}).items() if not c.extra and c.points is not None]
    if tree.aggregate != "arithmetic" or len(comps) < 2:
        raise PerfsimError("rank_reach needs a root that adds at least two components with points")
    detail = score_detail(scheme, dataset, year)
    table = detail.table.set_index("unit_id")
    if unit not in table.index:
        raise PerfsimError(f"unit '{unit}' is not in the dataset")
    p0 = np.array([float(tree.children[c].points) for c in comps])
    pts = table[comps].to_numpy(dtype=float)
    share = np.divide(pts, p0, out=np.zeros_like(pts), where=p0 > 0)    # s_ic
    extras = table["total"].to_numpy(dtype=float) - pts.sum(axis=1)      # e_i: specials, bonus, deductions
    cat = table["category"].to_numpy()
    u = table.index.get_loc(unit)
    peers = np.flatnonzero((cat == cat[u]) & (np.arange(len(cat)) != u))
    lo, hi = p0 * (1 - band), p0 * (1 + band)
    k, n = len(comps), len(peers)
    d = share[peers] - share[u]                     # total_j - total_u = d @ p + (e_j - e_u)
    de = extras[peers] - extras[u]
    big = float(np.abs(d).sum(axis=1).max() * hi.max() + np.abs(de).max() + 1.0) if n else 1.0
    rows = []
    for end in ("best", "worst"):
        if n == 0:
            rows.append({"end": end, "rank": 1, "points": p0})
            continue
        c = np.concatenate([np.zeros(k), np.ones(n) * (1.0 if end == "best" else -1.0)])
        a_sum = np.concatenate([np.ones(k), np.zeros(n)])[None, :]
        if end == "best":        # d p + de - M y <= 0
            a = np.hstack([d, -big * np.eye(n)])
            cons = [LinearConstraint(a, -np.inf, -de), LinearConstraint(a_sum, p0.sum(), p0.sum())]
        else:                    # d p + de >= 0.01 - M (1 - z)  <=>  d p - M z >= 0.01 - M - de
            a = np.hstack([d, -big * np.eye(n)])
            cons = [LinearConstraint(a, 0.01 - big - de, np.inf), LinearConstraint(a_sum, p0.sum(), p0.sum())]
        res = milp(c, constraints=cons, integrality=np.concatenate([np.zeros(k), np.ones(n)]),
                   bounds=Bounds(np.concatenate([lo, np.zeros(n)]), np.concatenate([hi, np.ones(n)])))
        if not res.success:
            raise PerfsimError(f"the rank programme found no solution ({res.message})")
        count = int(round(res.x[k:].sum()))
        rows.append({"end": end, "rank": 1 + count, "points": res.x[:k]})
    out = []
    for row in rows:
        points = np.round(row["points"], 4)
        points[-1] = p0.sum() - points[:-1].sum()        # exactly the same total
        setting = Setting(set=tuple((f"tree.{c}.points", float(v)) for c, v in zip(comps, points)))
        check = score_detail(resolve(scheme, setting, "reach"), dataset, year).table.set_index("unit_id")
        out.append({"end": row["end"], "rank": row["rank"], "rank_engine": int(check.loc[unit, "rank"]),
                    **{f"points:{c}": float(v) for c, v in zip(comps, points)}})
    frame = pd.DataFrame(out)
    frame.insert(1, "rank_now", int(table.loc[unit, "rank"]))
    frame.insert(2, "peers", int(n + 1))
    return frame


# --------------------------------------------------------------------------- how sure

def verdict_worlds(base: Resolved, scheme: Resolved, params: Mapping[str, Any], names: Sequence[str],
                   draws: np.ndarray, indices: Sequence[int], seed: int = 0) -> list[tuple[int, float]]:
    """(index, effect) for the posterior draws ``indices``: each world simulated afresh with the
    draw's settings and both schemes scored against its truth (delta tau to the truth). A draw
    the generator cannot make a valid world of is left out."""
    from .inference import world_row, world_seed

    out = []
    for i in indices:
        row = world_row(base, {"setting": scheme}, params, names, draws[i], world_seed(seed + 7, int(i)),
                        moments=False)
        if not row["error"]:
            out.append((int(i), float(row["effect:setting"])))
    return out


def verdict_summary(draws: np.ndarray, names: Sequence[str], effects: Sequence[tuple[int, float]], asked: int,
                    labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The verdict from :func:`verdict_worlds`: the effect's median and 90 % interval, P(helps),
    P(hurts), the verdict (P >= 0.95 for a sign, else undetermined), the Monte Carlo standard
    error of P(helps), and the three assumptions with the largest first-order share of the
    effect's variance over the worlds."""
    from .inference import _first_order, verdict_of

    if not effects:
        raise PerfsimError("no posterior world could be simulated")
    kept = np.array([i for i, _ in effects])
    psi = np.array([e for _, e in effects])
    x = draws[kept]
    q05, q50, q95 = np.quantile(psi, [0.05, 0.5, 0.95])
    helps, hurts = float((psi > 0).mean()), float((psi < 0).mean())
    shares = sorted(((_first_order(x[:, j], psi), names[j]) for j in range(len(names))), reverse=True)[:3]
    return {"median": float(q50), "q05": float(q05), "q95": float(q95), "p_helps": helps, "p_hurts": hurts,
            "verdict": verdict_of(helps, hurts), "worlds": int(len(psi)), "asked": int(asked),
            "mc_se": float(math.sqrt(max(helps * (1 - helps), 1e-12) / len(psi))),
            "decided_by": [{"knob": n, "label": (labels or {}).get(n, ""), "share": float(v)} for v, n in shares]}


__all__ = ["Setting", "View", "resolve", "setting_of", "scenario_yaml", "view", "winners_losers",
           "grade_transitions", "unit_split", "rank_reach", "verdict_worlds", "verdict_summary"]
