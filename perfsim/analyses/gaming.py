"""Target regimes over several years: sandbagging, the ratchet and the city's outcome.

Each unit has a capacity (what it can achieve with full effort) that grows with noise.
Regimes set each year's target:

* ``self``: self-reported, sandbagged below expected capacity (no ratchet);
* ``ratchet``: own history, next target = this year's actual x (1 + growth); knowing that,
  a unit that could over-achieve holds back to target x (1 + margin);
* ``cascade``: the city's goal cascaded, expected capacity x (1 + city_push);
* ``benchmark``: benchmarked to peers, expected capacity x (1 + peer_push).

Effort responds to target difficulty: a unit aims at its target plus a small cushion,
up to its full capacity (``effort_response`` 1; 0 means every unit always delivers its full
capacity), so easy targets are over-achieved while the city's outcome falls short of what
its units could do: the document's "units over-achieve their own targets while the city
lags" (seed 三.4) appears under self-reported targets and not under cascaded or
benchmarked ones, as a qualitative result of these assumed knobs. The city's outcome is
the sum of actuals. :func:`simulate_regimes` returns one row per (regime, year, unit);
:func:`summarise_regimes` the completion rates against the city's outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core.knobs import load_knobs
from ..core.paths import PARAMS_DIR

REGIMES = ("self", "ratchet", "cascade", "benchmark")


def load_gaming(path: str | Path | None = None) -> dict:
    return load_knobs(Path(path) if path else PARAMS_DIR / "gaming.yaml")


def simulate_regimes(regimes: Sequence[str] = REGIMES, seed: int = 0, params: dict | None = None) -> pd.DataFrame:
    """Capacity, target, actual and completion per regime, year and unit (same capacities
    in every regime: common random numbers)."""
    p = dict(params or load_gaming())
    rng = np.random.default_rng(seed)
    n, years = int(p["units"]), int(p["years"])
    g = p["capacity_growth"]
    start = 100 * np.exp(0.3 * rng.standard_normal(n))
    shocks = np.exp(p["capacity_sd"] * rng.standard_normal((years, n)))
    capacity = start[None, :] * np.cumprod(np.vstack([np.ones(n), np.full((years - 1, n), 1 + g)]), axis=0) * shocks
    expected = start[None, :] * (1 + g) ** np.arange(years)[:, None]
    rows = []
    for regime in regimes:
        if regime not in REGIMES:
            raise ValueError(f"unknown regime {regime!r}; known: {', '.join(REGIMES)}")
        target = np.empty((years, n))
        actual = np.empty((years, n))
        for t in range(years):          # years are sequential: the ratchet needs last year's actual
            if regime == "self":
                target[t] = expected[t] * (1 - p["sandbag"])
            elif regime == "cascade":
                target[t] = expected[t] * (1 + p["city_push"])
            elif regime == "benchmark":
                target[t] = expected[t] * (1 + p["peer_push"])
            else:
                target[t] = expected[t] if t == 0 else actual[t - 1] * (1 + p["ratchet_growth"])
            aimed = np.minimum(capacity[t], target[t] * (1 + p["effort_cushion"]))
            response = float(p["effort_response"])
            actual[t] = (1 - response) * capacity[t] + response * aimed
            if regime == "ratchet" and p["hold_back"]:
                actual[t] = np.minimum(actual[t], target[t] * (1 + p["margin"]))
        for t in range(years):
            rows.append(pd.DataFrame({"regime": regime, "year": t + 1, "unit": np.arange(n),
                                      "capacity": capacity[t], "target": target[t], "actual": actual[t],
                                      "completion": actual[t] / target[t]}))
    return pd.concat(rows, ignore_index=True)


def summarise_regimes(sim: pd.DataFrame) -> pd.DataFrame:
    """Per regime and year: mean completion, share of units completing, and the city's
    outcome (sum of actuals) as a share of its capacity (sum of capacities)."""
    grouped = sim.groupby(["regime", "year"], sort=False)
    return pd.DataFrame({
        "mean_completion": grouped["completion"].mean(),
        "share_completing": grouped["completion"].apply(lambda c: float((c >= 1).mean())),
        "city_outcome": grouped["actual"].sum(),
        "city_outcome_vs_capacity": grouped["actual"].sum() / grouped["capacity"].sum(),
    }).reset_index()
