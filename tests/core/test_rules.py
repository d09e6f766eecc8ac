"""Every scoring rule and aggregation on hand-computed values."""

import numpy as np
import pytest

from perfsim.core import rules


def test_ratio_higher_and_lower_with_cap():
    assert rules.ratio([110, 50, -5], [100, 100, 100], cap=1.2).tolist() == pytest.approx([1.1, 0.5, 0.0])
    assert rules.ratio([130], [100], cap=1.2).tolist() == [1.2]
    # lower is better: t / x; zero actual is the best possible -> cap
    assert rules.ratio([8, 20, 0], [10, 10, 10], lower=True, cap=1.0).tolist() == pytest.approx([1.0, 0.5, 1.0])


def test_band_linear_between_floor_and_target():
    s = rules.band([90, 70, 50, 40, 120], [100] * 5, floor=0.5)
    assert s.tolist() == pytest.approx([0.8, 0.4, 0.0, 0.0, 1.0])
    # lower is better uses t/x: x = 12.5 for t = 10 gives r = 0.8 -> (0.8 - 0.6) / 0.4
    assert rules.band([12.5], [10], lower=True, floor=0.6).tolist() == pytest.approx([0.5])


def test_binary():
    assert rules.binary([99, 100, 101], [100] * 3).tolist() == [0.0, 1.0, 1.0]
    assert rules.binary([9, 11], [10, 10], lower=True).tolist() == [1.0, 0.0]


def test_goalpost_plain_log_and_reversed():
    assert rules.goalpost([20, 52.5, 85, 90], 20, 85).tolist() == pytest.approx([0, 0.5, 1, 1])
    # log goalposts: GNI 100 -> 0, 75,000 -> 1, geometric midpoint -> 0.5
    mid = np.sqrt(100 * 75000)
    assert rules.goalpost([100, mid, 75000], 100, 75000, log=True).tolist() == pytest.approx([0, 0.5, 1])
    assert rules.goalpost([0, 5, 10], 0, 10, lower=True).tolist() == pytest.approx([1, 0.5, 0])


def test_minmax_within_groups():
    x = [10, 20, 30, 5, 5, np.nan]
    g = [0, 0, 0, 1, 1, 1]
    s = rules.minmax(x, g)
    assert s[:5].tolist() == pytest.approx([0, 0.5, 1, 1, 1])   # flat group scores 1
    assert np.isnan(s[5])
    assert rules.minmax([10, 20, 30], [0, 0, 0], lower=True).tolist() == pytest.approx([1, 0.5, 0])


def test_rank_score_within_groups_with_ties():
    s = rules.rank_score([10, 30, 30, 20, 7], [0, 0, 0, 0, 1])
    # ranks in group 0: 30, 30 -> 1; 20 -> 3; 10 -> 4; n = 4 -> 1 - (r - 1)/3
    assert s.tolist() == pytest.approx([0.0, 1.0, 1.0, 1 / 3, 1.0])


def test_competition_rank_ties_share_best():
    assert rules.competition_rank([90, 80, 80, 70]).tolist() == [1, 2, 2, 4]
    r = rules.competition_rank([1.0, 3.0, 2.0, 3.0, np.nan], groups=[0, 0, 1, 1, 1])
    assert r.tolist() == [2, 1, 2, 1, 3]
    assert rules.competition_rank([5, 1, 1], descending=False).tolist() == [3, 1, 1]


def test_rating():
    assert rules.rating([85, 100]).tolist() == pytest.approx([0.85, 1.0])


def test_arithmetic_mean_renormalises_over_present():
    s, share = rules.aggregate([[1.0, 0.5, 0.2]], [2, 1, 1], [[True, True, False]])
    assert s.tolist() == pytest.approx([(2 * 1 + 0.5) / 3])
    assert share[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0])


def test_geometric_mean_and_zero():
    s, _ = rules.aggregate([[0.25, 1.0], [0.0, 1.0]], [1, 1], [[True, True], [True, True]], "geometric")
    assert s.tolist() == pytest.approx([0.5, 0.0])
    s, _ = rules.aggregate([[0.64, 0.1]], [1, 1], [[True, False]], "geometric")
    assert s.tolist() == pytest.approx([0.64])


def test_nothing_present_scores_zero():
    s, share = rules.aggregate([[0.3, 0.4]], [1, 1], [[False, False]])
    assert s.tolist() == [0.0] and share.sum() == 0


def test_unknown_aggregation_raises():
    with pytest.raises(ValueError):
        rules.aggregate([[1.0]], [1], [[True]], "harmonic")


# ------------------------------------------------------------------ group normalisations against scipy/pandas

# a flat group (1), a one-unit group (3) and a last group with no value at all (4)
GROUPED = np.array([4.0, 9.0, 1.0, 9.0, np.nan, 6.0, 6.0, 6.0, 3.0, 8.0, 5.0, np.nan, np.nan])
GROUPS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4])


def _by_group(fn):
    """fn applied to each group's non-NaN values, scattered back (NaN stays NaN)."""
    out = np.full(GROUPED.shape, np.nan)
    for g in np.unique(GROUPS):
        idx = np.where((GROUPS == g) & ~np.isnan(GROUPED))[0]
        if idx.size:
            out[idx] = fn(GROUPED[idx])
    return out


@pytest.mark.parametrize("lower", [False, True])
def test_zscore_percentile_and_rank_score_per_group_against_scipy(lower):
    from scipy import stats

    sign = -1.0 if lower else 1.0

    def z(v):
        return np.zeros_like(v) if v.size < 2 or np.std(v) == 0 else stats.zscore(sign * v, ddof=1)

    def prank(v):
        return np.ones_like(v) if v.size < 2 else (stats.rankdata(sign * v, method="min") - 1) / (v.size - 1)

    def rscore(v):
        return np.ones_like(v) if v.size < 2 else 1 - (stats.rankdata(-sign * v, method="min") - 1) / (v.size - 1)

    with np.errstate(all="raise"):          # the rules guard their own divisions
        for rule in (rules.zscore, rules.percentile, rules.rank_score, rules.minmax):
            rule(GROUPED, GROUPS, lower=lower)
    np.testing.assert_allclose(rules.minmax(GROUPED, GROUPS, lower=lower),
                               _by_group(lambda v: np.ones_like(v) if np.ptp(v) == 0 else
                                         (sign * v - np.min(sign * v)) / np.ptp(v)), equal_nan=True)
    np.testing.assert_allclose(rules.zscore(GROUPED, GROUPS, lower=lower), _by_group(z), equal_nan=True)
    np.testing.assert_allclose(rules.zscore(GROUPED, GROUPS, lower=lower, mean=50, sd=10),
                               50 + 10 * _by_group(z), equal_nan=True)
    np.testing.assert_allclose(rules.percentile(GROUPED, GROUPS, lower=lower), _by_group(prank), equal_nan=True)
    np.testing.assert_allclose(rules.rank_score(GROUPED, GROUPS, lower=lower), _by_group(rscore), equal_nan=True)


def test_equal_values_have_no_spread_however_they_round():
    """Six values 91.1 have a sample sd of about 1.6e-14, not 0: a z-score that divides by it
    turns equal values into about +-0.9. Spread is found exactly (max > min), so a group
    whose values are all equal scores the mean, whatever the values; the other group is
    unchanged."""
    flat = np.full(6, 91.1)
    assert np.std(flat, ddof=1) > 0                                   # the trap this guards against
    x = np.concatenate([flat, [1.0, 2.0, 4.0]])
    g = np.array([0] * 6 + [1] * 3)
    z = rules.zscore(x, g, mean=50, sd=10)
    assert (z[:6] == 50).all()
    np.testing.assert_allclose(z[6:], 50 + 10 * (np.array([1.0, 2.0, 4.0]) - 7 / 3) / np.std([1, 2, 4], ddof=1))
    assert rules.varies(np.array([[91.1, 1.0, np.nan, 3.0], [91.1, 1.0, np.nan, np.nan],
                                  [91.1, 2.0, np.nan, np.nan]]), axis=0).tolist() == [False, True, False, False]
    assert rules.varies(np.array([[1.0, 1.0], [2.0, 2.0]]), axis=1).tolist() == [False, False]


def test_distance_to_target_and_frontier_by_hand():
    x, g = [2.0, 5.0, 8.0, 12.0, np.nan], [0, 0, 0, 0, 0]
    # worst 2: 1 - (10 - x) / 8
    np.testing.assert_allclose(rules.dist_target(x, g, 10.0), [0.0, 0.375, 0.75, 1.25, np.nan], equal_nan=True)
    np.testing.assert_allclose(rules.dist_target(x, g, 10.0, cap_max=True), [0.0, 0.375, 0.75, 1.0, np.nan],
                               equal_nan=True)
    # lower is better, target 4: worst is 12 -> 1 - (x - 4) / (12 - 4)
    np.testing.assert_allclose(rules.dist_target(x, g, 4.0, lower=True), [1.25, 0.875, 0.5, 0.0, np.nan],
                               equal_nan=True)
    np.testing.assert_allclose(rules.dist_frontier(x, g), [0.0, 0.3, 0.6, 1.0, np.nan], equal_nan=True)
    np.testing.assert_allclose(rules.dist_frontier(x, g, lower=True), [1.0, 0.7, 0.4, 0.0, np.nan], equal_nan=True)


def test_rank_share_per_rater_column_against_scipy():
    from scipy import stats

    r = np.array([[80.0, 90.0, np.nan], [85.0, 70.0, 60.0], [85.0, 75.0, np.nan], [95.0, np.nan, np.nan]])
    share = rules.rank_share(r)
    for j in range(r.shape[1]):
        ok = ~np.isnan(r[:, j])
        n = ok.sum()
        expect = np.ones(n) if n == 1 else (stats.rankdata(r[ok, j], method="average") - 1) / (n - 1)
        np.testing.assert_allclose(share[ok, j], expect)
        assert np.isnan(share[~ok, j]).all()
    np.testing.assert_allclose(share[:, 0], [0.0, 0.5, 0.5, 1.0])


def test_tier_ratings_forced_distribution_by_hand():
    tiers = [(0.2, 95.0), (0.4, 90.0), (0.4, 85.0)]           # cumulative 0.2, 0.6, 1.0
    r = np.array([[70.0, 1.0], [90.0, 2.0], [80.0, np.nan], [60.0, 3.0], [85.0, 4.0]])
    out = rules.tier_ratings(r, tiers)
    # column 0, n = 5: top 1 (90) -> 95; ranks 2-3 (85, 80) -> 90; the rest -> 85
    np.testing.assert_allclose(out[:, 0], [85.0, 95.0, 90.0, 85.0, 90.0])
    # column 1, n = 4: floor(0.8) = 0 in the top tier; floor(2.4) = 2 -> 90 for 4 and 3; 85 for the rest
    np.testing.assert_allclose(out[:, 1], [85.0, 85.0, np.nan, 90.0, 90.0], equal_nan=True)
    tied = rules.tier_ratings(np.array([[5.0], [5.0], [1.0], [0.0], [2.0]]), tiers)
    # the two 5s share average rank 1.5 > 1: neither takes the top tier alone
    np.testing.assert_allclose(tied[:, 0], [90.0, 90.0, 85.0, 85.0, 90.0])


def test_two_way_unit_effect_equals_least_squares_with_sum_to_zero_rater_effects():
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    unit, rater = rng.normal(80, 5, 6), np.array([3.0, -1.0, -2.0, 4.0])
    r = unit[:, None] + rater[None, :] + rng.normal(0, 1, (6, 4))
    r[0, 1] = r[2, 3] = r[4, 0] = r[4, 2] = r[5, 1] = np.nan        # unbalanced
    r[3, 1:] = np.nan                                              # a unit with one rating
    r = np.vstack([r, np.full(4, np.nan)])                         # a unit nobody rated
    cells = pd.DataFrame([(i, j, r[i, j]) for i in range(r.shape[0]) for j in range(4) if not np.isnan(r[i, j])],
                         columns=["unit", "rater", "r"])
    fit = smf.ols("r ~ C(unit) + C(rater, Sum) - 1", data=cells).fit()
    expect = np.array([fit.params[f"C(unit)[{i}]"] for i in range(6)])
    got = rules.two_way_unit_effect(r, iterations=5000, tol=1e-13)
    np.testing.assert_allclose(got[:6], expect, atol=1e-8)
    assert np.isnan(got[6])
    # a rater who rated nobody changes nothing
    wider = rules.two_way_unit_effect(np.column_stack([r, np.full(r.shape[0], np.nan)]), iterations=5000, tol=1e-13)
    np.testing.assert_allclose(wider[:6], expect, atol=1e-8)
