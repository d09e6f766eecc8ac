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
