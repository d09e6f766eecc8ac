"""Administrative efficiency and cost (行政效率和行政成本): frontier efficiency by data
envelopment analysis, and cost per point with intervals.

:func:`dea` is the input-oriented envelopment model of Charnes, Cooper and Rhodes (CCR,
constant returns to scale) or Banker, Charnes and Cooper (BCC, variable returns: the
weights of the peers add up to 1), solved per unit with scipy.optimize.linprog (HiGHS) in
two phases: the smallest radial contraction ``theta`` of the unit's inputs that a
combination of units (its peers, ``lambda > 0``) still matches with at least its outputs;
then, at that ``theta``, the largest sum of the remaining input excesses and output
shortfalls (the slacks). A unit is efficient when ``theta`` is 1 and every slack 0.

:func:`efficiency` applies it per category of a scheme's scored units: inputs staff,
budget and consumption (the units table's reference columns); outputs are *volumes of
work* from the data (``indicator:ID``: the unit's year-end actual of an amount or count
indicator, such as cases handled or revenue collected), because a frontier needs outputs
that grow with the work done. A score (the total, a component) is bounded and nearly
the same for every unit: with it as the output, DEA ranks units by how small their
inputs are (on the bundled world CCR correlates -0.84 to -0.99 with staff and budget), so
a score output is accepted only with a warning saying so, and an output that hardly varies
within a category (coefficient of variation below :data:`FLAT_CV`) is warned about too.
Without a volume, read :func:`cost_per_point` instead. The scale efficiency is CCR / BCC.
Units without an input or an output are left out with a warning. :func:`cost_per_point` divides each unit's budget by its total over the
uncertainty draws (perfsim.uncertainty) for a 90 % interval. :func:`disclosure` is the
table an office publishes (行政效率和行政成本公示).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.engine import component_columns, score
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

INPUTS = ("staff", "budget", "consumption")
RETURNS = ("constant", "variable")
#: theta within this of 1 (and slacks below it, relative to the value) counts as efficient
TOLERANCE = 1e-6
#: an output whose coefficient of variation within a category is below this does not
#: measure work done there: DEA on it ranks units by input size
FLAT_CV = 0.05
#: the prefix of a volume output read from the data
VOLUME = "indicator:"


@dataclass(frozen=True)
class Dea:
    """Per unit: ``theta`` (radial input efficiency), ``peers`` (n x n, lambda of each
    peer), ``input_slack`` (n x inputs), ``output_slack`` (n x outputs)."""

    theta: np.ndarray
    peers: np.ndarray
    input_slack: np.ndarray
    output_slack: np.ndarray

    @property
    def efficient(self) -> np.ndarray:
        return (np.abs(self.theta - 1) < TOLERANCE) & (self.input_slack.max(axis=1, initial=0) < TOLERANCE) \
            & (self.output_slack.max(axis=1, initial=0) < TOLERANCE)


def dea(inputs: np.ndarray, outputs: np.ndarray, returns: str = "constant") -> Dea:
    """Input-oriented DEA of every unit (rows) against all (see the module docstring)."""
    from scipy.optimize import linprog

    x = np.asarray(inputs, dtype=float)
    y = np.asarray(outputs, dtype=float)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise PerfsimError("DEA needs inputs and outputs as units x columns with the same units")
    if returns not in RETURNS:
        raise PerfsimError(f"returns {returns!r}: one of {', '.join(RETURNS)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or (x <= 0).any() or (y < 0).any():
        raise PerfsimError("DEA needs finite inputs above 0 and outputs at least 0")
    n, m = x.shape
    s = y.shape[1]
    theta = np.ones(n)
    peers = np.zeros((n, n))
    slack_in, slack_out = np.zeros((n, m)), np.zeros((n, s))
    equal = dict(A_eq=np.r_[0.0, np.ones(n)][None, :], b_eq=[1.0]) if returns == "variable" else {}
    for o in range(n):
        # phase 1: min theta  s.t.  X'lambda <= theta x_o,  Y'lambda >= y_o,  lambda >= 0
        a_ub = np.vstack([np.c_[-x[o][:, None], x.T], np.c_[np.zeros((s, 1)), -y.T]])
        b_ub = np.r_[np.zeros(m), -y[o]]
        first = linprog(np.r_[1.0, np.zeros(n)], A_ub=a_ub, b_ub=b_ub,
                        bounds=[(None, None)] + [(0, None)] * n, method="highs", **equal)
        if first.status != 0:
            raise PerfsimError(f"DEA: the linear program of unit {o + 1} has no solution ({first.message})")
        t = float(first.x[0])
        # phase 2: max the slacks at theta: X'lambda + s- = t x_o,  Y'lambda - s+ = y_o
        a_eq = np.vstack([np.c_[x.T, np.eye(m), np.zeros((m, s))], np.c_[y.T, np.zeros((s, m)), -np.eye(s)]])
        b_eq = np.r_[t * x[o], y[o]]
        if returns == "variable":
            a_eq = np.vstack([a_eq, np.r_[np.ones(n), np.zeros(m + s)]])
            b_eq = np.r_[b_eq, 1.0]
        # slacks on the scale of each column, so that budget (large numbers) does not dominate
        scale = np.r_[1.0 / np.maximum(x.mean(axis=0), 1e-12), 1.0 / np.maximum(y.mean(axis=0), 1e-12)]
        second = linprog(np.r_[np.zeros(n), -scale], A_eq=a_eq, b_eq=b_eq, bounds=[(0, None)] * (n + m + s),
                         method="highs")
        if second.status != 0:
            raise PerfsimError(f"DEA: the slack program of unit {o + 1} has no solution ({second.message})")
        theta[o] = t
        peers[o] = np.where(second.x[:n] > 1e-9, second.x[:n], 0.0)
        slack_in[o] = np.where(second.x[n:n + m] > 1e-9, second.x[n:n + m], 0.0)
        slack_out[o] = np.where(second.x[n + m:] > 1e-9, second.x[n + m:], 0.0)
    return Dea(theta, peers, slack_in, slack_out)


def output_columns(outputs: Sequence[str]) -> list[str]:
    """The efficiency table's column of each output: ``output_total``, ``output_E02``, ..."""
    return [f"output_{o.removeprefix(VOLUME)}" for o in outputs]


def efficiency(scheme: Resolved, dataset: Dataset, year: int | None = None, inputs: Sequence[str] = INPUTS,
               outputs: Sequence[str] = ()) -> pd.DataFrame:
    """Per unit and category: CCR and BCC efficiency, scale efficiency, peers and slacks,
    the input targets (theta x input - slack). ``outputs``: volumes ``indicator:ID`` (see
    the module docstring) and, with a warning, scores (``total`` or a component)."""
    from ..core.engine import resolve_year, year_end_actuals

    unknown = [c for c in inputs if c not in INPUTS]
    if unknown or not inputs:
        raise PerfsimError(f"inputs {', '.join(unknown) or '(none)'}: choose from {', '.join(INPUTS)}")
    if not outputs:
        raise PerfsimError("DEA needs at least one output: a volume of work, indicator:ID (the unit's year-end "
                           "actual of an amount or count indicator); without one, read the cost per point")
    year = resolve_year(dataset, year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        table = score(scheme, dataset, year)
    allowed = ["total", *component_columns(scheme)]
    indicators = dataset.indicators.set_index("indicator_id")
    volumes = [o.removeprefix(VOLUME) for o in outputs if o.startswith(VOLUME)]
    bad = [o for o in outputs if not o.startswith(VOLUME) and o not in allowed]
    bad += [f"{VOLUME}{v} (no such indicator)" for v in volumes if v not in indicators.index]
    if bad:
        raise PerfsimError(f"outputs {', '.join(bad)}: choose volumes indicator:ID from the indicators table, "
                           f"or (with a warning) scores {', '.join(allowed)}")
    rates = [v for v in volumes if str(indicators.loc[v, "unit_of_measure"]).strip() in ("%", "％", "‰")
             or indicators.loc[v, "direction"] == "lower"]
    if rates:
        raise PerfsimError(f"output(s) {', '.join(VOLUME + v for v in rates)}: a rate or a lower-is-better "
                           "indicator is no volume of work; choose amounts or counts that grow with the work done")
    scores = [o for o in outputs if not o.startswith(VOLUME)]
    if scores:
        warnings.warn(f"output(s) {', '.join(scores)} are scores, not volumes of work: bounded and nearly equal for "
                      "every unit, so DEA on them ranks units by how small their inputs are; give volumes "
                      "(indicator:ID) or read the cost per point", PerfsimWarning, stacklevel=2)
    units = dataset.units.set_index("unit_id")
    names = output_columns(outputs)
    frame = table[["unit_id", "name", "category"]].copy()
    for o, name in zip(outputs, names):
        frame[name] = table[o].to_numpy(dtype=float) if not o.startswith(VOLUME) else np.nan
    if volumes:
        actual = year_end_actuals(dataset, year)
        actual = actual[actual["indicator_id"].isin(volumes)].pivot_table(
            index="unit_id", columns="indicator_id", values="value", aggfunc="first")
        for v in volumes:
            frame[f"output_{v}"] = actual[v].reindex(frame["unit_id"]).to_numpy(dtype=float) \
                if v in actual.columns else np.nan
    for column in inputs:
        frame[column] = units[column].reindex(frame["unit_id"]).to_numpy(dtype=float)
    lacking = frame[list(inputs)].isna().any(axis=1) | (frame[list(inputs)] <= 0).any(axis=1)
    if lacking.any():
        warnings.warn(f"{int(lacking.sum())} unit(s) without {', '.join(inputs)} above 0 are left out of the "
                      f"efficiency analysis (first: {frame.loc[lacking, 'unit_id'].iloc[0]})", PerfsimWarning,
                      stacklevel=2)
    no_output = ~lacking & frame[names].isna().any(axis=1)
    if no_output.any():
        warnings.warn(f"{int(no_output.sum())} unit(s) have no value of output(s) {', '.join(outputs)} in {year} and "
                      f"are left out of the efficiency analysis (first: {frame.loc[no_output, 'unit_id'].iloc[0]})",
                      PerfsimWarning, stacklevel=2)
    frame = frame[~lacking & ~no_output].reset_index(drop=True)
    if frame.empty:
        raise PerfsimError(f"no unit has {', '.join(inputs)} and {', '.join(outputs)}: efficiency needs the units "
                           "table's reference columns and the outputs' values", where=dataset.where("units"))
    rows = []
    for category, part in frame.groupby("category", sort=True):
        x = part[list(inputs)].to_numpy(dtype=float)
        y = np.clip(part[names].to_numpy(dtype=float), 0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = y.std(axis=0) / y.mean(axis=0)
        flat = [o for o, c in zip(outputs, cv) if len(part) > 1 and not c >= FLAT_CV]
        if flat:
            warnings.warn(f"category {category}: output(s) {', '.join(flat)} vary by less than {FLAT_CV:.0%} "
                          "(coefficient of variation) across its units, so its frontier ranks them by how small "
                          "their inputs are", PerfsimWarning, stacklevel=2)
        ccr, bcc = dea(x, y, "constant"), dea(x, y, "variable")
        ids = part["unit_id"].to_numpy()
        for k, (_, unit) in enumerate(part.iterrows()):
            row = {"unit_id": unit["unit_id"], "name": unit["name"], "category": category, "units": len(part),
                   **{c: unit[c] for c in inputs}, **{c: unit[c] for c in names},
                   "ccr": ccr.theta[k], "bcc": bcc.theta[k], "scale": ccr.theta[k] / bcc.theta[k],
                   "efficient": bool(ccr.efficient[k]),
                   "peers": "; ".join(f"{ids[j]} ({ccr.peers[k, j]:.3f})" for j in np.flatnonzero(ccr.peers[k]))}
            for i, c in enumerate(inputs):
                row[f"slack_{c}"] = ccr.input_slack[k, i]
                row[f"target_{c}"] = ccr.theta[k] * unit[c] - ccr.input_slack[k, i]
            for r, c in enumerate(names):
                row[f"slack_{c}"] = ccr.output_slack[k, r]
            rows.append(row)
    out = pd.DataFrame(rows)
    out["rank_ccr"] = out.groupby("category")["ccr"].rank(ascending=False, method="min").astype(int)
    return out


def cost_per_point(scheme: Resolved, dataset: Dataset, draws: int = 2000, seed: int = 0,
                   year: int | None = None) -> pd.DataFrame:
    """Budget (10,000 yuan) per point of the total, nominal and its 5-95 % interval over
    the uncertainty draws of the scheme's own spec (or the default one)."""
    from ..uncertainty.model import compile_model
    from ..uncertainty.robustness import default_spec, monte_carlo

    spec = scheme.scheme.uncertainty or default_spec()
    model = compile_model(scheme, dataset, spec, year)
    mc = monte_carlo(model, draws, seed=seed, keep_draws=True)
    budget = dataset.units.set_index("unit_id")["budget"].reindex(list(model.ids)).to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        nominal = score(scheme, dataset, year).set_index("unit_id")["total"].reindex(list(model.ids)).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        per = budget[None, :] / mc.totals
        lo, hi = np.nanquantile(per, [0.05, 0.95], axis=0)
        value = budget / nominal
    category = dataset.units.set_index("unit_id")["category"].reindex(list(model.ids)).to_numpy()
    return pd.DataFrame({"unit_id": list(model.ids), "category": category, "budget": budget,
                         "total": nominal, "cost_per_point": value, "cost_q05": lo, "cost_q95": hi})


def disclosure(eff: pd.DataFrame | None, cost: pd.DataFrame | None = None,
               units: pd.DataFrame | None = None) -> pd.DataFrame:
    """The efficiency and cost disclosure table (行政效率和行政成本公示), Chinese headers, one
    row per unit: by category and CCR rank where DEA was run (``eff``), else by category and
    cost per point (``cost`` with the ``units`` table for names and inputs)."""
    if eff is None:
        if cost is None or units is None:
            raise PerfsimError("a disclosure needs the efficiency table, or the cost per point and the units")
        u = units.set_index("unit_id").reindex(cost["unit_id"])
        c = cost.assign(name=u["name"].to_numpy(), staff=u["staff"].to_numpy(),
                        consumption=u["consumption"].to_numpy()).sort_values(["category", "cost_per_point", "unit_id"])
        table = pd.DataFrame({"单位编号": c["unit_id"], "单位": c["name"], "类别": c["category"],
                              "人员编制": c["staff"], "预算（万元）": c["budget"], "综合消耗": c["consumption"],
                              "总分": c["total"].round(2), "每分成本（万元）": c["cost_per_point"].round(1),
                              "每分成本 90% 区间": [f"{a:.1f}-{b:.1f}" for a, b in zip(c["cost_q05"], c["cost_q95"])]})
        return table.reset_index(drop=True)
    out = eff.sort_values(["category", "rank_ccr", "unit_id"])
    table = pd.DataFrame({"单位编号": out["unit_id"], "单位": out["name"], "类别": out["category"],
                          "人员编制": out.get("staff"), "预算（万元）": out.get("budget"),
                          "综合消耗": out.get("consumption"), "综合效率（CCR）": out["ccr"].round(3),
                          "纯技术效率（BCC）": out["bcc"].round(3), "规模效率": out["scale"].round(3),
                          "类别内效率排名": out["rank_ccr"], "标杆单位": out["peers"]})
    if cost is not None:
        c = cost.set_index("unit_id").reindex(out["unit_id"])
        table["每分成本（万元）"] = c["cost_per_point"].round(1).to_numpy()
        table["每分成本 90% 区间"] = [f"{a:.1f}-{b:.1f}" for a, b in zip(c["cost_q05"], c["cost_q95"])]
    return table.reset_index(drop=True)


def analysis(scheme: Resolved, dataset: Dataset, *, year: int | None = None, seed: int = DEFAULT_SEED,
             outputs: Sequence[str] = (), draws: int = 0, inputs: Sequence[str] = INPUTS) -> "Result":
    """The protocol's efficiency analysis (see :mod:`perfsim.analyses.result`): DEA on the
    volume ``outputs`` and/or the budget per point over ``draws`` uncertainty draws, with the
    disclosure table (行政效率和行政成本公示)."""
    from ..core.scheme import as_resolved
    from .result import Chart, Result, both

    scheme = as_resolved(scheme)
    outputs = [o for o in outputs if o]
    if not outputs and not draws:
        raise PerfsimError("nothing to compute: give volume outputs for DEA (--outputs indicator:ID,...) or draws "
                           "for the cost per point (--draws N)")
    eff = efficiency(scheme, dataset, year, inputs=inputs, outputs=outputs) if outputs else None
    cost = cost_per_point(scheme, dataset, draws, seed, year) if draws else None
    tables = {**({"efficiency": eff} if eff is not None else {}), **({"cost_per_point": cost} if cost is not None else {}),
              "disclosure": disclosure(eff, cost, dataset.units)}
    facts: dict = {"scheme": scheme.name, "inputs": list(inputs), "outputs": outputs, "draws": draws}
    zh, en = [], []
    if eff is not None:
        facts.update(units=int(len(eff)), efficient=int(eff["efficient"].sum()),
                     ccr_median=float(eff["ccr"].median()))
        zh.append(f"数据包络分析（投入导向；投入：{'、'.join(inputs)}；产出：{'、'.join(outputs)}）："
                  f"{facts['efficient']} / {facts['units']} 个单位处在本类别的效率前沿上，综合效率中位数 "
                  f"{facts['ccr_median']:.3f}。")
        en.append(f"DEA (input-oriented; inputs {', '.join(inputs)}; outputs {', '.join(outputs)}): "
                  f"{facts['efficient']} of {facts['units']} units are on their category's frontier; median CCR "
                  f"efficiency {facts['ccr_median']:.3f}.")
    else:
        zh.append("未做数据包络分析：效率前沿需要随工作量增长的产出（--outputs indicator:ID）。")
        en.append("No DEA: a frontier needs volume outputs that grow with the work done (--outputs indicator:ID).")
    if cost is not None:
        per = cost["cost_per_point"]
        facts.update(cost_median=float(per.median()), cost_min=float(per.min()), cost_max=float(per.max()))
        zh.append(f"总分每分预算中位数 {facts['cost_median']:.0f} 万元（{facts['cost_min']:.0f} 至 "
                  f"{facts['cost_max']:.0f}），区间来自 {draws} 次不确定性抽样。")
        en.append(f"Budget per point of the total: median {facts['cost_median']:.0f} ten-thousand yuan (range "
                  f"{facts['cost_min']:.0f} to {facts['cost_max']:.0f}); intervals over {draws} uncertainty draws.")
    drawn = tuple(t for t in ("efficiency", "cost_per_point") if t in tables)
    return Result(
        "efficiency", both("行政效率与行政成本", "Administrative efficiency and cost"), tables=tables,
        figures={"efficiency": Chart("efficiency", drawn, both("效率前沿与每分成本", "Frontier and cost per point"))},
        facts=facts, texts=both("".join(zh), " ".join(en)), scenarios={"scheme": scheme},
        shown=(("disclosure", "行政效率和行政成本公示表", "Efficiency and cost disclosure table"),))
