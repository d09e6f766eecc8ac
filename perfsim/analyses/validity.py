"""Does a scheme rank units closer to how well they really perform?

Only the synthetic world knows the truth (``truth.csv``: each unit's latent performance
``theta``), so these measures are for studying schemes on synthetic data:

* :func:`truth_tau`: within each category, Kendall's tau-b (scipy) between the final
  totals and ``theta``; the overall value is the n-weighted mean over categories
  (rankings are only made within categories).
* :func:`variance_shares`: the share of the within-category variance of the total that
  each part carries, cov(part, total) / var(total), which adds up to 1 over the parts.
* :func:`rater_sweep`: redraws the leader ratings under other rater behaviour
  (favouritism, leniency, balancing compression) with the same random draws, and scores
  every leader-rating weight from 0 to 15 points, to show where cutting the leader
  rating's points brings the ranking closer to the truth and where it moves it away.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .attribution import parts_of
from ..core.contract import Dataset
from ..core.engine import score
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


def _with_leader(dataset: Dataset, leader: pd.DataFrame) -> Dataset:
    tables = dict(dataset.tables)
    tables["leader_ratings"] = leader
    return Dataset(tables=tables, sources=dataset.sources, origin=f"{dataset.origin} (swept raters)")


def rater_sweep(scheme: Resolved | Scheme, seeds: Iterable[int], grid: Mapping[str, Sequence[float]],
                leader_points: Sequence[float] = tuple(range(16)), component: str = "leader",
                to: str = "proportional", params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """tau to the truth for every seed, rater setting in ``grid`` and leader-rating points.

    ``grid`` maps leader knobs of ``params/synth.yaml`` (``favour_points``, ``favour_prob``,
    ``leniency_sd``, ``compression``, ``noise_sd``, ...) to the values to sweep; all
    combinations are run. For each seed the world is generated once; per setting only the
    leader ratings are redrawn, from the same random stream. Each points value ``p`` gives
    the component ``p`` points with the difference going ``to`` (see
    :func:`perfsim.scheme.reallocate`). Returns one row per (seed, setting, points) with
    the overall ``tau_truth`` and the per-category values as ``tau_<category>``.
    """
    from ..sources import synth
    from ..core.contract import validate_frames

    raw = raw_of(scheme)
    knobs = synth.synth_params() if params is None else dict(params)
    unknown = set(grid) - set(knobs["leader"])
    if unknown:
        raise PerfsimError(f"unknown leader knob(s) {sorted(unknown)}; known: {sorted(knobs['leader'])}")
    schemes = {p: parse_scheme(reallocate(raw, component, p, to), f"<{component}={p}>")
               for p in leader_points}
    names = list(grid)
    rows = []
    for seed in seeds:
        tables = synth.generate_world(seed, knobs)
        world = validate_frames(tables, origin=f"<synthetic seed {seed}>")
        theta = world.truth.set_index("unit_id")["theta"]
        unit_ids = tables["units"]["unit_id"].to_numpy()
        theta_arr = tables["truth"].set_index("unit_id")["theta"].reindex(unit_ids).to_numpy()
        year = int(knobs["year"])
        for values in itertools.product(*(grid[n] for n in names)):
            leader_knobs = dict(knobs["leader"], **dict(zip(names, values)))
            leader = synth.leader_ratings(theta_arr, unit_ids, year, leader_knobs,
                                          synth.block_generators(seed)["leader"])
            dataset = _with_leader(world, leader)
            for p, sch in schemes.items():
                taus = truth_tau(score(sch, dataset), theta).set_index("category")["kendall_tau"]
                row = {"seed": seed, **dict(zip(names, values)), "leader_points": p,
                       "tau_truth": taus["overall"]}
                row.update({f"tau_{c}": v for c, v in taus.drop("overall").items()})
                rows.append(row)
    return pd.DataFrame(rows)


def sweep_effect(sweep: pd.DataFrame, knobs: Sequence[str], before: float = 10, after: float = 5
                 ) -> pd.DataFrame:
    """Mean tau to the truth at ``before`` and ``after`` leader points per setting, and the
    change (positive: cutting the points brings the ranking closer to the truth)."""
    mean = sweep.groupby([*knobs, "leader_points"])["tau_truth"].mean().unstack("leader_points")
    out = pd.DataFrame({f"tau_at_{before:g}": mean[before], f"tau_at_{after:g}": mean[after]})
    out["change"] = out[f"tau_at_{after:g}"] - out[f"tau_at_{before:g}"]
    out["best_points"] = mean.idxmax(axis=1)
    return out.reset_index()
