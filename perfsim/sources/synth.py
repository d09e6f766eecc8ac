"""The synthetic world: a seeded city of 108 units in the data contract.

Everything is driven by one latent truth per unit, ``theta`` (written to ``truth.csv``),
and by the knobs in ``params/synth.yaml`` (each with its basis and source). One seed
feeds one :class:`numpy.random.Generator`; the draws happen in a fixed order, so the
same seed and parameters give byte-identical files. All names are generic and every
file is labelled synthetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.files import atomic_write_text
from .readers import write_dataset
from ..core.paths import PARAMS_DIR
from ..core.knobs import load_knobs

DEFAULT_PARAMS = PARAMS_DIR / "synth.yaml"
MONTHS = 12


def synth_params(path: str | Path | None = None) -> dict[str, Any]:
    """The generator's knobs (default ``params/synth.yaml``), validated by :func:`load_knobs`."""
    return load_knobs(Path(path) if path is not None else DEFAULT_PARAMS)


def _units(p: dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    u = p["units"]
    rows = []
    for i in range(u["central_districts"]):
        rows.append((f"D{i + 1:02d}", f"中心城区{i + 1}", f"Central District {i + 1}",
                     "district", "district", "central"))
    for i in range(u["outer_districts"]):
        j = u["central_districts"] + i + 1
        rows.append((f"D{j:02d}", f"远城区{i + 1}", f"Outer District {i + 1}",
                     "district", "district", "outer"))
    for cat, spec in u["department_categories"].items():
        for i in range(spec["count"]):
            rows.append((f"{cat[:3].upper()}{i + 1:02d}", f"{spec['label']}部门{i + 1:02d}",
                         f"{spec['label_en']} Dept {i + 1:02d}", "department", cat, None))
    units = pd.DataFrame(rows, columns=["unit_id", "name", "name_en", "kind", "category",
                                        "district_type"])
    n = len(units)
    median = units["kind"].map(u["staff_median"]).to_numpy(dtype=float)
    staff = np.round(median * np.exp(u["staff_sigma"] * rng.standard_normal(n)))
    budget = staff * u["budget_per_staff_median"] * np.exp(u["budget_sigma"] * rng.standard_normal(n))
    consumption = budget * u["consumption_share_median"] * np.exp(
        u["consumption_sigma"] * rng.standard_normal(n))
    units["staff"] = staff.astype(int)
    units["budget"] = np.round(budget, 1)
    units["consumption"] = np.round(consumption, 1)
    return units


def block_generators(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for the blocks of the world, all spawned from one seed.

    The leader ratings have a stream of their own, so a sweep over rater behaviour can
    redraw them under other knobs while every other table stays the same (common random
    numbers: the same draws, transformed differently).
    """
    world, leader = np.random.SeedSequence(seed).spawn(2)
    return {"world": np.random.default_rng(world), "leader": np.random.default_rng(leader)}


def leader_ratings(theta: np.ndarray, unit_ids: np.ndarray, year: int, knobs: Mapping[str, Any],
                   rng: np.random.Generator) -> pd.DataFrame:
    """City-leader ratings: leniency, favouritism (人情分), balancing (平衡分) and noise.

    rating = rater mean + (1 - compression) x (raw - rater mean), clipped to [floor, 100], with
    raw = mean + leniency_r + theta_effect x theta_u + favour_points x [r favours u] + noise.
    Rater r favours unit u when rho z_u + sqrt(1 - rho^2) e_ru exceeds the normal quantile
    of 1 - favour_prob, where z_u is the unit's connectedness shared by all raters and
    rho = favour_correlation: 0 spreads favours at random (they average out over raters),
    1 gives the same well-connected units every rater's favour (a systematic bias).
    """
    from scipy.stats import norm

    n, r = len(theta), int(knobs["raters"])
    leniency = knobs["leniency_sd"] * rng.standard_normal(r)
    rho = float(knobs["favour_correlation"])
    connected = rho * rng.standard_normal(n)[None, :] + np.sqrt(1 - rho ** 2) * rng.standard_normal((r, n))
    favour = connected > norm.ppf(1.0 - knobs["favour_prob"])
    raw = (knobs["mean"] + leniency[:, None] + knobs["theta_effect"] * theta[None, :]
           + knobs["favour_points"] * favour + knobs["noise_sd"] * rng.standard_normal((r, n)))
    rater_mean = raw.mean(axis=1, keepdims=True)
    rating = rater_mean + (1.0 - knobs["compression"]) * (raw - rater_mean)
    rating = np.clip(np.round(rating, 1), knobs["floor"], 100.0)
    return pd.DataFrame({
        "year": year, "rater_id": np.repeat([f"L{k + 1:02d}" for k in range(r)], n),
        "unit_id": np.tile(unit_ids, r), "rating": rating.ravel(),
    })


def _group_of(units: pd.DataFrame) -> np.ndarray:
    return np.where(units["kind"] == "district", units["district_type"], units["category"])


def generate_world(seed: int, params: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """All tables of the contract for one synthetic year, from one seed."""
    p = dict(params) if params is not None else synth_params()
    streams = block_generators(seed)
    rng = streams["world"]
    year = int(p["year"])
    units = _units(p, rng)
    n = len(units)
    theta = rng.normal(0.0, p["truth"]["theta_sd"], n)
    group = _group_of(units)
    is_district = (units["kind"] == "district").to_numpy()

    # ---------------------------------------------------------------- indicators
    lib = p["indicator_library"]
    indicators = pd.DataFrame([{
        "indicator_id": d["id"], "name": d["name"], "name_en": d["name_en"],
        "dimension": d["dimension"], "direction": d["direction"], "unit_of_measure": d["uom"],
        "kind": d["kind"], "frequency": d["frequency"], "visibility": d["visibility"],
        "season": "level" if d.get("pct") else d.get("season", "flat"),
    } for d in lib])
    m = len(lib)
    applies = np.array([[g in d["applies"] for d in lib] for g in group])   # n x m
    level = np.array([float(d["level"]) for d in lib])
    pct = np.array([bool(d.get("pct")) for d in lib])
    lower = np.array([d["direction"] == "lower" for d in lib])
    perf = p["performance"]
    sigma = np.where(is_district, p["indicators"]["level_sigma"]["district"],
                     p["indicators"]["level_sigma"]["department"])
    scale = np.where(is_district, 1.0, p["indicators"]["department_scale"])
    # neutral level: what an average (theta = 0) unit would reach
    base = level[None, :] * np.where(pct[None, :], 1.0, scale[:, None] * np.exp(
        sigma[:, None] * rng.standard_normal((n, m))))
    effect = perf["theta_effect"] * theta[:, None] + perf["noise_sd"] * rng.standard_normal((n, m))
    sign = np.where(lower, -1.0, 1.0)[None, :]
    annual = base * np.exp(sign * effect)
    # percentages: close part of the gap to 100 (or to 0 when lower is better)
    gap = np.where(lower, base, 100.0 - base)
    shift = np.tanh(effect / perf["theta_effect"] * perf["pct_headroom"] / 2.0) * gap
    annual = np.where(pct[None, :], np.clip(base + sign * shift, 0.0, 100.0), annual)

    # ---------------------------------------------------------------- targets
    t = p["targets"]
    methods = np.array(list(t["method_shares"]))
    shares = np.array(list(t["method_shares"].values()), dtype=float)
    method = methods[rng.choice(len(methods), size=(n, m), p=shares / shares.sum())]
    sandbag = t["sandbag"] + t["sandbag_sd"] * rng.standard_normal((n, m))
    push = np.select([method == "self", method == "cascade"],
                     [-sandbag, np.full((n, m), t["cascade_push"])], t["benchmark_push"])
    target = base * np.exp(sign * push)
    target = np.where(pct[None, :], np.clip(base + sign * push * gap, 0.5, 99.5), target)
    digits = np.where(level >= 100, 1, 2)
    ui, ii = np.nonzero(applies)
    targets = pd.DataFrame({
        "year": year, "unit_id": units["unit_id"].to_numpy()[ui],
        "indicator_id": indicators["indicator_id"].to_numpy()[ii],
        "target": [round(float(v), int(d)) for v, d in zip(target[ui, ii], digits[ii])],
        "method": method[ui, ii],
    })

    # ---------------------------------------------------------------- monthly actuals
    seasons = p["seasons"]
    profile = np.array([seasons[d.get("season", "flat")] if not d.get("pct") else [1.0] * MONTHS
                        for d in lib])                                         # m x 12
    months = np.arange(1, MONTHS + 1)
    noise = p["performance"]["monthly_noise_sd"] * rng.standard_normal((n, m, MONTHS))
    noise *= np.sqrt((MONTHS - months) / MONTHS)[None, None, :] + 0.2
    ytd = annual[:, :, None] * profile[None, :, :] * np.exp(noise)
    ytd = np.where(pct[None, :, None], np.clip(ytd, 0.0, 100.0), ytd)
    actual_rows = ytd[ui, ii, :]                                              # k x 12
    actuals = pd.DataFrame({
        "period": np.tile([f"{year}-{mm:02d}" for mm in months], len(ui)),
        "unit_id": np.repeat(units["unit_id"].to_numpy()[ui], MONTHS),
        "indicator_id": np.repeat(indicators["indicator_id"].to_numpy()[ii], MONTHS),
        "value": np.round(actual_rows.ravel(), 3),
    })

    # ---------------------------------------------------------------- leader ratings
    leader = leader_ratings(theta, units["unit_id"].to_numpy(), year, p["leader"], streams["leader"])

    # ---------------------------------------------------------------- satisfaction
    sp = p["satisfaction"]
    groups = sp["groups"]
    gnames = list(groups)
    mean_n = np.array([groups[g]["respondents"] for g in gnames], dtype=float)
    bias = np.array([groups[g]["bias"] for g in gnames], dtype=float)
    resp = np.maximum(1, rng.poisson(mean_n[None, :], size=(n, len(gnames))))
    true_sat = sp["mean"] + sp["theta_effect"] * theta[:, None] + bias[None, :]
    observed = true_sat + sp["respondent_sd"] / np.sqrt(resp) * rng.standard_normal(resp.shape)
    satisfaction = pd.DataFrame({
        "year": year, "unit_id": np.repeat(units["unit_id"].to_numpy(), len(gnames)),
        "group": np.tile(gnames, n), "respondents": resp.ravel(),
        "score": np.round(np.clip(observed, 0.0, 100.0), 2).ravel(),
    })

    # ---------------------------------------------------------------- adjustments
    ad = p["adjustments"]
    items = list(ad["deduction_items"])
    p_ded = np.clip(ad["deduction_prob"] * np.exp(ad["deduction_theta"] * theta), 0, 1)
    hit = rng.random((n, len(items))) < p_ded[:, None]
    ded_pts = rng.choice(np.array(ad["deduction_points"], dtype=float), size=(n, len(items)))
    p_bonus = np.clip(ad["bonus_prob"] * np.exp(ad["bonus_theta"] * theta), 0, 1)
    bonus_hit = rng.random(n) < p_bonus
    bonus_pts = rng.choice(np.array(ad["bonus_points"], dtype=float), size=n)
    p_veto = np.clip(ad["veto_prob"] * np.exp(ad["veto_theta"] * theta), 0, 1)
    veto_hit = rng.random(n) < p_veto
    ids = units["unit_id"].to_numpy()
    du, di = np.nonzero(hit)
    frames = [
        pd.DataFrame({"year": year, "unit_id": ids[bonus_hit], "type": "bonus",
                      "item": "innovation", "points": bonus_pts[bonus_hit],
                      "note": "synthetic bonus event"}),
        pd.DataFrame({"year": year, "unit_id": ids[du], "type": "deduction",
                      "item": np.array(items)[di], "points": ded_pts[du, di],
                      "note": "synthetic deduction event"}),
        pd.DataFrame({"year": year, "unit_id": ids[veto_hit], "type": "veto",
                      "item": "veto", "points": np.nan, "note": "synthetic one-vote veto"}),
    ]
    adjustments = pd.concat(frames, ignore_index=True)

    # ---------------------------------------------------------------- special facets
    sp2 = p["special"]
    facets = ["contribution", "social_impact", "satisfaction", "admin_cost"]
    d_idx = np.nonzero(is_district)[0]
    outer = (units["district_type"].to_numpy()[d_idx] == "outer")
    fs = (sp2["mean"] + sp2["theta_effect"] * theta[d_idx, None] + sp2["outer_offset"] * outer[:, None]
          + sp2["noise_sd"] * rng.standard_normal((len(d_idx), len(facets))))
    special = pd.DataFrame({
        "year": year, "unit_id": np.repeat(ids[d_idx], len(facets)),
        "facet": np.tile(facets, len(d_idx)),
        "score": np.round(np.clip(fs, 0.0, 100.0), 2).ravel(),
    })

    # ---------------------------------------------------------------- peers
    pe = p["peers"]
    peer_ind = [i for i in pe["indicators"]]
    col = [indicators.index[indicators["indicator_id"] == i][0] for i in peer_ind]
    city_total = np.array([annual[is_district, c].sum() if not pct[c] else annual[is_district, c].mean()
                           for c in col])
    n_cities = int(pe["cities"])
    names = [f"City {chr(ord('A') + k)}" for k in range(n_cities)]
    levels = city_total[None, :] * np.exp(pe["sigma"] * rng.standard_normal((n_cities, len(col))))
    quarters = [3, 6, 9, 12]
    prof = np.array([[profile[c][q - 1] for q in quarters] for c in col])       # k x 4
    qnoise = np.exp(pe["quarterly_noise_sd"] * rng.standard_normal((n_cities + 1, len(col), 4)))
    all_levels = np.vstack([city_total[None, :], levels])
    vals = all_levels[:, :, None] * prof[None, :, :] * qnoise
    is_pct = pct[col]
    vals = np.where(is_pct[None, :, None], np.clip(vals, 0, 100), vals)
    cities = ["Focal City (synthetic)"] + names
    peers = pd.DataFrame({
        "period": np.tile([f"{year}-{q:02d}" for q in quarters], len(cities) * len(col)),
        "city": np.repeat(cities, len(col) * 4),
        "indicator_id": np.tile(np.repeat(peer_ind, 4), len(cities)),
        "value": np.round(vals.ravel(), 3),
    })

    truth = pd.DataFrame({"unit_id": ids, "theta": np.round(theta, 6)})
    return {"units": units, "indicators": indicators, "targets": targets, "actuals": actuals,
            "leader_ratings": leader, "satisfaction": satisfaction, "adjustments": adjustments,
            "special": special, "peers": peers, "truth": truth}


def readme_text(seed: int, params: Mapping[str, Any], params_path: str | Path | None) -> str:
    return (f"{params['label']}\n\nGenerated by `perfsim synth --seed {seed}` from "
            f"{Path(params_path) if params_path else 'params/synth.yaml'}.\n"
            "truth.csv (the sheet 'truth' in a workbook) holds the latent true performance theta "
            "that drives every other table.\n")


def write(out: str | Path, seed: int, params_path: str | Path | None = None,
          fmt: str = "csv") -> Path:
    """Generate and write the synthetic world: a folder of CSV files with
    ``SYNTHETIC_README.txt``, or one workbook ``NAME.xlsx`` whose first sheet is the
    README. Returns the folder or workbook written."""
    params = synth_params(params_path)
    tables = generate_world(seed, params)
    readme = readme_text(seed, params, params_path)
    if fmt == "xlsx":
        note = pd.DataFrame({"SYNTHETIC": readme.strip().splitlines()})
        return write_dataset({"README": note, **tables}, out, fmt="xlsx")
    target = write_dataset(tables, out, fmt=fmt)
    atomic_write_text(target / "SYNTHETIC_README.txt", readme)
    return target
