"""Calibrating the synthetic world to the documented facts, and its plausible worlds.

The targets (``params/calibration.yaml``) are moments a synthetic world must reproduce
under a scheme: the distribution of totals, grade shares, the spread of the leader rating
and of satisfaction within categories, the share of self-reported and of cascaded targets
met, how often deductions and vetoes occur. Each has a value, a tolerance and its basis.

:func:`calibrate` fits the generator's knobs named in the targets by the simulated method
of moments: the distance ``sum(((simulated - target) / tolerance) ** 2)`` over the moments,
each simulated moment the mean over a fixed set of worlds (common random numbers, so the
objective is deterministic), minimised with ``scipy.optimize.minimize`` (Nelder-Mead within
the knobs' ranges, scaled to the unit cube). :func:`plausible_worlds` then draws knob
vectors around the fit (a Latin hypercube from ``scipy.stats.qmc``) and keeps those whose
own world reproduces every moment within its tolerance: approximate Bayesian computation
by rejection, every kept vector with weight 1. Ensembles draw their worlds from them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.engine import Tree, score_arrays
from ..core.errors import PerfsimError
from ..core.scheme import Resolved, Scheme, load_scenario, pydantic_error
from ..core.yamlio import load_yaml
from ..sources.synth import World, generate_arrays, structure, world_dataset

DEFAULT_TARGETS = "calibration.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MomentTarget(_Strict):
    value: float
    tolerance: float = Field(gt=0)
    basis: Literal["grounded", "assumption"]
    source: str = Field(min_length=1)
    description: str | None = None


class KnobRange(_Strict):
    range: tuple[float, float]
    #: where the range comes from (a prior's must be said)
    basis: Literal["grounded", "assumption"] = "assumption"
    source: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "KnobRange":
        if not self.range[1] > self.range[0]:
            raise ValueError(f"range {list(self.range)}: the upper end must be above the lower")
        return self


class Prior(KnobRange):
    """A generator setting that moves a component's validity but that the moments do not
    pin down: the range worlds are drawn from, with its basis and source."""

    source: str = Field(min_length=10)


class Targets(_Strict):
    scheme: str = Field(min_length=1)
    worlds: int = Field(default=4, ge=1, le=64)
    moments: dict[str, MomentTarget] = Field(min_length=1)
    #: the settings the fit moves (simulated method of moments)
    knobs: dict[str, KnobRange] = Field(min_length=1)
    #: the settings that decide verdicts but that no moment above informs: drawn from these ranges
    priors: dict[str, Prior] = {}
    #: every other setting of the generator, with the reason it stays as it is
    fixed: dict[str, str] = {}
    #: what a setting of the generator means, in Chinese (the name verdict sentences use)
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _check(self) -> "Targets":
        for a, b in (("knobs", "priors"), ("knobs", "fixed"), ("priors", "fixed")):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"'{a}' and '{b}' both name {', '.join(both)}: a setting is one of them")
        short = sorted(k for k, why in self.fixed.items() if len(why.strip()) < 20)
        if short:
            raise ValueError(f"'fixed.{short[0]}': say why the setting stays fixed (at least a sentence)")
        return self


# --------------------------------------------------------------------------- moments

def _within_sd(x: np.ndarray, groups: np.ndarray) -> float:
    ok = ~np.isnan(x)
    x, groups = x[ok], groups[ok]
    means = np.bincount(groups, weights=x) / np.maximum(np.bincount(groups), 1)
    return float(np.sqrt(np.mean((x - means[groups]) ** 2))) if len(x) else float("nan")


def _leaf_of(tree: Tree, source: str) -> int | None:
    for j, i in enumerate(tree.leaves):
        if tree.leaf_source(i) == source:
            return j
    return None


def world_moments(world: World, scheme: Scheme) -> dict[str, float]:
    """Every moment of ``params/calibration.yaml`` on one world's last year under ``scheme``."""
    y, st = world.last, world.structure
    s = score_arrays(scheme, world_dataset(world), y.year)
    tree = Tree.of(scheme)
    groups = s.inputs.categories
    total = s.total
    out = dict(zip(("total_p10", "total_p50", "total_p90"), map(float, np.percentile(total, [10, 50, 90]))))
    grades = len(scheme.grading.grades) if scheme.grading else 1
    out["share_lowest_grade"] = float(np.mean(s.grade == grades - 1)) if scheme.grading else 0.0
    parts = np.zeros_like(total)
    for name, source in (("leader_sd_within", "leader_ratings"), ("satisfaction_sd_within", "satisfaction")):
        j = _leaf_of(tree, source)
        out[name] = _within_sd(s.inputs.x[:, j], groups) if j is not None else 0.0
        if j is not None:
            parts = parts + s.node_points[:, tree.leaves[j]]
    centred_total = total - (np.bincount(groups, weights=total) / np.bincount(groups))[groups]
    centred_parts = parts - (np.bincount(groups, weights=parts) / np.bincount(groups))[groups]
    var = float(np.sum(centred_total ** 2))
    out["subjective_share"] = float(np.sum(centred_parts * centred_total) / var) if var > 0 else 0.0
    met = np.where(st.lower[None, :], y.actual <= y.target, y.actual >= y.target)
    has = ~np.isnan(y.target)
    for name, method in (("self_target_met", "self"), ("cascade_target_met", "cascade")):
        code = int(np.flatnonzero(world.methods == method)[0]) if method in world.methods else -1
        cells = has & (y.method == code)
        out[name] = float(met[cells].mean()) if cells.any() else float("nan")
    out["deduction_share"] = float((y.deduction > 0).any(axis=1).mean())
    out["veto_share"] = float(y.veto.mean())
    return out


MOMENTS = ("total_p10", "total_p50", "total_p90", "share_lowest_grade", "leader_sd_within",
           "satisfaction_sd_within", "subjective_share", "self_target_met", "cascade_target_met",
           "deduction_share", "veto_share")


# --------------------------------------------------------------------------- knobs

def generator_settings(raw: Mapping[str, Any]) -> list[str]:
    """Every setting of a generator knob file as written (a section's key whose entry has a
    ``value``): the list every setting must be accounted for in (a knob, a prior or fixed)."""
    return [f"{section}.{name}" for section, entries in raw.items() if isinstance(entries, Mapping)
            for name, entry in entries.items() if isinstance(entry, Mapping) and "value" in entry]


def get_knob(params: Mapping[str, Any], path: str) -> Any:
    node: Any = params
    for part in path.split("."):
        node = node[part]
    return node


def with_knobs(params: Mapping[str, Any], knobs: Mapping[str, float]) -> dict[str, Any]:
    """A copy of the generator's knobs with some values replaced (dotted paths)."""
    out = copy.deepcopy(dict(params))
    for path, value in knobs.items():
        *head, last = path.split(".")
        node = out
        for part in head:
            node = node[part]
        node[last] = float(value)
    return out


@dataclass(frozen=True)
class Setup:
    """Targets, the scheme they are measured under and the generator's knobs, checked."""

    targets: Targets
    scheme: Resolved
    params: dict[str, Any]
    where: str

    @property
    def names(self) -> list[str]:
        return list(self.targets.knobs)

    @property
    def bounds(self) -> np.ndarray:
        return np.array([k.range for k in self.targets.knobs.values()], dtype=float)


def load_setup(path: str | Path, params: Mapping[str, Any]) -> Setup:
    """Read and check a calibration targets file against the generator's knobs."""
    path = Path(path)
    raw = load_yaml(path)
    try:
        targets = Targets.model_validate(raw)
    except ValidationError as exc:
        raise pydantic_error(exc, str(path)) from None
    unknown = [m for m in targets.moments if m not in MOMENTS]
    if unknown:
        raise PerfsimError(f"key 'moments.{unknown[0]}': unknown moment (known: {', '.join(MOMENTS)})", where=path)
    for section, entries in (("knobs", targets.knobs), ("priors", targets.priors)):
        for name, knob in entries.items():
            try:
                value = get_knob(params, name)
            except (KeyError, TypeError):
                raise PerfsimError(f"key '{section}.{name}': not a knob of the generator (params/synth.yaml)",
                                   where=path) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PerfsimError(f"key '{section}.{name}': the knob is not a single number", where=path)
            low, high = knob.range
            if not low <= float(value) <= high and section == "priors":
                raise PerfsimError(f"key 'priors.{name}': the generator's value {value:g} lies outside the range "
                                   f"[{low:g}, {high:g}]", where=path)
    for section, names in (("fixed", targets.fixed), ("labels", targets.labels)):
        for name in names:
            try:
                get_knob(params, name)
            except (KeyError, TypeError):
                raise PerfsimError(f"key '{section}.{name}': not a setting of the generator (params/synth.yaml)",
                                   where=path) from None
    scheme_path = (path.parent / targets.scheme)
    if not scheme_path.is_file():
        raise PerfsimError(f"key 'scheme': {targets.scheme!r} is not a file (looked in {path.parent})", where=path)
    return Setup(targets, load_scenario(scheme_path), dict(params), str(path))


def simulate(setup: Setup, knobs: Mapping[str, float], seeds: Sequence[int]) -> dict[str, float]:
    """Mean moments over the worlds of ``seeds`` generated with ``knobs``."""
    params = with_knobs(setup.params, knobs)
    rows = [world_moments(generate_arrays(int(s), params, years=1, monthly=False), setup.scheme.scheme)
            for s in seeds]
    return {m: float(np.nanmean([r[m] for r in rows])) for m in setup.targets.moments}


def distance(setup: Setup, moments: Mapping[str, float]) -> float:
    """Sum over the moments of ((simulated - target) / tolerance) ** 2."""
    total = 0.0
    for name, target in setup.targets.moments.items():
        value = moments.get(name, float("nan"))
        total += ((value - target.value) / target.tolerance) ** 2 if math.isfinite(value) else 1e6
    return total


def within(setup: Setup, moments: Mapping[str, float]) -> bool:
    return all(abs(moments[m] - t.value) <= t.tolerance for m, t in setup.targets.moments.items())


# --------------------------------------------------------------------------- fit

@dataclass
class Calibration:
    setup: Setup
    knobs: dict[str, float]          # the fitted values
    start: dict[str, float]          # the values before
    fit: pd.DataFrame                # moment, target, tolerance, achieved, ok, basis
    evaluations: int
    distance: float
    plausible: pd.DataFrame | None = None
    tried: int = 0


def _fit_seeds(seed: int, worlds: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence([seed, 1]).generate_state(worlds)]


def calibrate(setup: Setup, budget: int, seed: int,
              progress: Callable[[int], None] | None = None) -> Calibration:
    """Fit the knobs to the moments (simulated method of moments, see the module docstring)
    with at most ``budget`` evaluations of the objective."""
    from scipy.optimize import minimize

    names, bounds = setup.names, setup.bounds
    lo, span = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    start = {n: float(get_knob(setup.params, n)) for n in names}
    x0 = np.clip((np.array([start[n] for n in names]) - lo) / span, 0.0, 1.0)
    seeds = _fit_seeds(seed, setup.targets.worlds)
    calls = [0]

    def objective(u: np.ndarray) -> float:
        calls[0] += 1
        if progress is not None:
            progress(1)
        knobs = dict(zip(names, lo + np.clip(u, 0, 1) * span))
        return distance(setup, simulate(setup, knobs, seeds))

    result = minimize(objective, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(names),
                      options={"maxfev": int(budget), "xatol": 1e-3, "fatol": 1e-3, "adaptive": True,
                               "initial_simplex": _simplex(x0)})
    fitted = {n: float(v) for n, v in zip(names, lo + np.clip(result.x, 0, 1) * span)}
    check_seeds = _fit_seeds(seed + 1, max(16, setup.targets.worlds))   # reported on fresh worlds
    achieved = simulate(setup, fitted, check_seeds)
    fit = pd.DataFrame([{"moment": m, "target": t.value, "tolerance": t.tolerance, "achieved": achieved[m],
                         "ok": bool(abs(achieved[m] - t.value) <= t.tolerance), "basis": t.basis,
                         "source": t.source} for m, t in setup.targets.moments.items()])
    return Calibration(setup, fitted, start, fit, calls[0], float(result.fun))


def _simplex(x0: np.ndarray, step: float = 0.15) -> np.ndarray:
    """A starting simplex inside the unit cube: x0 and one step along each axis (inwards)."""
    simplex = np.repeat(x0[None, :], len(x0) + 1, axis=0)
    for k in range(len(x0)):
        simplex[k + 1, k] = x0[k] + step if x0[k] + step <= 1 else x0[k] - step
    return simplex


def plausible_worlds(calibration: Calibration, candidates: int, seed: int, executor=None,
                     half_width: float = 0.08, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Knob vectors that reproduce every moment within tolerance on a world of their own.

    Candidates are a Latin hypercube (``scipy.stats.qmc``) over a box around the fit
    (``half_width`` of each knob's range on either side, within the range); each is
    simulated on one world with its own seed and kept if every moment lies within its
    tolerance (ABC rejection). Columns: the knobs, ``weight`` (1 for every kept vector).
    """
    from scipy.stats import qmc

    setup = calibration.setup
    names, bounds = setup.names, setup.bounds
    centre = np.array([calibration.knobs[n] for n in names])
    half = half_width * (bounds[:, 1] - bounds[:, 0])
    lo, hi = np.maximum(bounds[:, 0], centre - half), np.minimum(bounds[:, 1], centre + half)
    sample = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng([seed, 2])).random(candidates)
    vectors = lo + sample * (hi - lo)
    seeds = _fit_seeds(seed + 2, candidates)
    items = [(setup, dict(zip(names, v)), s) for v, s in zip(vectors, seeds)]
    chunks = [items[a:a + 8] for a in range(0, len(items), 8)]
    results = map(_candidates, chunks) if executor is None else (f.result() for f in
                                                                 [executor.submit(_candidates, c) for c in chunks])
    kept = []
    for chunk, oks in zip(chunks, results):
        if progress is not None:
            progress(len(chunk))
        kept += [knobs for (_, knobs, _), ok in zip(chunk, oks) if ok]
    out = pd.DataFrame(kept, columns=names)
    out["weight"] = 1.0
    calibration.plausible, calibration.tried = out, candidates
    return out


def _candidates(items) -> list[bool]:
    return [within(setup, simulate(setup, knobs, [seed])) for setup, knobs, seed in items]


def calibrated_params(calibration: Calibration, raw: Mapping[str, Any], note: str) -> dict[str, Any]:
    """The generator's knob file (as plain data, in the format of ``params/synth.yaml``) with
    the fitted knobs set, each marked ``basis: calibrated`` with ``note`` as its source."""
    out = copy.deepcopy(dict(raw))
    for path, value in calibration.knobs.items():
        node: Any = out
        for part in path.split("."):
            node = node[part]
        node["value"] = round(float(value), 6)
        node["basis"] = "calibrated"
        node["source"] = note + (f"; before: {calibration.start[path]:g}" if path in calibration.start else "")
    return out


def knob_draws(plausible: pd.DataFrame, params: Mapping[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` knob sets for an ensemble: rows of ``plausible`` drawn with their weights
    (with replacement), each applied to ``params``."""
    knobs = [c for c in plausible.columns if c != "weight"]
    if plausible.empty:
        raise PerfsimError("no plausible worlds to draw from (the table is empty)")
    weights = plausible["weight"].to_numpy(dtype=float) if "weight" in plausible else np.ones(len(plausible))
    rng = np.random.default_rng([seed, 3])
    rows = rng.choice(len(plausible), size=count, p=weights / weights.sum())
    return [with_knobs(params, dict(zip(knobs, plausible.iloc[r][knobs].astype(float)))) for r in rows]


def check_structure(params: Mapping[str, Any]) -> None:
    structure(params)


def update_knob_text(text: str, knobs: Mapping[str, float], note: str) -> str:
    """A knob file's text with the given knobs (``section.name``) set, marked ``basis:
    calibrated`` with ``note`` as their source, comments and layout kept."""
    import re

    lines = text.splitlines()
    for path, value in knobs.items():
        section, name = path.split(".", 1)
        start = next((i for i, l in enumerate(lines) if re.match(rf"^{re.escape(section)}:\s*(#.*)?$", l)), None)
        if start is None:
            raise PerfsimError(f"no section '{section}' in the knob file")
        head = next((i for i in range(start + 1, len(lines))
                     if re.match(rf"^  {re.escape(name)}:\s*(#.*)?$", lines[i])), None)
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\S", lines[i])), len(lines))
        if head is None or head > end:
            raise PerfsimError(f"no knob '{path}' in the knob file")
        stop = next((i for i in range(head + 1, len(lines)) if not lines[i].startswith("    ")), len(lines))
        old = {m.group(1): m.group(2) for l in lines[head + 1:stop]
               if (m := re.match(r"^    (value|basis|source):\s*(.*)$", l))}
        body = [l for l in lines[head + 1:stop] if not re.match(r"^    (value|basis|source):", l)]
        meaning = old.get("source", "").strip().strip('"')
        if "calibrated" == old.get("basis", "").strip():        # keep the knob's meaning, not the old note
            meaning = meaning.split(" | meaning: ", 1)[-1] if " | meaning: " in meaning else ""
        source = note + (f" | meaning: {meaning}" if meaning else "")
        lines[head + 1:stop] = [f"    value: {round(float(value), 6)}", "    basis: calibrated",
                                f"    source: {yaml_quote(source)}", *body]
    return "\n".join(lines) + "\n"


def yaml_quote(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
