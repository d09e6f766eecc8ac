"""Does a scheme rank units closer to how well they really perform?

Only the synthetic world knows the truth (``truth.csv``: each unit's latent performance
``theta``), so these measures are for studying schemes on synthetic data:

* :func:`truth_tau`: within each category, Kendall's tau-b (scipy) between the final
  totals and ``theta``; the overall value is the n-weighted mean over categories
  (rankings are only made within categories).
* :func:`variance_shares`: the share of the within-category variance of the total that
  each part carries, cov(part, total) / var(total), which adds up to 1 over the parts.
* :func:`rater_sweep`: the validity effect of a scenario (say, the leader rating cut from
  10 to 5 points) over an ensemble of plausible worlds, for each value of one rater
  behaviour (favouritism, leniency, balancing compression), with the same worlds for
  every value; :func:`sweep_effects` gives its median, 90 % interval and verdict per value;
* :func:`points_sweep`: tau to the truth over the ensemble as the leader rating (or any
  component) takes each number of points.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .attribution import parts_of
from ..core.errors import PerfsimError
from ..core.scheme import Resolved, Scheme, parse_scheme, raw_of, reallocate


def truth_tau(table: pd.DataFrame, truth: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Per category and overall: n and Kendall's tau between totals and theta."""
    theta = truth.set_index("unit_id")["theta"] if isinstance(truth, pd.DataFrame) else truth
    frame = table.assign(theta=theta.reindex(table["unit_id"]).to_numpy())
    if frame["theta"].isna().any():
        raise PerfsimError("truth has no theta for some units (only synthetic data carries the truth)")
    rows = []
    for category, g in frame.groupby("category", sort=True):
        tau = stats.kendalltau(g["total"], g["theta"]).statistic if len(g) > 1 else np.nan
        rows.append({"category": category, "n": len(g), "kendall_tau": float(tau)})
    per = pd.DataFrame(rows)
    ok = per["kendall_tau"].notna()
    overall = float(np.average(per.loc[ok, "kendall_tau"], weights=per.loc[ok, "n"]))
    return pd.concat([per, pd.DataFrame([{"category": "overall", "n": len(frame),
                                          "kendall_tau": overall}])], ignore_index=True)


def variance_shares(table: pd.DataFrame, components: Sequence[str]) -> pd.DataFrame:
    """Per category and overall (pooled within categories): each part's share of var(total)."""
    parts = parts_of(table, components)
    parts = parts.loc[:, parts.abs().sum() > 0]
    category = table.set_index("unit_id")["category"].reindex(parts.index)
    rows = []

    def shares(frame: pd.DataFrame) -> dict:
        centred = frame - frame.mean()
        total = centred.sum(axis=1)
        var = float((total ** 2).sum())
        return {p: float((centred[p] * total).sum() / var) if var > 0 else np.nan for p in frame}

    for cat, g in parts.groupby(category, sort=True):
        rows.append({"category": cat, "n": len(g), **shares(g)})
    within = parts - parts.groupby(category).transform("mean")
    rows.append({"category": "overall", "n": len(parts), **shares(within)})
    return pd.DataFrame(rows)


def rater_sweep(base: Resolved | Scheme, scenario: Resolved | Scheme, knob: str, values: Sequence[float],
                knob_sets: Sequence[Mapping[str, Any]], seed: int, executor=None) -> pd.DataFrame:
    """How the validity effect of ``scenario`` against ``base`` depends on one rater
    behaviour: for each value of the leader knob ``knob`` of ``params/synth.yaml``
    (``favour_points``, ``compression``, ``leniency_sd``, ...), an ensemble over the worlds
    of ``knob_sets`` with that value (the same world seeds for every value: only the
    ratings change, drawn from their own stream). Rows: ``knob, value, world, tau_truth_base,
    tau_truth, delta_tau_truth``."""
    from .calibration import with_knobs
    from .ensemble import ensemble

    unknown = [k for k in [knob] if k not in knob_sets[0].get("leader", {})]
    if unknown:
        raise PerfsimError(f"unknown leader knob {knob!r}; known: {sorted(knob_sets[0]['leader'])}")
    name = scenario.name
    frames = []
    for value in values:
        sets = [with_knobs(k, {f"leader.{knob}": value}) for k in knob_sets]
        per = ensemble(base, {name: scenario}, sets, seed, executor)
        wide = per[per["metric"].isin(["tau_truth_base", "tau_truth", "delta_tau_truth"])].pivot(
            index="world", columns="metric", values="value").reset_index()
        frames.append(wide.assign(knob=knob, value=float(value)))
    out = pd.concat(frames, ignore_index=True)
    return out[["knob", "value", "world", "tau_truth_base", "tau_truth", "delta_tau_truth"]]


def points_sweep(base: Resolved | Scheme, points: Sequence[float], knob_sets: Sequence[Mapping[str, Any]],
                 seed: int, component: str = "leader", to: str = "proportional", executor=None) -> pd.DataFrame:
    """Kendall's tau to the truth as ``component`` takes each number of ``points`` (the
    difference going ``to``; see :func:`perfsim.core.scheme.reallocate`), over the worlds of
    ``knob_sets``. Rows: ``points, world, tau_truth``."""
    from .ensemble import ensemble

    raw = raw_of(base)
    schemes = {f"{p:g}": parse_scheme(reallocate(raw, component, p, to), f"<{component}={p}>") for p in points}
    per = ensemble(base, schemes, knob_sets, seed, executor)
    out = per[per["metric"] == "tau_truth"].rename(columns={"value": "tau_truth"})
    out = out.assign(points=out["scenario"].astype(float))
    return out[["points", "world", "tau_truth"]].reset_index(drop=True)


def sweep_effects(sweep: pd.DataFrame, by: Sequence[str] = ("knob", "value"),
                  column: str = "delta_tau_truth") -> pd.DataFrame:
    """Median, 5 % and 95 % quantiles over the worlds of ``column`` per group, the share
    positive and the verdict (helps / hurts / undetermined, from the 90 % interval)."""
    from .ensemble import verdict

    rows = []
    for key, g in sweep.groupby(list(by), sort=False):
        v = g[column].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        q05, med, q95 = np.quantile(v, [0.05, 0.5, 0.95])
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "worlds": len(v),
                     "median": float(med), "q05": float(q05), "q95": float(q95),
                     "p_helps": float((v > 0).mean()), "p_hurts": float((v < 0).mean()),
                     "verdict": verdict(q05, q95)})
    return pd.DataFrame(rows)
