"""Verdicts over the worlds a city's data allow: reference table, posterior, ledger, value of information.

A validity verdict ("cutting the leader rating lowers the ranking's agreement with true
performance") depends on generator settings that decide how well each component tracks the
truth. This module makes that dependence explicit and lets the data speak to it.

1. **Reference table** (:func:`build_reference`). Worlds whose settings are drawn uniformly
   from the ranges of ``params/calibration.yaml`` (its ``knobs`` and ``priors``: the prior);
   for each world its moments (exactly those of :func:`perfsim.analyses.moments.data_moments`,
   computed from the world's arrays) and, for each scenario, ``delta_tau_truth`` (Kendall's
   tau-b to the true performance within category, scenario minus base; one world, one seed).
   World k's settings and seed depend only on (seed, k), so a table can be extended and is
   cached by a key over the generator's knobs, the prior, the schemes and the years.
2. **Posterior** (:func:`posterior`). Rejection ABC with local-linear regression adjustment
   (Beaumont, Zhang and Balding 2002): the moments a city's data provide are standardised by
   their median absolute deviation over the table; the ``accept`` nearest worlds are kept with
   Epanechnikov weights; each knob (on the logit of its place in its range) is corrected by a
   weighted linear regression on the moments. ``identified`` compares each knob's posterior
   90 % interval with its prior's.
3. **Verdict** (:func:`verdicts`). The quantity judged is the *expected* effect of a scenario
   on a city with given settings, ``psi(knobs) = E[delta_tau_truth | knobs]`` (what the city
   can expect of the reform, not the luck of one year). An emulator (scikit-learn's
   ``HistGradientBoostingRegressor`` fitted on the table) gives psi for any setting; the
   verdict reads psi over the posterior draws: median, 90 % interval, ``p_helps =
   P(psi > 0)``, ``p_hurts = P(psi < 0)``; ``helps`` when p_helps >= 0.95, ``hurts`` when
   p_hurts >= 0.95, ``undetermined`` otherwise. ``benchmarks/bench_sbc.py`` checks on
   held-out worlds with known settings how often the interval covers psi and how often a
   verdict has the wrong sign.
4. **Ledger** (:func:`ledger`). For each scenario the knobs that move psi most over the
   posterior (first-order variance share Var(E[psi | knob]) / Var(psi), the given-data
   estimator by ten quantile bins of the knob), the value of each at which the median psi changes sign (partial dependence over the
   prior range, bootstrap interval over the posterior draws, or "does not flip"), and the
   knob's posterior interval.
5. **Value of information** (:func:`value_of_information`). For each moment, how much the 90 %
   interval of each scenario's psi would narrow if the moment were known: within the
   posterior given the *other* measured moments (``width_without``), the share of psi's
   variance a weighted quadratic regression on the moment explains (R^2), turned into an
   expected width ``width_without * sqrt(1 - R^2)`` and ``narrowing = 1 - sqrt(1 - R^2)``
   (a Gaussian approximation of the preposterior analysis) for a moment the data do not
   measure (persistence with one year of data); for one they measure, the interval computed
   with it (``width_now``) against the one without it: what it contributes now. The widths
   of the without-posteriors are psi at their accepted settings (no emulator error added).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.engine import score_arrays
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import Resolved, Scheme
from ..sources.synth import check_world, generate_arrays, world_dataset
from ..core.scheme import plain
from .calibration import Setup, with_knobs
from .ensemble import tau_truth
from .moments import MOMENT_SPECS, world_data_moments

KNOB, MOMENT, EFFECT = "knob:", "moment:", "effect:"
#: the scenarios of interest a reference table is built for unless told otherwise (under params/)
DEFAULT_SCENARIOS = ("scenarios/leader0.yaml", "scenarios/leader5_proportional.yaml",
                     "scenarios/leader5_to_satisfaction.yaml", "scenarios/leader5_to_targets.yaml",
                     "scenarios/leader5_total95.yaml", "scenarios/raters/leader_rank.yaml")
#: a verdict needs this posterior probability of one sign
VERDICT_PROBABILITY = 0.95
IDENTIFIED_RATIO = 0.5
IDENTIFIED_COLUMNS = ["knob", "prior_lo", "prior_hi", "post_q05", "post_median", "post_q95", "width_ratio",
                      "identified"]
VERDICT_COLUMNS = ["scenario", "metric", "median", "q05", "q95", "p_helps", "p_hurts", "verdict", "decided_by"]
LEDGER_COLUMNS = ["scenario", "rank", "knob", "share", "flip_at", "flip_q05", "flip_q95", "holds_if",
                  "post_q05", "post_q95", "sentence"]
VOI_COLUMNS = ["moment", "measured", "scenario", "width_now", "width_without", "width_if_known", "narrowing"]


# --------------------------------------------------------------------------- the prior

@dataclass(frozen=True)
class Prior:
    """The ranges worlds are drawn from: every knob and prior of a calibration setup."""

    names: tuple[str, ...]
    bounds: np.ndarray                      # k x 2
    sources: tuple[str, ...]
    labels: tuple[str, ...] = ()            # Chinese names ("" where none)

    @classmethod
    def of(cls, setup: Setup) -> "Prior":
        entries = {**setup.targets.knobs, **setup.targets.priors}
        return cls(tuple(entries), np.array([e.range for e in entries.values()], dtype=float),
                   tuple((e.source or "moment-fitted knob") for e in entries.values()),
                   tuple(setup.targets.labels.get(n, "") for n in entries))

    def draw(self, seed: int, index: int) -> np.ndarray:
        """World ``index``'s settings: uniform over the ranges, from (seed, index) alone."""
        u = np.random.default_rng([seed, 22, index]).random(len(self.names))
        return self.bounds[:, 0] + u * (self.bounds[:, 1] - self.bounds[:, 0])

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        return (x - self.bounds[:, 0]) / (self.bounds[:, 1] - self.bounds[:, 0])

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return self.bounds[:, 0] + u * (self.bounds[:, 1] - self.bounds[:, 0])


def world_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, 21, index]).generate_state(1)[0])


def scheme_hash(scheme: Resolved | Scheme) -> str:
    """A short hash of a scheme's content (what a reference table's facts record per scheme)."""
    return hashlib.sha256(json.dumps(plain(scheme).model_dump(mode="json"), sort_keys=True,
                                     default=str).encode()).hexdigest()[:16]


def reference_key(params: Mapping[str, Any], prior: Prior, base: Resolved | Scheme,
                  scenarios: Mapping[str, Resolved | Scheme], seed: int) -> str:
    """What a reference table depends on: the generator's knobs, the prior, the schemes, the seed."""
    from ..core import VERSION as __version__

    payload = {"params": params, "prior": [prior.names, prior.bounds.tolist()], "seed": seed,
               "base": plain(base).model_dump(mode="json"),
               "scenarios": {k: plain(v).model_dump(mode="json") for k, v in scenarios.items()},
               "version": __version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- the reference table

def reference_row(base: Scheme, scenarios: Mapping[str, Scheme], params: Mapping[str, Any], prior: Prior,
                  index: int, seed: int) -> dict[str, Any]:
    """One world of the reference table: its settings, moments and each scenario's effect."""
    row = world_row(base, scenarios, params, prior.names, prior.draw(seed, index), world_seed(seed, index))
    return {"world": index, **row}


def world_row(base: Resolved | Scheme, scenarios: Mapping[str, Resolved | Scheme], params: Mapping[str, Any], names: Sequence[str],
              vector: np.ndarray, seed: int, moments: bool = True) -> dict[str, Any]:
    """The world of ``seed`` with settings ``vector``: its settings, moments (unless not
    ``moments``) and each scenario's ``delta_tau_truth``; ``error`` says why there is no world."""
    base = plain(base)
    scenarios = {k: plain(v) for k, v in scenarios.items()}
    row: dict[str, Any] = {"world_seed": int(seed), "error": ""}
    row.update({KNOB + n: float(v) for n, v in zip(names, vector)})
    try:
        world = generate_arrays(int(seed), with_knobs(params, dict(zip(names, vector))), monthly=False)
        check_world(world)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            datasets: dict = {}
            if moments:
                row.update({MOMENT + m: v for m, v in world_data_moments(world, base, datasets).items()})
            dataset = datasets[world.last.year] if world.last.year in datasets else world_dataset(world)
            year = world.last.year
            theta = dataset.truth.set_index("unit_id")["theta"].reindex(dataset.units["unit_id"]).to_numpy()
            b = score_arrays(base, dataset, year)
            tau_base = tau_truth(b.total, theta, b.inputs.groups)
            row["tau_truth:base"] = tau_base
            for name, scheme in scenarios.items():
                s = score_arrays(scheme, dataset, year)
                row[EFFECT + name] = tau_truth(s.total, theta, s.inputs.groups) - tau_base
    except PerfsimError as exc:          # a setting the generator cannot make a valid world of
        row["error"] = str(exc)
    return row


def _reference_chunk(task: tuple) -> list[dict[str, Any]]:
    base, scenarios, params, prior, seed, indices = task
    return [reference_row(base, scenarios, params, prior, i, seed) for i in indices]


def build_reference(base: Resolved | Scheme, scenarios: Mapping[str, Resolved | Scheme],
                    params: Mapping[str, Any], prior: Prior, worlds: int, seed: int, start: int = 0,
                    executor=None, chunk: int = 25,
                    progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Worlds ``start`` .. ``worlds - 1`` of the reference table (see the module docstring)."""
    base_s = plain(base)
    scen = {k: plain(v) for k, v in scenarios.items()}
    indices = list(range(start, worlds))
    tasks = [(base_s, scen, dict(params), prior, seed, indices[a:a + chunk]) for a in range(0, len(indices), chunk)]
    results = map(_reference_chunk, tasks) if executor is None else \
        (f.result() for f in [executor.submit(_reference_chunk, t) for t in tasks])
    rows: list[dict] = []
    for task, part in zip(tasks, results):
        rows += part
        if progress is not None:
            progress(len(task[-1]))
    columns = (["world", "world_seed", "error"] + [KNOB + n for n in prior.names]
               + [MOMENT + m.name for m in MOMENT_SPECS] + ["tau_truth:base"] + [EFFECT + k for k in scen])
    return pd.DataFrame(rows).reindex(columns=columns)


def scenarios_of(reference: pd.DataFrame) -> list[str]:
    return [c[len(EFFECT):] for c in reference.columns if c.startswith(EFFECT)]


def knobs_of(reference: pd.DataFrame) -> list[str]:
    return [c[len(KNOB):] for c in reference.columns if c.startswith(KNOB)]


# --------------------------------------------------------------------------- the emulator

@dataclass
class Emulator:
    """psi(knobs) per scenario: gradient-boosted trees fitted on the whole reference table
    (``models``), and on each of its two random halves (``halves``, to measure its error)."""

    knobs: list[str]
    models: dict[str, Any]
    #: R^2 of each scenario's model on a held-out fifth of the table (its early-stopping set);
    #: psi is an expectation over chance, so the R^2 of single worlds is bounded by their noise
    r2: dict[str, float]
    residual_sd: dict[str, float]
    halves: dict[str, tuple] = field(default_factory=dict)

    def predict(self, scenario: str, x: np.ndarray) -> np.ndarray:
        """psi at the settings ``x`` (rows)."""
        from threadpoolctl import threadpool_limits

        # one thread: the arrays are small, and OpenMP threads spinning beside worker
        # processes (a reference build, a benchmark) slow every call a hundredfold
        with threadpool_limits(limits=1, user_api="openmp"):
            return self.models[scenario].predict(np.asarray(x, dtype=float))

    def error_sd(self, scenario: str, x: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The emulator's error at the settings ``x``: a model fitted on half the table errs with
        about twice the variance of one fitted on all of it, so two independent halves differ by
        about four times that variance: sd = rms(half A - half B) / 2 (weighted by ``weights``)."""
        if scenario not in self.halves:
            return 0.0
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            a, b = (m.predict(np.asarray(x, dtype=float)) for m in self.halves[scenario])
        return float(np.sqrt(np.average((a - b) ** 2, weights=weights)) / 2)


def _boosted_trees(seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    # early stopping on a held-out fifth, scored by R^2: that score is the emulator's reported fit
    return HistGradientBoostingRegressor(max_iter=300, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=40,
                                         l2_regularization=1.0, early_stopping=True, validation_fraction=0.2,
                                         n_iter_no_change=20, scoring="r2", random_state=seed)


def fit_emulator(reference: pd.DataFrame, seed: int = 0) -> Emulator:
    """psi per scenario fitted on the whole table, and twice more on its two random halves: the
    halves' disagreement measures the emulator's own error where it is used (see
    :meth:`Emulator.error_sd`). (Averaging the two halves instead of the full fit saves a third
    of the time but covered the truth less often on held-out worlds: 0.79 against 0.81 for the
    weakest scenario.)"""
    ok = reference[reference["error"].fillna("") == ""]
    knobs = knobs_of(ok)
    x = ok[[KNOB + k for k in knobs]].to_numpy(dtype=float)
    models, halves, r2, sd = {}, {}, {}, {}
    half = np.random.default_rng([seed, 32]).random(len(ok)) < 0.5
    for name in scenarios_of(ok):
        y = ok[EFFECT + name].to_numpy(dtype=float)
        keep = np.isfinite(y)
        models[name] = _boosted_trees(seed).fit(x[keep], y[keep])
        r2[name] = float(models[name].validation_score_[-1])
        sd[name] = float(np.sqrt(max(1 - r2[name], 0.0)) * y[keep].std())
        halves[name] = tuple(_boosted_trees(seed + 1 + k).fit(x[keep & part], y[keep & part])
                             for k, part in enumerate((half, ~half)))
    return Emulator(knobs, models, r2, sd, halves)


# --------------------------------------------------------------------------- the posterior

@dataclass
class Posterior:
    prior: Prior
    observed: dict[str, float]            # the moments used, with their values
    unused: dict[str, str]                # moments not used and why
    rows: np.ndarray                      # reference rows accepted
    weights: np.ndarray                   # their weights (sum 1)
    knobs: np.ndarray                     # adjusted settings, accepted x knobs
    distance: np.ndarray
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        out = pd.DataFrame(self.knobs, columns=list(self.prior.names))
        out["weight"] = self.weights
        return out

    def draws(self, count: int, seed: int) -> np.ndarray:
        """``count`` settings drawn with the posterior weights."""
        rng = np.random.default_rng([seed, 41])
        return self.knobs[rng.choice(len(self.weights), size=count, p=self.weights)]


def _logit(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 1e-4, 1 - 1e-4)
    return np.log(u / (1 - u))


def _weighted_lstsq(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients (intercept first) of the weighted least-squares fit of y (n x p) on x (n x q)."""
    design = np.column_stack([np.ones(len(x)), x])
    root = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(design * root[:, None], y * (root[:, None] if y.ndim == 2 else root), rcond=None)
    return coef


def usable_moments(reference: pd.DataFrame, observed: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """The observed moments the table can use (finite, in the table, varying) and why others are not."""
    used, unused = {}, {}
    for name, value in observed.items():
        column = MOMENT + name
        if column not in reference:
            unused[name] = "not a moment of the reference table"
        elif value is None or not np.isfinite(value):
            unused[name] = "not measured in the data"
        else:
            sim = reference[column].to_numpy(dtype=float)
            if np.isfinite(sim).mean() < 0.95:
                unused[name] = "the synthetic worlds do not produce it"
            elif np.nanstd(sim) == 0:
                unused[name] = "constant over the synthetic worlds"
            else:
                used[name] = float(value)
    return used, unused


def posterior(reference: pd.DataFrame, observed: Mapping[str, float], accept: int | None = None) -> Posterior:
    """Rejection ABC with local-linear regression adjustment (see the module docstring)."""
    ok = reference[reference["error"].fillna("") == ""].reset_index(drop=True)
    names = knobs_of(ok)
    bounds = np.array([[ok[KNOB + n].min(), ok[KNOB + n].max()] for n in names])
    used, unused = usable_moments(ok, observed)
    if not used:
        raise PerfsimError("none of the observed moments can be compared with the reference table ("
                           + "; ".join(f"{k}: {v}" for k, v in unused.items()) + ")")
    s = ok[[MOMENT + m for m in used]].to_numpy(dtype=float)
    complete = np.isfinite(s).all(axis=1)
    target = np.array(list(used.values()))
    median = np.nanmedian(s, axis=0)
    mad = np.nanmedian(np.abs(s - median), axis=0) * 1.4826
    mad = np.where(mad > 0, mad, np.nanstd(s, axis=0))
    z = (s - target) / mad
    d = np.sqrt(np.nansum(z ** 2, axis=1))
    d[~complete] = np.inf
    n_ok = int(complete.sum())
    if accept is None:
        accept = int(min(max(200, 0.03 * n_ok), n_ok))
    accept = max(min(accept, n_ok), 10)
    rows = np.argsort(d, kind="stable")[:accept]
    h = d[rows[-1]] * 1.0001 if np.isfinite(d[rows[-1]]) and d[rows[-1]] > 0 else 1.0
    w = 1 - (d[rows] / h) ** 2                                   # Epanechnikov kernel
    w = np.maximum(w, 1e-12)
    w = w / w.sum()
    prior = Prior(tuple(names), bounds, tuple("" for _ in names))
    theta = ok.loc[rows, [KNOB + n for n in names]].to_numpy(dtype=float)
    lo, hi = bounds[:, 0], bounds[:, 1]
    logit = _logit((theta - lo) / (hi - lo))
    notes = []
    sz = z[rows]
    if accept > 3 * (sz.shape[1] + 1):
        coef = _weighted_lstsq(sz, logit, w)
        adjusted = logit - sz @ coef[1:]                       # corrected to the observed moments (z = 0)
        knobs = lo + (hi - lo) / (1 + np.exp(-adjusted))
    else:
        knobs = theta
        notes.append(f"too few accepted worlds ({accept}) for the regression adjustment; plain rejection")
    if n_ok < len(reference):
        notes.append(f"{len(reference) - n_ok} world(s) of the table left out (no valid world, or a moment missing)")
    return Posterior(prior, used, unused, ok.index.to_numpy()[rows], w, knobs, d[rows], notes)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Sequence[float]) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) - 0.5 * w
    cum /= w.sum()
    return np.interp(q, cum, v)


def identified(post: Posterior, ratio: float = IDENTIFIED_RATIO) -> pd.DataFrame:
    """Each knob's prior range against its posterior 90 % interval: identified when the posterior
    interval is at most ``ratio`` of the prior's own 90 % width (0.9 of the range)."""
    rows = []
    for k, name in enumerate(post.prior.names):
        lo, hi = post.prior.bounds[k]
        q05, q50, q95 = weighted_quantile(post.knobs[:, k], post.weights, [0.05, 0.5, 0.95])
        width = (q95 - q05) / (0.9 * (hi - lo))
        rows.append({"knob": name, "prior_lo": lo, "prior_hi": hi, "post_q05": q05, "post_median": q50,
                     "post_q95": q95, "width_ratio": width, "identified": bool(width <= ratio)})
    return pd.DataFrame(rows, columns=IDENTIFIED_COLUMNS)


# --------------------------------------------------------------------------- verdicts

def verdict_of(p_helps: float, p_hurts: float, level: float = VERDICT_PROBABILITY) -> str:
    """``helps`` / ``hurts`` when the posterior probability of that sign reaches ``level``."""
    if p_helps >= level:
        return "helps"
    if p_hurts >= level:
        return "hurts"
    return "undetermined"


def effect_draws(post: Posterior, emulator: Emulator, scenario: str) -> np.ndarray:
    """psi at every accepted (adjusted) setting of the posterior."""
    order = [post.prior.names.index(k) for k in emulator.knobs]
    return emulator.predict(scenario, post.knobs[:, order])


def effect_posterior(post: Posterior, emulator: Emulator, scenario: str, copies: int = 40,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draws of psi over the posterior that carry the emulator's own error: each accepted setting's
    psi plus ``copies`` normal errors of the emulator's error sd there. Returns (draws, weights)."""
    order = [post.prior.names.index(k) for k in emulator.knobs]
    settings = post.knobs[:, order]
    psi = emulator.predict(scenario, settings)
    sd = emulator.error_sd(scenario, settings, post.weights)
    noise = np.random.default_rng([seed, 61]).standard_normal((len(psi), copies)) * sd
    return (psi[:, None] + noise).ravel(), np.repeat(post.weights / copies, copies)


def verdicts(post: Posterior, emulator: Emulator, scenarios: Sequence[str] | None = None,
             decided: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per scenario: psi's posterior median, 90 % interval, P(helps), P(hurts) and the verdict,
    over the posterior settings and the emulator's error (:func:`effect_posterior`)."""
    rows = []
    for name in scenarios or list(emulator.models):
        psi, w = effect_posterior(post, emulator, name)
        q05, q50, q95 = weighted_quantile(psi, w, [0.05, 0.5, 0.95])
        helps, hurts = float(w[psi > 0].sum()), float(w[psi < 0].sum())
        rows.append({"scenario": name, "metric": "delta_tau_truth", "median": q50, "q05": q05, "q95": q95,
                     "p_helps": helps, "p_hurts": hurts, "verdict": verdict_of(helps, hurts),
                     "decided_by": (decided or {}).get(name, "")})
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


# --------------------------------------------------------------------------- the ledger

def _first_order(x: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Var(E[y | x]) / Var(y), E[y | x] by quantile bins of x."""
    if np.var(y) == 0:
        return 0.0
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:                       # x does not vary: it explains nothing
        return 0.0
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    means = np.bincount(which, weights=y) / np.maximum(np.bincount(which), 1)
    counts = np.bincount(which)
    return float(np.sum(counts * (means - y.mean()) ** 2) / len(y) / np.var(y))


def _crossing(grid: np.ndarray, curve: np.ndarray) -> float:
    """The first value of ``grid`` where ``curve`` changes sign (linear interpolation), NaN if none."""
    sign = np.sign(curve)
    change = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    if not len(change):
        return float("nan")
    i = change[0]
    return float(grid[i] - curve[i] * (grid[i + 1] - grid[i]) / (curve[i + 1] - curve[i]))


def ledger(post: Posterior, emulator: Emulator, scenarios: Sequence[str] | None = None, top: int = 3,
           draws: int = 600, seed: int = 0) -> pd.DataFrame:
    """Per scenario, the ``top`` knobs that move psi most over the posterior, where psi's median
    changes sign along each, and the knob's posterior interval (see the module docstring)."""
    rng = np.random.default_rng([seed, 51])
    order = [post.prior.names.index(k) for k in emulator.knobs]
    sample = post.draws(draws, seed)[:, order]
    bounds = post.prior.bounds[order]
    ident = identified(post).set_index("knob")
    rows = []
    for name in scenarios or list(emulator.models):
        psi = emulator.predict(name, sample)
        shares = np.array([_first_order(sample[:, k], psi) for k in range(sample.shape[1])])
        ranked = np.argsort(-shares, kind="stable")[:top]
        median_now = float(np.median(psi))
        for rank, k in enumerate(ranked, start=1):
            knob = emulator.knobs[k]
            grid = np.linspace(bounds[k, 0], bounds[k, 1], 25)
            sub = sample[rng.choice(len(sample), size=min(200, len(sample)), replace=False)]
            probe = np.repeat(sub[None, :, :], len(grid), axis=0)
            probe[:, :, k] = grid[:, None]
            curves = emulator.predict(name, probe.reshape(-1, sub.shape[1])).reshape(len(grid), len(sub))
            flip = _crossing(grid, np.median(curves, axis=1))
            boots = [_crossing(grid, np.median(curves[:, rng.integers(0, curves.shape[1], curves.shape[1])], axis=1))
                     for _ in range(40)]
            boots = np.array([b for b in boots if np.isfinite(b)])
            lo, hi = (np.quantile(boots, [0.05, 0.95]) if len(boots) >= 20 else (np.nan, np.nan))
            holds = ""
            if np.isfinite(flip):
                right = float(np.median(curves[-1]))            # psi's median at the top of the range
                holds = ("above" if (right > 0) == (median_now > 0) else "below")
            p = ident.loc[knob]
            rows.append({"scenario": name, "rank": rank, "knob": knob, "share": float(shares[k]),
                         "flip_at": flip, "flip_q05": lo, "flip_q95": hi,
                         "holds_if": holds, "post_q05": float(p["post_q05"]), "post_q95": float(p["post_q95"]),
                         "sentence": ledger_sentence(name, knob, median_now, flip, holds, p["post_q05"],
                                                     p["post_q95"], float(shares[k]))})
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def ledger_sentence(scenario: str, knob: str, median: float, flip: float, holds: str, q05: float, q95: float,
                    share: float) -> str:
    direction = "raises" if median > 0 else "lowers"
    data = f"the data put it at [{q05:.3g}, {q95:.3g}]"
    if not np.isfinite(flip):
        return (f"{scenario}: {knob} carries {share:.0%} of the effect's spread over the posterior; the median "
                f"effect ({direction} validity) does not change sign within the prior range; {data}")
    return (f"{scenario}: the median effect {direction} validity if {knob} is {holds} {flip:.3g} "
            f"({share:.0%} of the effect's spread); {data}")


def decided_by(ledger_table: pd.DataFrame) -> dict[str, str]:
    """Per scenario, in words: the knobs along which the median effect changes sign within the
    prior range (with the value), else the knob that moves it most and that none flips it."""
    out = {}
    for name, g in ledger_table.groupby("scenario", sort=False):
        flips = g[np.isfinite(g["flip_at"].astype(float))]
        if len(flips):
            out[name] = "decided by " + "; ".join(f"{r.knob} (sign changes at {r.flip_at:.3g})"
                                                  for r in flips.itertuples())
        else:
            out[name] = f"no knob changes its sign within the prior range; moved most by {g.iloc[0]['knob']}"
    return out


# --------------------------------------------------------------------------- value of information

def value_of_information(reference: pd.DataFrame, observed: Mapping[str, float], emulator: Emulator,
                         accept: int | None = None) -> pd.DataFrame:
    """Per moment and scenario: the 90 % interval of psi now and expected if the moment were known."""
    ok = reference[reference["error"].fillna("") == ""].reset_index(drop=True)
    used, _ = usable_moments(ok, observed)
    now = posterior(reference, observed, accept)
    widths_now = {}
    for name in emulator.models:
        psi = effect_draws(now, emulator, name)
        q05, q95 = weighted_quantile(psi, now.weights, [0.05, 0.95])
        widths_now[name] = float(q95 - q05)
    x = ok[[KNOB + k for k in emulator.knobs]].to_numpy(dtype=float)
    rows = []
    for spec in MOMENT_SPECS:
        column = MOMENT + spec.name
        if column not in ok or np.isfinite(ok[column].to_numpy(dtype=float)).mean() < 0.95 \
                or np.nanstd(ok[column].to_numpy(dtype=float)) == 0:
            continue
        others = {k: v for k, v in used.items() if k != spec.name}
        post = posterior(reference, others, accept) if others else None
        idx = post.rows if post is not None else np.arange(len(ok))
        w = post.weights if post is not None else np.full(len(ok), 1 / len(ok))
        # the (adjusted) settings of the posterior without the moment, and each one's value of it
        settings = post.knobs[:, [post.prior.names.index(k) for k in emulator.knobs]] if post is not None else x
        m = ok.loc[idx, column].to_numpy(dtype=float)
        fine = np.isfinite(m)
        for name in emulator.models:
            psi = emulator.predict(name, settings)
            q05, q95 = weighted_quantile(psi, w, [0.05, 0.95])
            width_without = float(q95 - q05)
            if spec.name in used:        # measured: what it brings now, computed with and without it
                known = widths_now[name]
            else:                        # not measured: the expected width if it were (preposterior)
                known = width_without * math.sqrt(1 - _weighted_r2(m[fine], psi[fine], w[fine]))
            rows.append({"moment": spec.name, "measured": spec.name in used, "scenario": name,
                         "width_now": widths_now[name], "width_without": width_without, "width_if_known": known,
                         "narrowing": max(0.0, 1 - known / width_without) if width_without > 0 else 0.0})
    return pd.DataFrame(rows, columns=VOI_COLUMNS)


def _weighted_r2(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 5 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    design = np.column_stack([x, x ** 2])
    coef = _weighted_lstsq(design, y, w)
    fitted = coef[0] + design @ coef[1:]
    mean = np.average(y, weights=w)
    total = np.average((y - mean) ** 2, weights=w)
    return float(np.clip(1 - np.average((y - fitted) ** 2, weights=w) / total, 0.0, 1.0)) if total > 0 else 0.0


# --------------------------------------------------------------------------- honest intervals

def _truth_task(task: tuple) -> dict[str, Any]:
    base, scenarios, params, names, vector, city_seed, truth_seeds = task
    city = world_row(base, scenarios, params, names, vector, city_seed)
    effects = [world_row(base, scenarios, params, names, vector, s, moments=False) for s in truth_seeds]
    truth = {k: float(np.nanmean([e.get(EFFECT + k, np.nan) for e in effects])) for k in scenarios}
    spread = {k: float(np.nanstd([e.get(EFFECT + k, np.nan) for e in effects], ddof=1)) for k in scenarios}
    return {"city": city, "truth": truth, "truth_sd": spread}


def held_out_worlds(base: Resolved | Scheme, scenarios: Mapping[str, Resolved | Scheme], params: Mapping[str, Any],
                    prior: Prior, count: int, seed: int, truth_seeds: int, executor=None,
                    progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """``count`` worlds with known settings, drawn from the prior apart from any reference table
    (indices from 10**9): each as a city (one world: its moments) and its true expected effects
    (the mean of ``delta_tau_truth`` over ``truth_seeds`` further worlds with the same settings)."""
    base_s = plain(base)
    scen = {k: plain(v) for k, v in scenarios.items()}
    tasks = []
    for j in range(count):
        index = 10 ** 9 + j
        seeds = np.random.SeedSequence([seed, 23, index]).generate_state(truth_seeds + 1)
        tasks.append((base_s, scen, dict(params), prior.names, prior.draw(seed, index), int(seeds[0]),
                      [int(x) for x in seeds[1:]]))
    results = map(_truth_task, tasks) if executor is None else \
        (f.result() for f in [executor.submit(_truth_task, t) for t in tasks])
    out = []
    for r in results:
        out.append(r)
        if progress is not None:
            progress(1)
    return out


def coverage(reference: pd.DataFrame, emulator: Emulator, held_out: Sequence[Mapping[str, Any]],
             accept: int | None = None) -> pd.DataFrame:
    """Run the whole inference on each held-out city (its own moments as the observed) and say,
    per scenario, whether the 90 % interval covers the true expected effect and whether the
    verdict has the wrong sign. Rows: world, scenario, truth, median, q05, q95, covered, verdict,
    wrong_sign."""
    rows = []
    for j, h in enumerate(held_out):
        city = h["city"]
        if city.get("error"):
            continue
        observed = {k[len(MOMENT):]: v for k, v in city.items() if k.startswith(MOMENT)}
        post = posterior(reference, observed, accept)
        table = verdicts(post, emulator)
        for r in table.itertuples():
            truth = h["truth"][r.scenario]
            rows.append({"world": j, "scenario": r.scenario, "truth": truth, "median": r.median, "q05": r.q05,
                         "q95": r.q95, "covered": bool(r.q05 <= truth <= r.q95), "verdict": r.verdict,
                         "p_helps": r.p_helps, "p_hurts": r.p_hurts,
                         "wrong_sign": bool((r.verdict == "helps" and truth < 0) or
                                            (r.verdict == "hurts" and truth > 0))})
    return pd.DataFrame(rows)


def coverage_summary(per_world: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: worlds, coverage of the 90 % interval (with its binomial standard error),
    share of worlds with a verdict, and the wrong-sign rate."""
    g = per_world.groupby("scenario", sort=False)
    out = pd.DataFrame({"worlds": g.size(), "coverage": g["covered"].mean(),
                        "decided": g["verdict"].apply(lambda v: float((v != "undetermined").mean())),
                        "wrong_sign": g["wrong_sign"].mean()})
    out["coverage_se"] = np.sqrt(out["coverage"] * (1 - out["coverage"]) / out["worlds"])
    return out.reset_index()


# --------------------------------------------------------------------------- one scenario's verdict

def load_reference(folder) -> tuple[pd.DataFrame, dict] | None:
    """The reference table of ``folder`` and its facts (reference.json), None if there is none."""
    from pathlib import Path

    folder = Path(folder)
    if not (folder / "reference.parquet").is_file() or not (folder / "reference.json").is_file():
        return None
    return pd.read_parquet(folder / "reference.parquet"), json.loads((folder / "reference.json").read_text("utf-8"))


def reference_for(folder, base: Resolved | Scheme) -> tuple[tuple[pd.DataFrame, dict] | None, str]:
    """The reference table of ``folder`` if it was built for ``base``: ((table, facts), "") or
    (None, why not: no table, or one built for another base or another version of it)."""
    loaded = load_reference(folder)
    if loaded is None:
        return None, f"no reference table in {folder} (build one: perfsim reference --out {folder})"
    table, facts = loaded
    hashes = facts.get("scheme_hashes", {})
    name = plain(base).name
    if facts.get("base") != name or hashes.get("base") not in (None, scheme_hash(base)):
        return None, (f"the reference table in {folder} was built for the base '{facts.get('base')}' "
                      f"(hash {hashes.get('base')}), not this '{name}' ({scheme_hash(base)})")
    return (table, facts), ""


def posterior_verdict(table: pd.DataFrame, observed: Mapping[str, float], scenario: str, seed: int = 0,
                      emulator: Emulator | None = None) -> dict[str, Any]:
    """One scenario's verdict over the posterior given ``observed`` moments, with the ledger of
    the assumptions that decide it: {verdict: row of :func:`verdicts`, ledger: its rows,
    worlds, accepted, moments}. ``scenario`` must be a scenario of the table."""
    if scenario not in scenarios_of(table):
        raise PerfsimError(f"the reference table holds no scenario '{scenario}' "
                           f"(it holds: {', '.join(scenarios_of(table))})")
    post = posterior(table, observed)
    emulator = emulator or fit_emulator(table[[c for c in table.columns if not c.startswith(EFFECT)]
                                              + [EFFECT + scenario]], seed=seed)
    led = ledger(post, emulator, [scenario], seed=seed)
    row = verdicts(post, emulator, [scenario], decided_by(led)).iloc[0].to_dict()
    return {"verdict": row, "ledger": led.to_dict("records"), "worlds": int(len(table)),
            "accepted": int(len(post.rows)), "moments": list(post.observed)}


def dataset_verdict(folder, base: Resolved, scenario: Resolved, dataset, year: int | str | None = None,
                    seed: int = 0) -> tuple[dict[str, Any] | None, str]:
    """The verdict of ``scenario`` over the worlds ``dataset``'s own moments allow, from the
    reference table in ``folder``: (result of :func:`posterior_verdict`, "") or (None, why not:
    no table, or one built for another base or without this scenario, or for other versions of
    them)."""
    from .moments import data_moments

    found, why = reference_for(folder, base)
    if found is None:
        return None, why
    table, facts = found
    hashes = facts.get("scheme_hashes", {})
    if scenario.name not in facts.get("scenarios", []):
        return None, (f"the reference table in {folder} holds no scenario '{scenario.name}' "
                      f"(it holds: {', '.join(facts.get('scenarios', []))})")
    if hashes.get(scenario.name) not in (None, scheme_hash(scenario)):
        return None, (f"the reference table in {folder} was built for another version of '{scenario.name}' "
                      "(its file changed since): rebuild it with perfsim reference")
    moments = data_moments(base, dataset, year, boot=0, seed=seed)
    observed = dict(zip(moments["moment"], moments["value"].astype(float)))
    result = posterior_verdict(table, observed, scenario.name, seed)
    labels = facts.get("labels") or _default_labels()
    for row in result["ledger"]:
        row["label"] = labels.get(row["knob"], "")
    return result, ""


def _default_labels() -> dict[str, str]:
    """The Chinese names of params/calibration.yaml (for a table whose facts predate them)."""
    from ..core.paths import PARAMS_DIR
    from ..core.yamlio import load_yaml

    raw = load_yaml(PARAMS_DIR / "calibration.yaml")
    return dict(raw.get("labels") or {})
