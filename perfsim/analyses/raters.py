"""Rater behaviour from a rating table: leniency (宽严), balancing compression (平衡分) and
candidate favours (人情分, 关系分), estimated with established statistics.

Model. Each rating is ``y_ru = mu + a_u + b_r + e_ru``: a unit effect, a rater's leniency
and a residual, fitted by least squares with both factors in sum-to-zero coding
(statsmodels OLS, a two-way fixed-effects model; it takes unbalanced tables where some
raters did not rate some units). ``leniency`` is ``b_r`` with its standard error; a
unit's ``adjusted`` rating is ``mu + a_u`` (the rating an average rater would give) with
its standard error.

Compression. Each rater's ratings less its leniency are regressed (statsmodels OLS) on the
consensus: the mean rating the other raters give the unit (leave-one-out, less their
leniency). ``compression`` is 1 minus that slope, corrected for the noise in the
consensus (Spearman's disattenuation: the slope is divided by the consensus's
reliability, 1 minus its noise variance over its variance; below 0.3 the rater's
compression is not estimated, with a warning). 0 is a rater who spreads the
units as the consensus does; values towards 1 rate everyone alike (平衡分). It is relative:
when every rater compresses alike, the common part cannot be seen in the ratings.

Favours. The residual of each rating from its rater's regression on the consensus,
divided by the rater's own robust residual scale (median absolute deviation, so that the
favours themselves do not inflate it), is a z-score; its one-sided p-value (a rating
higher than the model expects) is controlled for the false-discovery rate over all pairs
by Benjamini-Hochberg (statsmodels), and a pair with q at or below ``alpha`` is flagged as
a candidate favour. A favour shared by most raters of a unit looks like merit and cannot
be found this way.

A rater is flagged when its leniency differs from 0 or its compression is above 0 beyond
chance (two-sided and one-sided tests, Benjamini-Hochberg over raters at ``alpha``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..core.contract import Dataset
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import DEFAULT_SEED

if TYPE_CHECKING:
    from .result import Result

SOURCES = ("leader_ratings", "satisfaction")
#: default false-discovery rate for flagging raters and pairs
ALPHA = 0.1
#: below this reliability of the other raters' consensus, a rater's compression is not estimated
MIN_RELIABILITY = 0.3
RATER_COLUMNS = ["rater_id", "n", "leniency", "leniency_se", "compression", "compression_se", "flagged"]
PAIR_COLUMNS = ["rater_id", "unit_id", "residual", "z", "p_value", "q_value", "flagged", "left_out"]
UNIT_COLUMNS = ["unit_id", "n", "raw_mean", "adjusted", "adjusted_se"]


@dataclass(frozen=True)
class RaterFit:
    """What :func:`rater_model` estimates (see the module docstring)."""

    raters: pd.DataFrame          # RATER_COLUMNS + reason
    pairs: pd.DataFrame           # PAIR_COLUMNS
    units: pd.DataFrame           # UNIT_COLUMNS
    source: str
    year: int
    alpha: float


def rating_table(dataset: Dataset, year: int | None = None, source: str = "leader_ratings"
                 ) -> tuple[pd.DataFrame, int]:
    """(rater_id, unit_id, rating) of one year of ``source`` (satisfaction: the respondent
    groups are the raters and their scores the ratings), and the year."""
    if source not in SOURCES:
        raise PerfsimError(f"--source {source!r}: one of {', '.join(SOURCES)}")
    frame = getattr(dataset, source)
    if frame is None or not len(frame):
        raise PerfsimError(f"the data have no {source} table (or it is empty): there are no ratings to model",
                           where=dataset.origin)
    years = sorted(int(y) for y in frame["year"].unique())
    year = years[-1] if year is None else int(year)
    if year not in years:
        raise PerfsimError(f"{source} has no ratings for {year} (years: {', '.join(map(str, years))})",
                           where=dataset.origin)
    rows = frame[frame["year"] == year]
    if source == "satisfaction":
        rows = rows.rename(columns={"group": "rater_id", "score": "rating"})
    table = rows[["rater_id", "unit_id", "rating"]].astype({"rater_id": str, "unit_id": str, "rating": float})
    for what, column in (("rater", "rater_id"), ("unit", "unit_id")):
        if table[column].nunique() < 2:
            raise PerfsimError(f"{source} {year} has only one {what} ({table[column].iloc[0]}): the rater model "
                               f"needs at least two {what}s", where=dataset.origin)
    return table.reset_index(drop=True), year


def _sum_coding(index: np.ndarray, k: int) -> np.ndarray:
    """Sum-to-zero (deviation) coding of a factor with ``k`` levels: k - 1 columns."""
    x = np.zeros((len(index), k - 1))
    on = index < k - 1
    x[np.flatnonzero(on), index[on]] = 1.0
    x[~on] = -1.0
    return x


def _contrasts(k: int, offset: int, width: int, intercept: bool) -> np.ndarray:
    """Rows picking each level's effect out of sum-coded parameters (the last level is minus
    the sum of the others); with the intercept added when ``intercept``."""
    c = np.zeros((k, width))
    c[np.arange(k - 1), offset + np.arange(k - 1)] = 1.0
    c[k - 1, offset:offset + k - 1] = -1.0
    if intercept:
        c[:, 0] = 1.0
    return c


def fit_ratings(table: pd.DataFrame, alpha: float = ALPHA) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rater model on a (rater_id, unit_id, rating) table: (raters, pairs, units)."""
    import statsmodels.api as sm
    from statsmodels.stats.multitest import multipletests

    if not 0 < alpha < 1:
        raise PerfsimError(f"alpha must be between 0 and 1 (got {alpha})")
    raters = np.array(sorted(table["rater_id"].unique()))
    units = np.array(sorted(table["unit_id"].unique()))
    ri = np.searchsorted(raters, table["rater_id"].to_numpy())
    ui = np.searchsorted(units, table["unit_id"].to_numpy())
    y = table["rating"].to_numpy(dtype=float)
    n_r, n_u = len(raters), len(units)
    if len(y) <= n_r + n_u:
        raise PerfsimError(f"{len(y)} ratings for {n_r} raters and {n_u} units: too few to separate raters "
                           "from units (each rater must rate several units and each unit be rated several times)")
    x = np.column_stack([np.ones(len(y)), _sum_coding(ri, n_r), _sum_coding(ui, n_u)])
    ols = sm.OLS(y, x).fit()
    cov = ols.cov_params()
    lc = _contrasts(n_r, 1, x.shape[1], intercept=False)
    leniency = lc @ ols.params
    leniency_se = np.sqrt(np.einsum("ij,jk,ik->i", lc, cov, lc))
    uc = _contrasts(n_u, n_r, x.shape[1], intercept=True)
    adjusted = uc @ ols.params
    adjusted_se = np.sqrt(np.einsum("ij,jk,ik->i", uc, cov, uc))

    centred = np.full((n_r, n_u), np.nan)
    centred[ri, ui] = y - leniency[ri]
    residual = np.full((n_r, n_u), np.nan)
    compression, compression_se = np.full(n_r, np.nan), np.full(n_r, np.nan)
    unreliable: list[str] = []
    for r in range(n_r):
        others = np.delete(centred, r, axis=0)
        count = np.sum(~np.isnan(others), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            consensus = np.where(count > 0, np.nansum(others, axis=0) / np.maximum(count, 1), np.nan)
        on = ~np.isnan(centred[r]) & (count > 0)
        if on.sum() < 3 or np.ptp(consensus[on]) == 0:
            continue
        fit = sm.OLS(centred[r, on], sm.add_constant(consensus[on])).fit()
        reliability = 1.0 - np.mean(ols.scale / count[on]) / np.var(consensus[on], ddof=1)
        if not reliability >= MIN_RELIABILITY:
            unreliable.append(str(raters[r]))
            continue
        compression[r] = 1.0 - fit.params[1] / reliability
        compression_se[r] = fit.bse[1] / reliability
        residual[r, on] = fit.resid
    if unreliable:
        warnings.warn(f"compression not estimated for {len(unreliable)} rater(s) ({', '.join(unreliable[:6])}"
                      f"{' ...' if len(unreliable) > 6 else ''}): the other raters' consensus is mostly noise "
                      f"(reliability below {MIN_RELIABILITY:g}); their residuals are left out of the favour "
                      "test", PerfsimWarning, stacklevel=3)
    scale = np.array([stats.median_abs_deviation(row[~np.isnan(row)], scale="normal") if np.isfinite(row).sum() > 2
                      else np.nan for row in residual])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = residual / scale[:, None]
    # every rating is a row of pairs; those the favour test cannot use say why (left_out)
    rr, uu = ri, ui
    tested = np.isfinite(z[rr, uu])
    p = np.full(len(rr), np.nan)
    q = np.full(len(rr), np.nan)
    p[tested] = stats.norm.sf(z[rr, uu][tested])
    if tested.any():
        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    why = np.full(len(rr), "", dtype=object)
    no_compression = ~np.isfinite(compression)[rr]
    unreliable_rater = np.isin(raters[rr], unreliable)
    why[~tested & unreliable_rater] = "the other raters' consensus is mostly noise (compression not estimated)"
    why[~tested & no_compression & ~unreliable_rater] = ("compression not estimated (the rater rated fewer than 3 "
                                                         "units others rated, or the consensus is constant)")
    why[~tested & ~no_compression] = "the rater's residuals do not vary (no scale)"
    pairs = pd.DataFrame({"rater_id": raters[rr], "unit_id": units[uu], "residual": residual[rr, uu],
                          "z": z[rr, uu], "p_value": p, "q_value": q, "flagged": tested & (q <= alpha),
                          "left_out": why}).sort_values(["rater_id", "unit_id"], kind="stable").reset_index(drop=True)
    if (~tested).any():
        counts = pd.Series(why[~tested]).value_counts()
        warnings.warn(f"{int((~tested).sum())} of {len(rr)} rating(s) are left out of the favour test and kept in "
                      "pairs.csv with the reason (column left_out): "
                      + "; ".join(f"{n} because {reason}" for reason, n in counts.items()),
                      PerfsimWarning, stacklevel=3)

    p_len = 2 * stats.norm.sf(np.abs(leniency / leniency_se))
    q_len = multipletests(p_len, method="fdr_bh")[1]
    ok = np.isfinite(compression)
    q_comp = np.ones(n_r)
    if ok.any():
        q_comp[ok] = multipletests(stats.norm.sf(compression[ok] / compression_se[ok]), method="fdr_bh")[1]
    reasons = []
    for k in range(n_r):
        why = []
        if q_len[k] <= alpha:
            why.append("lenient" if leniency[k] > 0 else "severe")
        if q_comp[k] <= alpha:
            why.append("compressing")
        reasons.append(", ".join(why))
    per = pd.DataFrame({"rater_id": raters, "n": np.bincount(ri, minlength=n_r), "leniency": leniency,
                        "leniency_se": leniency_se, "compression": compression, "compression_se": compression_se,
                        "flagged": [bool(w) for w in reasons], "reason": reasons})
    raw = pd.Series(y).groupby(ui).mean().reindex(range(n_u)).to_numpy()
    unit_table = pd.DataFrame({"unit_id": units, "n": np.bincount(ui, minlength=n_u), "raw_mean": raw,
                               "adjusted": adjusted, "adjusted_se": adjusted_se})
    return per, pairs, unit_table


def rater_model(dataset: Dataset, year: int | None = None, source: str = "leader_ratings",
                alpha: float = ALPHA) -> RaterFit:
    """The rater model of one year's ``source`` ratings (see the module docstring)."""
    table, year = rating_table(dataset, year, source)
    raters, pairs, units = fit_ratings(table, alpha)
    names = dataset.units.set_index("unit_id")
    units.insert(1, "name", names["name"].reindex(units["unit_id"]).to_numpy() if "name" in names else "")
    units.insert(2, "category", names["category"].reindex(units["unit_id"]).to_numpy())
    return RaterFit(raters, pairs, units, source, year, alpha)


def _rater_numbers(fit: RaterFit) -> dict:
    """What the rater paragraph says, computed once for either language."""
    r, p = fit.raters, fit.pairs
    flagged = p[p["flagged"]]
    top = flagged.loc[flagged["residual"].idxmax()] if len(flagged) else None
    moved = (fit.units["adjusted"] - fit.units["raw_mean"]).abs()
    return {"n": len(r), "spread": r["leniency"].max() - r["leniency"].min(),
            "severest": (r.loc[r["leniency"].idxmin(), "rater_id"], r["leniency"].min()),
            "kindest": (r.loc[r["leniency"].idxmax(), "rater_id"], r["leniency"].max()),
            "lenient": int(r["reason"].str.contains("lenient").sum()),
            "severe": int(r["reason"].str.contains("severe").sum()),
            "compressing": int(r["reason"].str.contains("compressing").sum()),
            "compression": np.nanmax(r["compression"]) if r["compression"].notna().any() else None,
            "flagged": len(flagged), "pairs": len(p),
            "top": None if top is None else (top["residual"], top["rater_id"], top["unit_id"]),
            "moved": moved}


def raters_text(fit: RaterFit, lang: str = "en") -> str:
    """One paragraph on what the model finds, every number from ``fit``, in ``lang`` (zh or en)."""
    k = _rater_numbers(fit)
    (low_id, low), (high_id, high), moved = k["severest"], k["kindest"], k["moved"]
    if lang == "zh":
        parts = [f"{k['n']} 位评分人（{fit.source}，{fit.year} 年）：宽严度相差 {k['spread']:.1f} 分，最严的 "
                 f"{low_id}（{low:+.1f}）到最宽的 {high_id}（{high:+.1f}）；在错误发现率 {fit.alpha:g} 下，"
                 f"{k['lenient']} 位显著偏宽、{k['severe']} 位显著偏严"
                 + (f"，{k['compressing']} 位把各单位的分数压得比共识更近（平衡分；压缩度最高 {k['compression']:.2f}）。"
                    if k["compression"] is not None else "；压缩度无法估计（其他评分人的共识多为噪声）。"),
                 f"{k['pairs']} 个评分人-单位评分中有 {k['flagged']} 个显著高于模型预期（可能的人情分、关系分）"
                 + (f"，最大的高出 {k['top'][0]:.1f} 分（{k['top'][1]} 评 {k['top'][2]}）" if k["top"] else "")
                 + "；标记只是询问的理由，不是证据。",
                 "每位评分人都评了每个单位，宽严度在单位平均分中相互抵消；压缩和人情分则不会。" if moved.max() < 0.005
                 else f"并非每位评分人都评了每个单位：按宽严度调整后，单位平均分最多变动 {moved.max():.2f} 分"
                      f"（平均 {moved.mean():.2f}）。"]
        return "".join(parts)
    parts = [f"{k['n']} raters ({fit.source}, {fit.year}): leniency spans {k['spread']:.1f} points from the most severe "
             f"({low_id}, {low:+.1f}) to the most lenient ({high_id}, {high:+.1f}); "
             f"{k['lenient']} lenient and {k['severe']} severe beyond chance"
             + (f", {k['compressing']} compressing the units more than the consensus (平衡分; compression up to "
                f"{k['compression']:.2f})" if k["compression"] is not None
                else "; compression could not be estimated (the consensus of the other raters is mostly noise)")
             + f", at a false-discovery rate of {fit.alpha:g}.",
             f"{k['flagged']} of {k['pairs']} rater-unit ratings are higher than the model expects beyond chance "
             f"(candidate favours, 人情分/关系分)"
             + (f", the largest {k['top'][0]:.1f} points above expectation ({k['top'][1]} on {k['top'][2]})"
                if k["top"] else "")
             + "; a flag is a reason to ask, not proof.",
             "Every rater rated every unit, so leniency cancels out of the units' mean ratings; "
             "compression and favours do not." if moved.max() < 0.005
             else f"Not every rater rated every unit: adjusting for leniency moves unit means by up to "
                  f"{moved.max():.2f} points (mean {moved.mean():.2f})."]
    return " ".join(parts)


def analysis(scheme=None, dataset: Dataset | None = None, *, year: int | None = None, seed: int = DEFAULT_SEED,
             source: str = "leader_ratings", alpha: float = ALPHA) -> "Result":
    """The protocol's rater analysis (see :mod:`perfsim.analyses.result`): leniency,
    compression and candidate favours of one year's ratings (no scheme needed)."""
    from .result import Chart, Result, both

    if dataset is None:
        raise PerfsimError("the rater analysis needs a dataset")
    fit = rater_model(dataset, year, source, alpha)
    flagged = fit.raters[fit.raters["flagged"]]
    favours = fit.pairs[fit.pairs["flagged"]].sort_values("z", ascending=False)
    facts = {"source": fit.source, "year": fit.year, "alpha": fit.alpha, "raters": int(len(fit.raters)),
             "flagged_raters": flagged["rater_id"].tolist(),
             "reasons": dict(zip(flagged["rater_id"], flagged["reason"])),
             "pairs": int(len(fit.pairs)), "flagged_pairs": int(len(favours))}
    return Result(
        "raters", both("评分人行为：宽严、平衡分、人情分", "Rater behaviour: leniency, compression, favours"),
        tables={"raters": fit.raters[[*RATER_COLUMNS, "reason"]], "pairs": fit.pairs[PAIR_COLUMNS], "units": fit.units,
                "favours": favours[PAIR_COLUMNS]},
        figures={"raters": Chart("raters", ("raters", "pairs", "units"),
                                 both("宽严度、压缩度与评分残差", "Leniency, compression and rating residuals"),
                                 {"source": fit.source, "year": fit.year, "alpha": fit.alpha})},
        facts=facts, texts=both(raters_text(fit, "zh"), raters_text(fit)),
        shown=(("raters", "评分人", "Raters"), ("favours", "可能的人情分（高于模型预期的评分）",
                                               "Candidate favours (ratings above what the model expects)"),
               ("units", "单位：原始平均分与按宽严调整后的评分", "Units: raw mean and the rating adjusted for leniency")))
