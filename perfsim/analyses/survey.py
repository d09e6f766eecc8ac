"""The satisfaction survey's sampling error and what it does to ranks.

A unit's satisfaction score is a weighted mean of its respondent groups' mean scores,
``S = sum_g w_g m_g / sum_g w_g``. If each respondent's score has standard deviation
``sigma`` and group g has ``n_g`` respondents, then (groups sampled independently)

    SE(S) = sqrt(sum_g w_g^2 sigma^2 / n_g) / sum_g w_g.

With respondent-weighted groups (``w_g = n_g``) this is ``sigma / sqrt(sum_g n_g)``. The
satisfaction component carries ``points`` of the total, so the total's sampling error is
``points x SE(S) / 100``. Two units whose totals differ by ``d`` swap places when the
difference of their errors exceeds ``d``; with independent normal errors

    P(swap) = Phi(-|d| / sqrt(SE_a^2 + SE_b^2)).

:func:`swap_table` gives that for every pair of neighbouring units within a category,
:func:`swap_by_sample_size` as the respondents per unit grow, and
:func:`simulate_swaps` checks it by re-surveying in simulation (parametric: each group's
mean redrawn from a normal with its standard error) through the full scheme.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..core.contract import Dataset
from ..core.engine import Tree, score_detail, year_view
from ..core.errors import PerfsimError
from ..core.scheme import Resolved, Scheme, UncertaintySpec
from ..core.scheme import plain


def _satisfaction_leaf(scheme: Scheme):
    tree = Tree.of(scheme)
    for i in tree.leaves:
        if tree.nodes[i].source == "satisfaction":
            return i, tree
    raise PerfsimError(f"scheme '{scheme.name}' has no satisfaction leaf")


def sampling_error(scheme: Resolved | Scheme, dataset: Dataset, year: int | None = None,
                   respondent_sd: float = 12.0, scale: float = 1.0) -> pd.DataFrame:
    """Per unit: respondents, the satisfaction score's SE (0-100 points) and the total's SE.

    ``scale`` multiplies every group's respondent count (a survey of a different size).
    """
    from ..uncertainty.model import leaf_noise_sd

    scheme_obj = plain(scheme)
    detail = score_detail(scheme, dataset, year)
    i, tree = _satisfaction_leaf(scheme_obj)
    view = year_view(dataset, detail.year)
    spec = UncertaintySpec(survey_noise=True, respondent_sd=respondent_sd, respondents_scale=scale)
    se = leaf_noise_sd(tree.nodes[i], view, spec) * 100
    resp, _ = view.matrix("sat_respondents")
    held = detail.node_held[tree.paths[i]].reindex(view.ids).to_numpy()
    return pd.DataFrame({"unit_id": view.ids, "respondents": np.nansum(resp, axis=1) * scale,
                         "se_score": se, "points": held, "se_total": held * se / 100})


def swap_table(table: pd.DataFrame, errors: pd.DataFrame) -> pd.DataFrame:
    """P(swap) for each pair of neighbouring units (rank r and the next) within a category."""
    t = table.merge(errors[["unit_id", "se_total"]], on="unit_id").sort_values(
        ["category", "rank", "unit_id"], kind="stable")
    rows = []
    for category, g in t.groupby("category", sort=True):
        g = g.reset_index(drop=True)
        for k in range(len(g) - 1):
            a, b = g.loc[k], g.loc[k + 1]
            sd = np.hypot(a["se_total"], b["se_total"])
            gap = abs(a["total"] - b["total"])
            p = float(norm.cdf(-gap / sd)) if sd > 0 else float(gap == 0) * 0.5
            rows.append({"category": category, "upper": a["unit_id"], "lower": b["unit_id"],
                         "rank_upper": int(a["rank"]), "gap": gap, "se_diff": sd, "p_swap": p})
    return pd.DataFrame(rows)


def swap_by_sample_size(scheme: Resolved | Scheme, dataset: Dataset, scales, year: int | None = None,
                        respondent_sd: float = 12.0, threshold: float = 0.05) -> pd.DataFrame:
    """For each respondent scale: mean respondents per unit, the median and 90th percentile
    of P(swap) over neighbouring pairs, and the share of pairs with P(swap) < threshold."""
    table = score_detail(scheme, dataset, year).table
    rows = []
    for scale in scales:
        errors = sampling_error(scheme, dataset, year, respondent_sd, scale)
        swaps = swap_table(table, errors)
        rows.append({"scale": scale, "respondents_per_unit": float(errors["respondents"].mean()),
                     "p_swap_median": float(swaps["p_swap"].median()),
                     "p_swap_p90": float(swaps["p_swap"].quantile(0.9)),
                     "share_below": float((swaps["p_swap"] < threshold).mean())})
    return pd.DataFrame(rows)


def sample_size_needed(curve: pd.DataFrame, most: float = 0.8) -> float | None:
    """The smallest respondents per unit at which at least ``most`` of the pairs are below
    the threshold (linear interpolation on the curve), or None if no point reaches it."""
    ok = curve[curve["share_below"] >= most]
    if ok.empty:
        return None
    k = ok.index[0]
    if k == curve.index[0]:
        return float(curve.loc[k, "respondents_per_unit"])
    prev = curve.loc[:k].iloc[-2]
    x0, y0 = prev["respondents_per_unit"], prev["share_below"]
    x1, y1 = curve.loc[k, "respondents_per_unit"], curve.loc[k, "share_below"]
    return float(x0 + (most - y0) * (x1 - x0) / (y1 - y0)) if y1 > y0 else float(x1)


def simulate_swaps(scheme: Resolved | Scheme, dataset: Dataset, draws: int = 4000, seed: int = 0,
                   year: int | None = None, respondent_sd: float = 12.0, scale: float = 1.0) -> pd.DataFrame:
    """Re-survey in simulation: P(swap) of neighbouring pairs through the full scheme."""
    from ..uncertainty.model import compile_model
    from ..uncertainty.montecarlo import evaluate, sample_inputs

    spec = UncertaintySpec(survey_noise=True, respondent_sd=respondent_sd, respondents_scale=scale)
    model = compile_model(scheme, dataset, spec, year)
    rng = np.random.default_rng(seed)
    _, noise, _ = sample_inputs(model, rng, draws)
    totals = evaluate(model, {}, noise)
    table = score_detail(scheme, dataset, year).table
    index = {u: k for k, u in enumerate(model.ids)}
    pairs = swap_table(table, sampling_error(scheme, dataset, year, respondent_sd, scale))
    upper = np.array([index[u] for u in pairs["upper"]])
    lower = np.array([index[u] for u in pairs["lower"]])
    nominal = table.set_index("unit_id")["total"]
    gap = nominal.reindex(pairs["upper"]).to_numpy() - nominal.reindex(pairs["lower"]).to_numpy()
    sign = np.where(gap == 0, 1.0, np.sign(gap))
    swapped = (totals[:, upper] - totals[:, lower]) * sign < 0
    return pairs.assign(p_swap_simulated=swapped.mean(axis=0))
