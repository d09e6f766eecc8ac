"""The synthetic world: a seeded city of 108 units in the data contract, over several years.

Everything is driven by each unit's true performance and by the knobs in
``params/synth.yaml`` (each with its basis: grounded, assumption or calibrated). True
performance has a visible part (显绩) and a latent part (潜绩, seed 四.(三).1), both
persistent from year to year; ``theta`` (written to ``truth.csv`` with both parts) is their
combination. Visible indicators and the city leaders' ratings respond more to the visible
part, latent indicators to the latent part, satisfaction to the whole.

:func:`generate_arrays` draws a :class:`World` as numpy arrays (fast: ensembles and
calibration use it directly, without files or pandas); :func:`world_tables` turns it into
the tables of the data contract, and :func:`generate_world` does both. One seed feeds a
fixed set of :class:`numpy.random.Generator` streams in a fixed order, so the same seed
and knobs give byte-identical files. All names are generic and every file is labelled
synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.contract import Dataset
from ..core.errors import PerfsimError
from ..core.knobs import load_knobs
from ..core.paths import SYNTH_PARAMS
from .readers import write_dataset

DEFAULT_PARAMS = SYNTH_PARAMS
MONTHS = 12
FACETS = ("contribution", "social_impact", "satisfaction", "admin_cost")
QUARTER_ENDS = (3, 6, 9, 12)
#: units of measure of task counts (reported as whole numbers)
COUNTS = ("项", "个", "场", "套")


def category_names_en() -> dict[str, str]:
    """English names of the unit categories: the synthetic generator's labels (``label_en`` of
    params/synth.yaml) and ``district``; empty where the knob file cannot be read."""
    try:
        cats = synth_params(DEFAULT_PARAMS)["units"]["department_categories"]
        out = {k: v["label_en"] for k, v in cats.items() if isinstance(v, Mapping) and "label_en" in v}
    except (PerfsimError, KeyError, TypeError):
        out = {}
    out.setdefault("district", "Districts")
    return out


def synth_params(path: str | Path | None = None) -> dict[str, Any]:
    """The generator's knobs (default ``params/synth.yaml``), validated by :func:`load_knobs`."""
    return load_knobs(Path(path) if path is not None else DEFAULT_PARAMS)


# --------------------------------------------------------------------------- structure

@dataclass(frozen=True)
class Structure:
    """What does not change from world to world for given unit counts and indicator library."""

    units: pd.DataFrame             # unit_id, name, name_en, kind, category, district_type
    ids: np.ndarray
    group: np.ndarray               # central / outer / department category, per unit
    is_district: np.ndarray
    outer: np.ndarray
    indicators: pd.DataFrame        # the contract's indicators table (+ season)
    ind_ids: np.ndarray
    applies: np.ndarray             # units x indicators
    level: np.ndarray
    share: np.ndarray               # percentages near 100 (or 0): close part of the gap
    lower: np.ndarray
    latent: np.ndarray              # indicator responds to latent work
    counts: np.ndarray              # whole-number counts
    tasks: np.ndarray               # annual task lists (counts of kind annual_task)
    profile: np.ndarray             # indicators x 12: cumulative share reached by each month
    reported: np.ndarray            # indicators x 12: the months an indicator is reported in


def _structure_key(p: Mapping[str, Any]) -> tuple:
    u = p["units"]
    cats = tuple((k, v["count"], v["label"], v["label_en"]) for k, v in u["department_categories"].items())
    lib = tuple(tuple(sorted((k, str(v)) for k, v in d.items())) for d in p["indicator_library"])
    seasons = tuple((k, tuple(v)) for k, v in p["seasons"].items())
    return (u["central_districts"], u["outer_districts"], cats, lib, seasons)


def structure(p: Mapping[str, Any]) -> Structure:
    return _structure(_structure_key(p), _Frozen(p))


class _Frozen:
    """Knobs carried into a cached call without being part of its key."""

    def __init__(self, p: Mapping[str, Any]) -> None:
        self.p = p

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return True


@lru_cache(maxsize=8)
def _structure(key: tuple, frozen: _Frozen) -> Structure:
    p = frozen.p
    u = p["units"]
    rows = []
    for i in range(u["central_districts"]):
        rows.append((f"D{i + 1:02d}", f"中心城区{i + 1}", f"Central District {i + 1}", "district", "district",
                     "central"))
    for i in range(u["outer_districts"]):
        j = u["central_districts"] + i + 1
        rows.append((f"D{j:02d}", f"远城区{i + 1}", f"Outer District {i + 1}", "district", "district", "outer"))
    for cat, spec in u["department_categories"].items():
        for i in range(spec["count"]):
            rows.append((f"{cat[:3].upper()}{i + 1:02d}", f"{spec['label']}部门{i + 1:02d}",
                         f"{spec['label_en']} Dept {i + 1:02d}", "department", cat, None))
    units = pd.DataFrame(rows, columns=["unit_id", "name", "name_en", "kind", "category", "district_type"])
    is_district = (units["kind"] == "district").to_numpy()
    group = np.where(is_district, units["district_type"], units["category"]).astype(str)
    lib = p["indicator_library"]
    indicators = pd.DataFrame([{
        "indicator_id": d["id"], "name": d["name"], "name_en": d["name_en"], "dimension": d["dimension"],
        "direction": d["direction"], "unit_of_measure": d["uom"], "kind": d["kind"],
        "frequency": d["frequency"], "visibility": d["visibility"],
        "season": "level" if d.get("pct") else d.get("season", "flat"),
    } for d in lib])
    level = np.array([float(d["level"]) for d in lib])
    pct = np.array([bool(d.get("pct")) for d in lib])
    lower = np.array([d["direction"] == "lower" for d in lib])
    # a percentage near 100 (higher is better) closes part of its gap to 100; a small rate
    # (a fall of energy use of 4 %, a 4 % error rate) varies in proportion to itself, like
    # an amount
    share = pct & ~lower & (level >= 50)
    seasons = p["seasons"]
    profile = np.array([[1.0] * MONTHS if d.get("pct") else seasons[d.get("season", "flat")] for d in lib])
    months = np.arange(1, MONTHS + 1)
    reported = np.array([np.isin(months, QUARTER_ENDS) if d["frequency"] == "quarterly"
                         else months == MONTHS if d["frequency"] == "annual" else np.ones(MONTHS, bool)
                         for d in lib])
    return Structure(
        units=units, ids=units["unit_id"].to_numpy(), group=group, is_district=is_district,
        outer=(units["district_type"] == "outer").to_numpy(), indicators=indicators,
        ind_ids=indicators["indicator_id"].to_numpy(),
        applies=np.array([[g in d["applies"] for d in lib] for g in group]), level=level, share=share,
        lower=lower, latent=np.array([d["visibility"] == "latent" for d in lib]),
        counts=np.array([d["uom"] in COUNTS for d in lib]),
        tasks=np.array([d["uom"] in COUNTS and d["kind"] == "annual_task" for d in lib]),
        profile=profile, reported=reported)


# --------------------------------------------------------------------------- the world

@dataclass
class Year:
    """One year of a world, as arrays (units in the order of ``Structure.ids``)."""

    year: int
    visible: np.ndarray             # n: visible work (显绩)
    latent: np.ndarray              # n: latent work (潜绩)
    theta: np.ndarray               # n: true performance
    target: np.ndarray              # n x m, NaN where an indicator does not apply
    method: np.ndarray              # n x m codes into World.methods
    actual: np.ndarray              # n x m: the year-end (December) value
    monthly: np.ndarray | None      # n x m x 12 year-to-date values (only when tables are wanted)
    leader: np.ndarray              # raters x n
    favour: np.ndarray              # raters x n: True where a rater favours a unit (人情分)
    sat_score: np.ndarray           # n x groups
    sat_respondents: np.ndarray     # n x groups
    special: np.ndarray             # n x 4 facets, NaN for departments
    bonus: np.ndarray               # n points (0: none)
    deduction: np.ndarray           # n x items points (0: none)
    veto: np.ndarray                # n bool


@dataclass
class World:
    """A synthetic world: its structure, the knobs and seed it came from, and its years."""

    structure: Structure
    params: Mapping[str, Any]
    seed: int
    staff: np.ndarray
    budget: np.ndarray
    consumption: np.ndarray
    raters: list[str]
    rater_leniency: np.ndarray
    rater_compression: np.ndarray
    groups: list[str]
    items: list[str]
    methods: np.ndarray
    years: list[Year] = field(default_factory=list)
    rater_panel: list[str] = field(default_factory=list)    # each rater's panel (leaders, experts, ...)
    #: shared targets: (indicator column, unit rows (lead first), shares)
    shared: list = field(default_factory=list)

    @property
    def last(self) -> Year:
        return self.years[-1]


def block_generators(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for the blocks of a world, all spawned from one seed.

    The leader ratings have a stream of their own, so a sweep over rater behaviour can
    redraw them under other knobs while every other table stays the same (common random
    numbers: the same draws, transformed differently).
    """
    world, leader, months = np.random.SeedSequence(seed).spawn(3)
    return {"world": np.random.default_rng(world), "leader": np.random.default_rng(leader),
            "months": np.random.default_rng(months)}


def _ar1(rng: np.random.Generator, n: int, years: int, rho: float, sd: float) -> np.ndarray:
    out = np.empty((years, n))
    out[0] = sd * rng.standard_normal(n)
    for t in range(1, years):
        out[t] = rho * out[t - 1] + np.sqrt(1 - rho ** 2) * sd * rng.standard_normal(n)
    return out


def leader_ratings(perceived: np.ndarray, knobs: Mapping[str, Any], rng: np.random.Generator,
                   leniency: np.ndarray | None = None, compression: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """City-leader ratings (raters x units): leniency, favouritism (人情分), balancing
    (平衡分) and noise. Returns (ratings, favour, leniency, compression).

    rating = rater mean + (1 - compression_r) x (raw - rater mean), clipped to [floor, 100],
    raw = mean + leniency_r + theta_effect x perceived_u + favour_points x [r favours u] + noise.
    Rater r favours unit u when rho z_u + sqrt(1 - rho^2) e_ru exceeds the normal quantile of
    1 - favour_prob, where z_u is the unit's connectedness shared by all raters and rho =
    favour_correlation. Each rater's compression is drawn around ``compression`` with
    ``compression_sd`` (clipped to [0, 0.95]); leniency and compression are drawn once per
    world and kept over its years when given.
    """
    from scipy.special import ndtri

    n, r = len(perceived), int(knobs["raters"])
    if leniency is None:
        leniency = knobs["leniency_sd"] * rng.standard_normal(r)
        compression = np.clip(knobs["compression"] + knobs.get("compression_sd", 0.0) * rng.standard_normal(r),
                              0.0, 0.95)
    rho = float(knobs["favour_correlation"])
    connected = rho * rng.standard_normal(n)[None, :] + np.sqrt(1 - rho ** 2) * rng.standard_normal((r, n))
    favour = connected > ndtri(1.0 - knobs["favour_prob"])
    raw = (knobs["mean"] + leniency[:, None] + knobs["theta_effect"] * perceived[None, :]
           + knobs["favour_points"] * favour + knobs["noise_sd"] * rng.standard_normal((r, n)))
    rater_mean = raw.mean(axis=1, keepdims=True)
    rating = rater_mean + (1.0 - compression[:, None]) * (raw - rater_mean)
    return np.clip(np.round(rating, 1), knobs["floor"], 100.0), favour, leniency, compression


def generate_arrays(seed: int, params: Mapping[str, Any] | None = None, years: int | None = None,
                    monthly: bool = True) -> World:
    """Draw a world as arrays: ``years`` years (default: the knobs' ``years``) ending with
    the knobs' ``year``; ``monthly`` also draws the year-to-date path of every indicator
    (tables need it; scoring uses the year-end values only)."""
    p = dict(params) if params is not None else synth_params()
    st = structure(p)
    streams = block_generators(seed)
    rng = streams["world"]
    n, m = len(st.ids), len(st.ind_ids)
    T = int(years if years is not None else p.get("years", 1))
    last_year = int(p["year"])
    u = p["units"]
    kind = np.where(st.is_district, "district", "department")
    median = np.array([u["staff_median"][k] for k in kind], dtype=float)
    staff = np.round(median * np.exp(u["staff_sigma"] * rng.standard_normal(n)))
    budget = staff * u["budget_per_staff_median"] * np.exp(u["budget_sigma"] * rng.standard_normal(n))
    consumption = budget * u["consumption_share_median"] * np.exp(u["consumption_sigma"] * rng.standard_normal(n))

    tr = p["truth"]
    rho = float(tr.get("persistence", 0.0))
    vis = _ar1(rng, n, T, rho, tr["theta_sd"])
    lat = _ar1(rng, n, T, rho, tr["theta_sd"])
    a = np.sqrt(tr.get("visible_share", 0.5))
    b = np.sqrt(1 - tr.get("visible_share", 0.5))
    perf, tg = p["performance"], p["targets"]
    sigma = np.where(st.is_district, p["indicators"]["level_sigma"]["district"],
                     p["indicators"]["level_sigma"]["department"])
    scale = np.where(st.is_district, 1.0, p["indicators"]["department_scale"])
    # a unit's neutral level of each indicator (what it reaches at average performance):
    # size differences, fixed over the years
    size = np.exp(sigma[:, None] * rng.standard_normal((n, m)))
    # (task counts are a unit's own list of tasks and rates are rates: neither is scaled
    # down for departments)
    pct = (st.indicators["unit_of_measure"] == "%").to_numpy()
    scaled = np.where((st.counts | pct)[None, :], 1.0, scale[:, None])
    base = st.level[None, :] * np.where(st.share[None, :], 1.0, scaled * size)
    sign = np.where(st.lower, -1.0, 1.0)[None, :]
    gap = np.where(st.lower, base, 100.0 - base)
    methods = np.array(list(tg["method_shares"]))
    shares = np.array(list(tg["method_shares"].values()), dtype=float)
    method = rng.choice(len(methods), size=(n, m), p=shares / shares.sum())
    lk = p["leader"]
    sp, ad, sp2 = p["satisfaction"], p["adjustments"], p["special"]
    groups = list(sp["groups"])
    mean_n = np.array([sp["groups"][g]["respondents"] for g in groups], dtype=float)
    bias = np.array([sp["groups"][g]["bias"] for g in groups], dtype=float)
    items = list(ad["deduction_items"])
    world = World(structure=st, params=p, seed=seed, staff=staff, budget=budget, consumption=consumption,
                  raters=[f"L{k + 1:02d}" for k in range(int(lk["raters"]))], rater_leniency=np.empty(0),
                  rater_compression=np.empty(0), groups=groups, items=items, methods=methods)
    world.shared = shared_targets(st, p.get("shared") or {}, np.random.default_rng(np.random.SeedSequence([seed, 2011])))
    leniency = compression = None
    panels = [(name, {**lk, **knobs}) for name, knobs in (p.get("panels") or {}).items()
              if int(knobs.get("raters", 0)) > 0]
    # each added panel has a stream of its own, so a world without panels is unchanged
    panel_rngs = [np.random.default_rng(np.random.SeedSequence([seed, 1009, k])) for k in range(len(panels))]
    panel_state: list[tuple] = [(None, None)] * len(panels)
    world.rater_panel = ["leaders"] * len(world.raters)
    for name, knobs in panels:
        world.raters += [f"{name}_{k + 1:02d}" for k in range(int(knobs["raters"]))]
        world.rater_panel += [name] * int(knobs["raters"])
    for t in range(T):
        theta = a * vis[t] + b * lat[t]
        driver = np.where(st.latent[None, :], lat[t][:, None], vis[t][:, None])      # n x m
        expected = perf["theta_effect"] * driver
        effect = expected + perf["noise_sd"] * rng.standard_normal((n, m))

        def level_at(x: np.ndarray) -> np.ndarray:
            amount = base * np.exp(sign * x)
            closed = np.clip(base + sign * np.tanh(perf["pct_sensitivity"] * x) * gap, 0.0, 100.0)
            return np.where(st.share[None, :], closed, amount)

        annual = level_at(effect)
        sandbag = tg["sandbag"] + tg["sandbag_sd"] * rng.standard_normal((n, m))
        insight = tg.get("self_insight", 0.0)
        push = np.select([method == 0, method == 1],
                         [insight * expected - sandbag, np.full((n, m), tg["cascade_push"])],
                         tg["benchmark_push"])
        target = level_at(push)
        target = np.where(st.share[None, :], np.clip(target, 0.5, 99.5), target)
        digits = np.where(st.level >= 100, 1, 2)
        target = np.round(target * 10.0 ** digits) / 10.0 ** digits
        target = np.where(st.counts[None, :], np.maximum(np.round(target), 1.0), target)
        actual = np.where(st.counts[None, :], np.round(annual), np.round(annual, 3))   # as published
        if st.tasks.any():
            # an annual task list is finished in full (at least the target) with a probability
            # that rises with performance; otherwise at least one task is left undone
            logit = np.log(tg["task_completion"] / (1 - tg["task_completion"]))
            p_done = 1.0 / (1.0 + np.exp(-(logit + tg["task_theta"] * driver)))
            done = rng.random((n, m)) < p_done
            tasks = np.where(done, np.maximum(target, actual), np.minimum(target - 1, actual))
            actual = np.where(st.tasks[None, :], np.maximum(tasks, 0.0), actual)
        ytd = None
        if monthly:
            mrng = streams["months"]
            months = np.arange(1, MONTHS + 1)
            noise = perf["monthly_noise_sd"] * mrng.standard_normal((n, m, MONTHS))
            noise *= np.sqrt((MONTHS - months) / MONTHS)[None, None, :] + 0.2
            noise[:, :, -1] = 0.0                     # December is the year-end value itself
            ytd = actual[:, :, None] * st.profile[None, :, :] * np.exp(noise)
            ytd = np.where(st.share[None, :, None], np.clip(ytd, 0.0, 100.0), ytd)
            ytd = np.where(st.counts[None, :, None], np.round(ytd), ytd)
        applies = st.applies
        perceived = lk.get("visible_weight", 0.5) * vis[t] + (1 - lk.get("visible_weight", 0.5)) * lat[t]
        leader, favour, leniency, compression = leader_ratings(perceived, lk, streams["leader"], leniency,
                                                               compression)
        for k, (name, knobs) in enumerate(panels):
            seen = knobs.get("visible_weight", 0.5) * vis[t] + (1 - knobs.get("visible_weight", 0.5)) * lat[t]
            rating, fav, len_k, comp_k = leader_ratings(seen, knobs, panel_rngs[k], *panel_state[k])
            panel_state[k] = (len_k, comp_k)
            leader, favour = np.vstack([leader, rating]), np.vstack([favour, fav])
        resp = np.maximum(1, rng.poisson(mean_n[None, :], size=(n, len(groups))))
        true_sat = sp["mean"] + sp["theta_effect"] * theta[:, None] + bias[None, :]
        sat = np.round(np.clip(true_sat + sp["respondent_sd"] / np.sqrt(resp) * rng.standard_normal(resp.shape),
                               0.0, 100.0), 2)
        p_ded = np.clip(ad["deduction_prob"] * np.exp(ad["deduction_theta"] * theta), 0, 1)
        hit = rng.random((n, len(items))) < p_ded[:, None]
        ded = np.where(hit, rng.choice(np.array(ad["deduction_points"], dtype=float), size=(n, len(items))), 0.0)
        p_bonus = np.clip(ad["bonus_prob"] * np.exp(ad["bonus_theta"] * theta), 0, 1)
        bonus = np.where(rng.random(n) < p_bonus, rng.choice(np.array(ad["bonus_points"], dtype=float), size=n), 0.0)
        veto = rng.random(n) < np.clip(ad["veto_prob"] * np.exp(ad["veto_theta"] * theta), 0, 1)
        fs = (sp2["mean"] + sp2["theta_effect"] * theta[:, None] + sp2["outer_offset"] * st.outer[:, None]
              + sp2["noise_sd"] * rng.standard_normal((n, len(FACETS))))
        special = np.where(st.is_district[:, None], np.round(np.clip(fs, 0.0, 100.0), 2), np.nan)
        world.years.append(Year(
            year=last_year - T + 1 + t, visible=vis[t], latent=lat[t], theta=theta,
            target=np.where(applies, target, np.nan), method=method,
            actual=np.where(applies, actual, np.nan), monthly=ytd, leader=leader, favour=favour,
            sat_score=sat, sat_respondents=resp, special=special, bonus=bonus, deduction=ded, veto=veto))
    world.rater_leniency = np.concatenate([leniency, *[st_[0] for st_ in panel_state]])
    world.rater_compression = np.concatenate([compression, *[st_[1] for st_ in panel_state]])
    return world


# --------------------------------------------------------------------------- tables

def _peers(world: World, rng: np.random.Generator) -> pd.DataFrame:
    p, st = world.params, world.structure
    pe = p["peers"]
    col = [int(np.flatnonzero(st.ind_ids == i)[0]) for i in pe["indicators"]]
    n_cities = int(pe["cities"])
    cities = ["Focal City (synthetic)"] + [f"City {chr(ord('A') + k)}" for k in range(n_cities)]
    spread = np.exp(pe["sigma"] * rng.standard_normal((n_cities, len(col))))
    frames = []
    for y in world.years:
        d = st.is_district
        city_total = np.array([np.nansum(y.actual[d, c]) if not st.share[c] else np.nanmean(y.actual[d, c])
                               for c in col])
        prof = np.array([[st.profile[c][q - 1] for q in QUARTER_ENDS] for c in col])        # k x 4
        qnoise = np.exp(pe["quarterly_noise_sd"] * rng.standard_normal((n_cities + 1, len(col), 4)))
        levels = np.vstack([city_total[None, :], city_total[None, :] * spread])
        vals = levels[:, :, None] * prof[None, :, :] * qnoise
        vals = np.where(st.share[col][None, :, None], np.clip(vals, 0, 100), vals)
        frames.append(pd.DataFrame({
            "period": np.tile([f"{y.year}-{q:02d}" for q in QUARTER_ENDS], len(cities) * len(col)),
            "city": np.repeat(cities, len(col) * 4),
            "indicator_id": np.tile(np.repeat(list(pe["indicators"]), 4), len(cities)),
            "value": np.round(vals.ravel(), 3)}))
    return pd.concat(frames, ignore_index=True)


def shared_targets(st: "Structure", knobs: Mapping[str, Any], rng: np.random.Generator) -> list:
    """For each shared indicator: a lead department and ``co_units`` co-responsible ones,
    drawn among the departments that carry it, with the lead's share and the rest split
    equally (its own random stream: the rest of the world does not change)."""
    out = []
    for indicator in knobs.get("indicators", []):
        hits = np.flatnonzero(st.ind_ids == indicator)
        if not len(hits):
            raise PerfsimError(f"shared.indicators: {indicator!r} is not an indicator of the synthetic world")
        j = int(hits[0])
        candidates = np.flatnonzero(st.applies[:, j] & ~st.is_district)
        k = min(1 + int(knobs.get("co_units", 2)), len(candidates))
        if k < 2:
            continue
        units = rng.choice(candidates, size=k, replace=False)
        lead = float(knobs.get("lead_share", 0.6))
        shares = np.r_[lead, np.full(k - 1, (1.0 - lead) / (k - 1))]
        out.append((j, units, shares))
    return out


def _shared_tables(world: World, years: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids, ind = world.structure.ids, world.structure.ind_ids
    resp, goals = [], []
    for y in years:
        for j, units, shares in world.shared:
            for k, (u, share) in enumerate(zip(units, shares)):
                resp.append((y.year, ids[u], ind[j], "lead" if k == 0 else "co", round(float(share), 6)))
            goals.append((y.year, ind[j], float(np.nansum(y.target[:, j]))))
    return (pd.DataFrame(resp, columns=["year", "unit_id", "indicator_id", "role", "share"]),
            pd.DataFrame(goals, columns=["year", "indicator_id", "goal"]))


def world_tables(world: World) -> dict[str, pd.DataFrame]:
    """The tables of the data contract for every year of a world (plus the synthetic-only
    ``truth`` and ``rater_truth``)."""
    st = world.structure
    ids, ind = st.ids, st.ind_ids
    units = st.units.assign(staff=world.staff.astype(int), budget=np.round(world.budget, 1),
                            consumption=np.round(world.consumption, 1))
    ui, ii = np.nonzero(st.applies)
    months = np.arange(1, MONTHS + 1)
    tables: dict[str, list[pd.DataFrame]] = {k: [] for k in ("targets", "actuals", "leader_ratings",
                                                             "satisfaction", "adjustments", "special")}
    for y in world.years:
        tables["targets"].append(pd.DataFrame({
            "year": y.year, "unit_id": ids[ui], "indicator_id": ind[ii], "target": y.target[ui, ii],
            "method": world.methods[y.method[ui, ii]]}))
        path = y.monthly if y.monthly is not None else y.actual[:, :, None] * np.ones(MONTHS)
        rows = path[ui, ii, :]                                                   # k x 12
        keep = st.reported[ii, :]                                                # k x 12
        k_idx, m_idx = np.nonzero(keep)
        tables["actuals"].append(pd.DataFrame({
            "period": [f"{y.year}-{mm:02d}" for mm in months[m_idx]],
            "unit_id": ids[ui][k_idx], "indicator_id": ind[ii][k_idx],
            "value": np.round(rows[k_idx, m_idx], 3)}))
        r, n = y.leader.shape
        ratings = pd.DataFrame({"year": y.year, "rater_id": np.repeat(world.raters, n), "unit_id": np.tile(ids, r),
                                "rating": y.leader.ravel()})
        if set(world.rater_panel) - {"leaders"}:
            ratings["panel"] = np.repeat(world.rater_panel, n)
        tables["leader_ratings"].append(ratings)
        g = len(world.groups)
        tables["satisfaction"].append(pd.DataFrame({
            "year": y.year, "unit_id": np.repeat(ids, g), "group": np.tile(world.groups, len(ids)),
            "respondents": y.sat_respondents.ravel(), "score": y.sat_score.ravel()}))
        du, di = np.nonzero(y.deduction > 0)
        bonus = y.bonus > 0
        tables["adjustments"].append(pd.concat([
            pd.DataFrame({"year": y.year, "unit_id": ids[bonus], "type": "bonus", "item": "innovation",
                          "points": y.bonus[bonus], "note": "synthetic bonus event"}),
            pd.DataFrame({"year": y.year, "unit_id": ids[du], "type": "deduction",
                          "item": np.array(world.items)[di], "points": y.deduction[du, di],
                          "note": "synthetic deduction event"}),
            pd.DataFrame({"year": y.year, "unit_id": ids[y.veto], "type": "veto", "item": "veto",
                          "points": np.nan, "note": "synthetic one-vote veto"}),
        ], ignore_index=True))
        d = np.flatnonzero(st.is_district)
        tables["special"].append(pd.DataFrame({
            "year": y.year, "unit_id": np.repeat(ids[d], len(FACETS)), "facet": np.tile(FACETS, len(d)),
            "score": y.special[d].ravel()}))
    out = {"units": units, "indicators": st.indicators}
    out.update({k: pd.concat(v, ignore_index=True) for k, v in tables.items()})
    out["peers"] = _peers(world, np.random.default_rng(np.random.SeedSequence([world.seed, 97])))
    if world.shared:
        out["responsibilities"], out["goals"] = _shared_tables(world, world.years)
    last = world.last
    out["truth"] = pd.DataFrame({"unit_id": ids, "theta": np.round(last.theta, 6),
                                 "visible": np.round(last.visible, 6), "latent": np.round(last.latent, 6),
                                 "year": last.year})
    out["rater_truth"] = pd.DataFrame({
        "rater_id": world.raters, "leniency": np.round(world.rater_leniency, 4),
        "compression": np.round(world.rater_compression, 4),
        "favoured_units": [" ".join(ids[last.favour[k]]) for k in range(len(world.raters))]})
    if set(world.rater_panel) - {"leaders"}:
        out["rater_truth"].insert(1, "panel", world.rater_panel)
    return out


def world_dataset(world: World, year: int | None = None) -> "Dataset":
    """One year of a world (``year``, default the last) as a :class:`~perfsim.core.contract.Dataset` for scoring in
    memory: the units, indicators and truth tables, and the year's view (the arrays the
    engine reads) built straight from the world's arrays, without files, tables or
    pandera (use :func:`check_world` to validate the arrays). For
    :func:`perfsim.core.engine.score_arrays`; the full tables are :func:`world_tables`."""
    from ..core.contract import Dataset, empty_table
    from ..core.engine import YearView, install_year_view

    st = world.structure
    y = world.last if year is None else next((v for v in world.years if v.year == year), None)
    if y is None:
        raise ValueError(f"the world has no year {year} (years: {[v.year for v in world.years]})")
    order = np.argsort(st.ids, kind="stable")
    units = st.units.assign(staff=world.staff, budget=world.budget, consumption=world.consumption)
    units = units.iloc[order].reset_index(drop=True)
    ids = pd.Index(units["unit_id"])
    keyed = lambda keys: {k: j for j, k in enumerate(keys)}                     # noqa: E731
    veto = np.where(y.veto[order], 1.0, np.nan)[:, None]
    matrices = {
        "target": (y.target[order], keyed(st.ind_ids)), "actual": (y.actual[order], keyed(st.ind_ids)),
        "leader": (y.leader.T[order], keyed(world.raters)),
        "sat_score": (y.sat_score[order], keyed(world.groups)),
        "sat_respondents": (y.sat_respondents[order].astype(float), keyed(world.groups)),
        "special": (y.special[order], keyed(FACETS)),
        "bonus": (np.where(y.bonus[order] > 0, y.bonus[order], np.nan)[:, None], {"bonus": 0}),
        "deduction": (np.where(y.deduction[order] > 0, y.deduction[order], np.nan), keyed(world.items)),
        "veto": (veto, {"veto": 0}),
    }
    truth = pd.DataFrame({"unit_id": st.ids, "theta": y.theta})
    tables = {name: empty_table(name) for name in ("targets", "actuals", "leader_ratings", "satisfaction",
                                                   "adjustments", "special", "peers")}
    tables.update(units=units, indicators=st.indicators, truth=truth)
    if world.shared:
        from ..core.engine import share_credit

        tables["responsibilities"], tables["goals"] = _shared_tables(world, [y])
        share_credit(Dataset(tables=tables, origin="<synthetic world>"), y.year, ids, matrices)
    view = YearView(ids, units, {name: empty_table(name) for name in
                                 ("targets", "leader_ratings", "satisfaction", "special", "adjustments")},
                    matrices, panels=dict(zip(world.raters, world.rater_panel)))
    dataset = Dataset(tables=tables, origin=f"<synthetic world, seed {world.seed}>", synthetic=True)
    install_year_view(dataset, y.year, view)
    return dataset


def check_world(world: World) -> None:
    """Validate a world's arrays in memory (what the contract's schemas check on its
    tables): finite where present, non-negative targets, ratings and scores within 0-100."""
    from ..core.errors import PerfsimError

    for y in world.years:
        checks = {
            "targets": (y.target, 0, None), "actuals": (y.actual, None, None),
            "leader_ratings": (y.leader, 0, 100), "satisfaction": (y.sat_score, 0, 100),
            "special": (y.special, 0, 100), "bonus": (y.bonus, 0, None), "deduction": (y.deduction, 0, None),
        }
        for name, (values, lo, hi) in checks.items():
            present = values[~np.isnan(values)]
            if not np.isfinite(present).all() or (lo is not None and (present < lo).any()) \
                    or (hi is not None and (present > hi).any()):
                raise PerfsimError(f"synthetic world (seed {world.seed}), year {y.year}: {name} out of range")
        if (y.sat_respondents < 1).any():
            raise PerfsimError(f"synthetic world (seed {world.seed}), year {y.year}: respondents below 1")


def generate_world(seed: int, params: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """All tables of the contract for the synthetic world of one seed (every year)."""
    return world_tables(generate_arrays(seed, params))


def readme_text(seed: int, params: Mapping[str, Any], params_path: str | Path | None) -> str:
    return (f"{params['label']}\n\nGenerated by `perfsim synth --seed {seed}` from "
            f"{Path(params_path) if params_path else 'params/synth.yaml'}.\n"
            "truth.csv (the sheet 'truth' in a workbook) holds each unit's true performance theta in the\n"
            "last year and its visible and latent parts; rater_truth.csv each city leader's leniency,\n"
            "balancing compression and the units it favoured in the last year. They drive every other\n"
            "table and exist only in synthetic data.\n")


def write(out: str | Path, seed: int, params_path: str | Path | None = None,
          fmt: str = "csv", record: bool = True) -> Path:
    """Generate and write the synthetic world: a folder of CSV files with
    ``SYNTHETIC_README.txt``, or one workbook ``NAME.xlsx`` whose first sheet is the
    README. Returns the folder or workbook written."""
    params = synth_params(params_path)
    tables = generate_world(seed, params)
    readme = readme_text(seed, params, params_path)
    if fmt == "xlsx":
        note = pd.DataFrame({"SYNTHETIC": readme.strip().splitlines()})
        return write_dataset({"README": note, **tables}, out, fmt="xlsx")
    return write_dataset(tables, out, fmt=fmt, extra={"SYNTHETIC_README.txt": readme}, record=record)
