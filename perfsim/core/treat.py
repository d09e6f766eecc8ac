"""Outlier treatment of one indicator's values, as COINr's ``Treat`` does by default.

A set of values *fails* when its absolute skewness is at least ``skew`` and its
kurtosis at least ``kurtosis`` (COINr's ``check_SkewKurt``: pass if ``|skew| < 2`` or
``kurt < 3.5``), both the sample-adjusted statistics of Excel and e1071 type 2, which are
scipy's ``skew(bias=False)`` and ``kurtosis(bias=False)`` (excess kurtosis). A failing set
is winsorised: the highest value(s) (lowest when the skew is negative) are set to the
next value inward, one step at a time, while it fails and at most ``max_points`` values
have been changed. If it still fails, the *original* values are log-transformed as
COINr's ``log_CT``: ``log(x - min + 0.01 (max - min))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: fewer values than this are never treated (kurtosis needs four)
MIN_VALUES = 4


@dataclass(frozen=True)
class Treated:
    values: np.ndarray          # same shape as the input, NaN kept
    method: str                 # "none", "winsorise" or "log"
    points: int                 # values changed by winsorising
    skew_before: float
    kurtosis_before: float
    skew_after: float
    kurtosis_after: float


def skew_kurtosis(values: np.ndarray) -> tuple[float, float]:
    """Sample skewness and excess kurtosis (bias-corrected) of the finite values."""
    v = values[np.isfinite(values)]
    if len(v) < MIN_VALUES or np.ptp(v) == 0:
        return 0.0, 0.0
    return float(stats.skew(v, bias=False)), float(stats.kurtosis(v, bias=False))


def fails(values: np.ndarray, skew: float = 2.0, kurtosis: float = 3.5) -> bool:
    s, k = skew_kurtosis(values)
    return abs(s) >= skew and k >= kurtosis


def winsorise(values: np.ndarray, max_points: int, skew: float = 2.0,
              kurtosis: float = 3.5) -> tuple[np.ndarray, int]:
    """COINr's ``winsorise``: the values and how many of them were changed."""
    x = np.array(values, dtype=float)
    changed = np.zeros(len(x), dtype=bool)
    while fails(x, skew, kurtosis) and changed.sum() < max_points:
        finite = np.isfinite(x)
        s, _ = skew_kurtosis(x)
        end = np.nanmax(x) if s >= 0 else np.nanmin(x)
        at_end = finite & (x == end)
        rest = x[finite & ~at_end]
        if not len(rest):
            break
        x[at_end] = rest.max() if s >= 0 else rest.min()
        changed |= at_end
    return x, int(changed.sum())


def log_ct(values: np.ndarray) -> np.ndarray:
    """COINr's ``log_CT``: ``log(x - min + 0.01 (max - min))`` (order kept)."""
    x = np.asarray(values, dtype=float)
    lo, hi = np.nanmin(x), np.nanmax(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x - lo + 0.01 * (hi - lo))


def treat(values: np.ndarray, method: str = "winsorise", max_points: int = 5, skew: float = 2.0,
          kurtosis: float = 3.5, log_fallback: bool = True) -> Treated:
    """Treat one indicator's values (NaN for units without a value) if they fail."""
    x = np.asarray(values, dtype=float)
    s0, k0 = skew_kurtosis(x)
    if not (abs(s0) >= skew and k0 >= kurtosis):
        return Treated(x, "none", 0, s0, k0, s0, k0)
    if method == "winsorise":
        out, points = winsorise(x, max_points, skew, kurtosis)
        if not fails(out, skew, kurtosis) or not log_fallback:
            s1, k1 = skew_kurtosis(out)
            return Treated(out, "winsorise", points, s0, k0, s1, k1)
    out = log_ct(x)
    s1, k1 = skew_kurtosis(out)
    return Treated(out, "log", 0, s0, k0, s1, k1)
