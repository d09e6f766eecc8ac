"""Effects of a scheme change over many plausible synthetic worlds, with intervals.

One synthetic world gives one answer, and a different world may give another. An
ensemble draws N worlds (knobs from the calibration's plausible worlds, each world its own
seed), scores the base scheme and every scenario on the same world (common random
numbers: the difference is the scenario's, not the world's) and reports per world and
scenario:

* ``tau_truth`` and ``delta_tau_truth``: Kendall's tau-b between totals and the
  true performance within each category, n-weighted over categories; the scenario's, and
  the scenario's minus the base's (positive: the scenario ranks units closer to how well
  they really perform);
* ``mean_abs_shift`` (mean |rank change|), ``share_moved`` (share of units whose rank
  changes), ``grade_changes`` (units whose grade changes);
* winners and losers where they can differ from 0: ``mean_shift:central`` and
  ``mean_shift:outer`` (mean rank change of central and outer districts, ranked together
  as districts; negative: the group moves up), ``total_change:<group>`` (mean change of
  the total) and ``grade_up:<group>`` / ``grade_down:<group>`` (share of the group's units
  whose grade rises / falls) for the two district types and each category. (A category's
  mean rank change is 0 by construction, since units are ranked within their category;
  it is not reported.)

:func:`ensemble_effects` summarises each metric over the worlds: median, 5 % and 95 % quantiles
(numpy's default, linear interpolation), the shares of worlds where it is positive
(``p_helps``) and negative (``p_hurts``), and for ``delta_tau_truth`` a verdict: ``helps``
when the 90 % interval lies above 0 (about: p_helps >= 0.95), ``hurts`` when it lies below,
``undetermined`` otherwise. Over worlds drawn from a posterior (``perfsim calibrate``'s
posterior.csv) the shares are posterior predictive probabilities of one world's effect; the
verdict on the *expected* effect, with its deciding assumptions, is
:func:`perfsim.analyses.inference.verdicts`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.engine import score_arrays
from ..core.scheme import Resolved, Scheme
from ..sources.synth import check_world, generate_arrays, world_dataset
from ..core.scheme import plain
from .moments import within_tau

EFFECT_COLUMNS = ["scenario", "metric", "median", "q05", "q95", "p_helps", "p_hurts", "verdict"]


def tau_truth(total: np.ndarray, theta: np.ndarray, groups: np.ndarray) -> float:
    """Kendall's tau-b between totals and the truth within each group, n-weighted (tau-b from
    pairwise signs, :func:`perfsim.analyses.moments.within_tau`: scipy.stats.kendalltau's number)."""
    return within_tau(np.asarray(total, dtype=float), np.asarray(theta, dtype=float), groups, min_size=2)


def world_metrics(world, base: Scheme, scenarios: Mapping[str, Scheme]) -> list[dict[str, Any]]:
    """The metrics of every scenario against the base on one world (rows: scenario, metric, value)."""
    check_world(world)
    dataset = world_dataset(world)
    year = world.last.year
    units = dataset.units
    theta = dataset.truth.set_index("unit_id")["theta"].reindex(units["unit_id"]).to_numpy()
    b = score_arrays(base, dataset, year)
    tau_b = tau_truth(b.total, theta, b.inputs.groups)
    masks = {t: (units["district_type"] == t).to_numpy() for t in ("central", "outer")}
    masks.update({c: (units["category"] == c).to_numpy() for c in sorted(units["category"].unique())})
    rows = []
    for name, scheme in scenarios.items():
        s = score_arrays(scheme, dataset, year)
        shift = s.rank - b.rank
        tau_s = tau_truth(s.total, theta, s.inputs.groups)
        values = {"tau_truth": tau_s, "tau_truth_base": tau_b, "delta_tau_truth": tau_s - tau_b,
                  "mean_abs_shift": float(np.abs(shift).mean()), "share_moved": float((shift != 0).mean()),
                  "grade_changes": float((s.grade != b.grade).sum())}
        change = s.total - b.total
        up, down = s.grade < b.grade, s.grade > b.grade          # grade index 0 is the best grade
        for key, mask in masks.items():
            if not mask.any():
                continue
            if key in ("central", "outer"):
                values[f"mean_shift:{key}"] = float(shift[mask].mean())
            values[f"total_change:{key}"] = float(change[mask].mean())
            values[f"grade_up:{key}"] = float(up[mask].mean())
            values[f"grade_down:{key}"] = float(down[mask].mean())
        rows += [{"scenario": name, "metric": k, "value": v} for k, v in values.items()]
    return rows


def _chunk(task: tuple) -> list[dict[str, Any]]:
    base, scenarios, items = task
    out = []
    for index, seed, knobs in items:
        world = generate_arrays(seed, knobs, years=1, monthly=False)
        for row in world_metrics(world, base, scenarios):
            out.append({"world": index, "world_seed": seed, **row})
    return out


def world_seeds(seed: int, count: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence([seed, 11]).generate_state(count)]


def ensemble(base: Resolved | Scheme, scenarios: Mapping[str, Resolved | Scheme], knob_sets: Sequence[Mapping],
             seed: int, executor=None, chunk: int = 10,
             progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Per world, scenario and metric: the value (``per_world``; see the module docstring).
    World k is generated with ``knob_sets[k]`` and its own seed spawned from ``seed``."""
    base_s = plain(base)
    scen = {name: plain(s) for name, s in scenarios.items()}
    seeds = world_seeds(seed, len(knob_sets))
    items = [(k, seeds[k], dict(knob_sets[k])) for k in range(len(knob_sets))]
    tasks = [(base_s, scen, items[a:a + chunk]) for a in range(0, len(items), chunk)]
    rows: list[dict] = []
    results = map(_chunk, tasks) if executor is None else (f.result() for f in [executor.submit(_chunk, t)
                                                                               for t in tasks])
    for task, part in zip(tasks, results):
        rows += part
        if progress is not None:
            progress(len(task[2]))
    frame = pd.DataFrame(rows, columns=["world", "world_seed", "scenario", "metric", "value"])
    return frame.sort_values(["world", "scenario", "metric"], kind="stable").reset_index(drop=True)


def verdict(q05: float, q95: float) -> str:
    """Whether a validity change is established by its 90 % interval."""
    if q05 > 0:
        return "helps"
    if q95 < 0:
        return "hurts"
    return "undetermined"


def ensemble_effects(per_world: pd.DataFrame, scenario_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Median, 5 % and 95 % quantiles and share positive of every metric over the worlds;
    a verdict for ``delta_tau_truth`` (``-`` for the other metrics)."""
    rows = []
    for (scenario, metric), g in per_world.groupby(["scenario", "metric"], sort=False):
        v = g["value"].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        q05, med, q95 = np.quantile(v, [0.05, 0.5, 0.95])
        rows.append({"scenario": scenario, "metric": metric, "median": float(med), "q05": float(q05),
                     "q95": float(q95), "p_helps": float((v > 0).mean()), "p_hurts": float((v < 0).mean()),
                     "verdict": verdict(q05, q95) if metric == "delta_tau_truth" else "-"})
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    order = {s: i for i, s in enumerate(scenario_order or dict.fromkeys(per_world["scenario"]))}
    metrics = {m: i for i, m in enumerate(dict.fromkeys(per_world["metric"]))}
    return out.sort_values(["scenario", "metric"], key=lambda c: c.map(order if c.name == "scenario" else metrics),
                           kind="stable").reset_index(drop=True)


def fits_synthetic(*schemes: Resolved | Scheme) -> str | None:
    """None when every scheme can score the synthetic world, else why not (a scheme of a
    user's own indicators cannot be studied on synthetic worlds)."""
    from ..core.contract import validate_frames
    from ..core.engine import check_fit
    from ..core.errors import PerfsimError
    from ..sources.synth import synth_params, world_tables

    probe = validate_frames(world_tables(generate_arrays(0, synth_params(), years=1)), origin="<synthetic world>")
    for scheme in schemes:
        try:
            check_fit(scheme, probe)
        except PerfsimError as exc:
            return str(exc)
    return None


def plausible_knobs(count: int, seed: int) -> list[dict]:
    """``count`` knob sets drawn from the bundled plausible worlds (params/plausible.csv)."""
    from ..core.paths import PARAMS_DIR
    from ..sources.readers import read_table
    from ..sources.synth import synth_params
    from .calibration import knob_draws

    return knob_draws(read_table(PARAMS_DIR / "plausible.csv"), synth_params(), count, seed)
