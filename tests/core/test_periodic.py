"""Periodic assessment: a scheme's assessment weights combine the assessed months' totals,
each month scored as `perfsim score --period` scores it; one bad input per message."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.cli import main
from perfsim.core.errors import PerfsimError, PerfsimWarning
from perfsim.core.periods import period_dataset
from perfsim.core.scheme import load_scheme_text

from ..conftest import ROOT

QUARTERLY = ROOT / "params" / "scenarios" / "periodic" / "quarterly.yaml"


def test_the_year_is_the_weighted_mean_of_the_assessed_months(tmp_path, capsys):
    world = perfsim.open_dataset(None)
    base = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        quarterly = perfsim.score(perfsim.load_scenario(QUARTERLY), world).set_index("unit_id")
        months = {}
        for m in (3, 6, 9):
            assert main(["score", str(ROOT / "params" / "baseline.yaml"), "--period", f"2025-{m:02d}", "--quiet",
                         "--out", str(tmp_path / f"m{m}.csv")]) == 0
            months[m] = pd.read_csv(tmp_path / f"m{m}.csv").set_index("unit_id")["total"]
        months[12] = perfsim.score(base, world).set_index("unit_id")["total"]
    expected = sum(w * months[m].reindex(quarterly.index) for m, w in {3: 0.1, 6: 0.1, 9: 0.1, 12: 0.7}.items())
    assert np.allclose(quarterly["total"], expected.round(2), atol=0.011)
    assert (quarterly["total"] == quarterly["total"].round(2)).all()        # published to the scheme's 2 decimals
    assert not (expected == expected.round(2)).all()                       # which the weighted mean is not
    for m in (3, 6, 9, 12):
        assert np.allclose(quarterly[f"total_{m:02d}"], months[m].reindex(quarterly.index), atol=0.006)
    # ranks follow the combined total within each category
    for _, part in quarterly.groupby("category"):
        best = part["total"].max()
        assert (part.loc[part["total"] == best, "rank"] == 1).all()


def test_a_period_dataset_scales_targets_to_the_expected_share(mini):
    # mini indicators have no frequency or season: monthly, time-proportional (month / 12)
    june = period_dataset(mini, "2025-06", {})
    before = mini.targets.set_index(["unit_id", "indicator_id"])["target"]
    after = june.targets.set_index(["unit_id", "indicator_id"])["target"]
    assert np.allclose(after, before.reindex(after.index) * 6 / 12)
    assert (june.actuals["period"] <= "2025-06").all()


@pytest.mark.parametrize("block, message", [
    ("{weights: {13: 1}}", "month 13 is not a month"),
    ("{weights: {3: 0, 12: 0}}", "weights must be non-negative and not all zero"),
    ("{weights: {12: 1}, every: quarter}", "unknown key"),
])
def test_bad_assessment_blocks(block, message):
    text = ("name: p\ntree: {points: 100, children: {a: {points: 100, rule: ratio, indicator: I1}}}\n"
            f"assessment: {block}\n")
    with pytest.raises(PerfsimError, match=message):
        load_scheme_text(text)


def test_an_assessed_month_without_actuals_is_an_error(mini):
    scheme = load_scheme_text("name: p\ntree: {points: 100, children: {a: {points: 100, rule: ratio, indicator: I1}}}\n"
                              "assessment: {weights: {3: 0.5, 12: 0.5}}\n")
    with pytest.raises(PerfsimError, match=r"actuals\.csv: key 'assessment.weights.3': the data have no actuals for "
                                           r"2025-03, so that month cannot be assessed"):
        perfsim.score(scheme, mini)


def test_score_period_errors(capsys):
    assert main(["score", "params/baseline.yaml", "--period", "2019-03"]) == 2
    assert "the data have no actuals for that month" in capsys.readouterr().err
    assert main(["score", "params/baseline.yaml", "--period", "2025-03", "--year", "2024"]) == 2
    assert "is in 2025, not in --year 2024" in capsys.readouterr().err


def test_weights_that_do_not_add_to_one_on_the_mini_scheme_by_hand(mini, mini_scheme):
    """June weighs 1 and December 3: the year is (june + 3 x december) / 4, rounded as the
    scheme rounds; bonus, deduction and veto are December's."""
    from perfsim.core.scheme import apply_diff, parse_scheme, raw_of

    raw = apply_diff(raw_of(mini_scheme), {"assessment": {"weights": {6: 1.0, 12: 3.0}}}, [], "t")
    periodic = parse_scheme(raw, "t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        year = perfsim.score(periodic, mini).set_index("unit_id")
        june = perfsim.score(mini_scheme, period_dataset(mini, "2025-06", {})).set_index("unit_id")
        december = perfsim.score(mini_scheme, mini).set_index("unit_id")
    expect = ((june["total"] + 3 * december["total"]) / 4).round(2)
    np.testing.assert_allclose(year["total"], expect.reindex(year.index), atol=1e-9)
    assert not np.allclose(year["total"], december["total"].reindex(year.index))      # June counts
    np.testing.assert_allclose(year["total_06"], june["total"].reindex(year.index), atol=1e-9)
    for column in ("bonus", "deduction", "veto"):
        assert (year[column] == december[column].reindex(year.index)).all(), column


def test_cascade_checks_compare_targets_and_goals_scaled_to_the_same_period(world):
    """The world's unit targets add up to each city goal: no gap at any period (the June
    targets are pro-rated, and so is the goal). A unit's annual target cut by 10 shows as a
    gap of 10 at year end and of 10 x the share expected by June at June."""
    from perfsim.core.engine import cascade_gaps
    from perfsim.core.periods import expected_share, judged_frequency, judged_month, load_seasons, period_dataset

    year = world.years[-1]
    assert cascade_gaps(world, year).empty
    assert cascade_gaps(period_dataset(world, f"{year}-06"), year).empty
    higher = set(world.indicators.loc[world.indicators["direction"] == "higher", "indicator_id"])
    frequency = judged_frequency(world)
    goals = world.goals[(world.goals["year"] == year) & world.goals["indicator_id"].isin(higher)]
    goal = next(g for g in goals.itertuples() if judged_month(frequency[g.indicator_id], 6))   # due by June
    targets = world.targets.copy()
    row = targets.index[(targets["year"] == year) & (targets["indicator_id"] == goal.indicator_id)][0]
    targets.loc[row, "target"] -= 10.0
    cut = world.replace(targets=targets)
    at_end = cascade_gaps(cut, year).set_index("indicator_id")
    assert at_end.loc[goal.indicator_id, "gap"] == pytest.approx(10.0)
    share = expected_share(world, judged_month(frequency[goal.indicator_id], 6), load_seasons())[goal.indicator_id]
    assert 0 < share < 1
    at_june = cascade_gaps(period_dataset(cut, f"{year}-06"), year).set_index("indicator_id")
    assert list(at_june.index) == [goal.indicator_id]
    assert at_june.loc[goal.indicator_id, "gap"] == pytest.approx(10.0 * share)
