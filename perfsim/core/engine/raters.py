"""The city-leader rating's levers: trimmed means, panels, the two-way unit effect, rank
conversion and tiers (the rater input of a rating leaf)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from .. import rules
from ..scheme import Node
from .year import YearView


def _rating_input(node: Node, view: YearView) -> np.ndarray:
    """Mean rating per unit (NaN where none) for one rating leaf."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if node.source == "leader_ratings":
            num = den = 0.0
            for weight, r in leader_panels(node, view):
                value = _rater_mean(r, node.trim)
                num = num + weight * np.nan_to_num(value)
                den = den + weight * ~np.isnan(value)
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        if node.source == "satisfaction":
            score, where = view.matrix("sat_score")
            if node.groups is None:
                w, _ = view.matrix("sat_respondents")
            else:
                weights = np.zeros(len(where))
                for group, j in where.items():
                    weights[j] = node.groups.get(group, 0.0)
                w = np.broadcast_to(weights, score.shape)
            w = np.where(np.isnan(score), 0.0, w)
            den = w.sum(axis=1)
            num = (w * np.nan_to_num(score)).sum(axis=1)
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return view.column("special", node.facet)


def _rater_mean(r: np.ndarray, trim: bool) -> np.ndarray:
    """Mean rating per unit (rows) over the raters (columns) that rated it; with ``trim``
    the highest and lowest dropped where at least three rated."""
    count = np.sum(~np.isnan(r), axis=1)
    total = np.nansum(r, axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if not trim:
        return mean
    filled_hi = np.where(np.isnan(r), -np.inf, r).max(axis=1)
    filled_lo = np.where(np.isnan(r), np.inf, r).min(axis=1)
    trimmed = (total - filled_hi - filled_lo) / np.maximum(count - 2, 1)
    return np.where(count >= 3, trimmed, mean)


def leader_panels(node: Node, view: YearView) -> list[tuple[float, np.ndarray]]:
    """The leaf's rater panels as (weight, ratings units x raters after the levers): every
    rating as one panel unless the leaf weighs ``panels``; a unit's panel means are
    combined by these weights over the panels that rated it."""
    r, where = view.matrix("leader")
    if node.panels is None:
        return [(1.0, rater_levers(r, node, view))]
    panel_of = np.array([view.panels.get(k, "leaders") for k in sorted(where, key=where.get)], dtype=object)
    return [(float(w), rater_levers(r[:, panel_of == name], node, view)) for name, w in node.panels.items()
            if w > 0]


#: convert: rank without floor: the lowest-ranked unit gets this share of the full rating
RANK_FLOOR = 0.6


def rater_levers(r: np.ndarray, node: Node, view: YearView) -> np.ndarray:
    """Leader ratings (units x raters) after the leaf's levers: ``adjust`` (each rater's
    ratings centred on the grand mean, or also scaled to the pooled spread, or the
    two-way model's unit effect for every rating) or ``convert`` (each rater's ratings
    turned into ranks within the category, mapped onto [floor x 100, 100], or into tiers)."""
    convert = node.convert or "mean"
    adjust = node.adjust or "none"
    if convert == "mean" and adjust == "none":
        return r
    rated = ~np.isnan(r)
    if convert == "mean":
        grand = np.nanmean(r) if rated.any() else np.nan
        mean = np.nanmean(np.where(rated, r, np.nan), axis=0)
        if adjust == "centre":
            return r - mean[None, :] + grand
        if adjust == "standardise":
            # a rater whose ratings do not vary has spread 0, found exactly (max = min): the
            # standard deviation of a constant like 91.1 rounds to about 1e-14, not 0
            varies = rules.varies(r, axis=0)
            sd = np.where(varies, np.nanstd(r, axis=0, ddof=1), np.where(rated.sum(axis=0) > 1, 0.0, np.nan))
            pooled = np.sqrt(np.nanmean(sd ** 2))
            with np.errstate(invalid="ignore", divide="ignore"):
                scaled = np.where(varies[None, :], (r - mean[None, :]) / sd[None, :] * pooled, 0.0)
            return np.where(rated, grand + scaled, np.nan)
        effect = rules.two_way_unit_effect(r)
        return np.where(rated, effect[:, None], np.nan)
    groups = (view.units["category"].to_numpy() if (node.within or "category") == "category"
              else np.zeros(len(r), dtype=object))
    out = np.full_like(r, np.nan)
    for g in pd.unique(groups):
        on = groups == g
        if convert == "rank":
            floor = node.floor if node.floor is not None else RANK_FLOOR
            out[on] = 100.0 * (floor + (1.0 - floor) * rules.rank_share(r[on]))
        else:
            out[on] = rules.tier_ratings(r[on], node.tiers)
    return out
