"""A dataset's own moments (perfsim moments): the calibration moments exactly as the
synthetic world's, published and hand-computed statistics (Shrout and Fleiss's ICC, Kendall's
tau, within-category correlation, target-met shares), bootstrap errors, and the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import perfsim
from perfsim.analyses.moments import data_moments, icc, persistence, tau_b, within_corr
from perfsim.cli import main

from ..conftest import MINI, MINI_SCHEME


def test_icc_reproduces_shrout_and_fleiss():
    """Shrout and Fleiss (1979), Psychological Bulletin 86(2): 420-428, Table 2: six targets
    rated by four judges; ICC(2,1) = 0.29."""
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
                       dtype=float)
    assert round(icc(ratings), 2) == 0.29
    assert np.isnan(icc(ratings[:, :1])) and np.isnan(icc(ratings[:1]))
    with_gap = np.vstack([ratings, [np.nan, 3, 3, 3]])                  # a unit not rated by all: left out
    assert icc(with_gap) == pytest.approx(icc(ratings))


def test_tau_b_and_within_statistics_against_scipy_and_numpy():
    rng = np.random.default_rng(4)
    for n in (3, 7, 25):
        x, y = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)     # with ties
        assert tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    groups = np.repeat([0, 1, 2], 10)
    a = rng.normal(size=30) + groups * 5                   # the group means differ a lot
    b = a * 0.5 + rng.normal(size=30) - groups * 7
    da = a - np.array([a[groups == g].mean() for g in groups])
    db = b - np.array([b[groups == g].mean() for g in groups])
    assert within_corr(a, b, groups) == pytest.approx(np.corrcoef(da, db)[0, 1])
    assert within_corr(a, b, groups) > 0 > np.corrcoef(a, b)[0, 1]            # pooled it would be negative
    # no spread within any group (each group's values equal; removing the means leaves only
    # rounding noise): no correlation, not one of noise
    flat = np.where(groups == groups[0], 91.1, 77.3)
    assert np.isnan(within_corr(flat, b, groups)) and np.isnan(within_corr(a, flat, groups))
    sizes = [10, 10, 10]
    expected = np.average([stats.kendalltau(a[groups == g], b[groups == g]).statistic for g in range(3)],
                          weights=sizes)
    assert persistence(a, b, groups) == pytest.approx(expected)


def test_the_calibration_moments_of_a_world_in_tables_equal_the_worlds_own(baseline):
    """A synthetic world written as tables gives, for every moment of the calibration, the
    number calibration computes from its arrays."""
    from perfsim.analyses.calibration import MOMENTS, world_moments
    from perfsim.sources.synth import generate_arrays, synth_params, world_tables

    world = generate_arrays(11, synth_params(), years=1, monthly=False)
    data = perfsim.validate_frames(world_tables(world))
    mine = data_moments(baseline, data, boot=0).set_index("moment")
    theirs = world_moments(world, baseline.scheme)
    for name in MOMENTS:
        assert mine.loc[name, "value"] == pytest.approx(theirs[name], rel=1e-9, abs=1e-12), name
    assert mine["se"].isna().all()                                        # boot 0: no errors


def test_moments_of_the_bundled_world_recomputed_independently(baseline):
    world = perfsim.bundled_dataset()
    table = data_moments(baseline, world, year="all", boot=0).set_index("moment")
    years = world.years
    scores = {y: perfsim.score(baseline, world, y).set_index("unit_id") for y in years}
    ids = scores[years[-1]].index
    # persistence of the total: Kendall's tau within category between consecutive years, n-weighted
    taus = []
    for a, b in zip(years, years[1:]):
        per = []
        for _, g in scores[b].groupby("category"):
            per.append((stats.kendalltau(scores[a].loc[g.index, "total"], g["total"]).statistic, len(g)))
        taus.append(np.average([t for t, _ in per], weights=[n for _, n in per]))
    assert table.loc["persistence:total", "value"] == pytest.approx(np.mean(taus))
    assert table.loc["persistence:total", "years"] == " ".join(map(str, years))
    # deductions and vetoes pooled over the years
    pooled = pd.concat(scores.values())
    assert table.loc["deduction_share", "value"] == pytest.approx((pooled["deduction"] > 0).mean())
    assert table.loc["veto_share", "value"] == pytest.approx(pooled["veto"].mean())
    assert table.loc["total_p50", "value"] == pytest.approx(np.percentile(pooled["total"], 50))
    # leader raters' agreement in the last year, on the raters x units matrix
    last = world.leader_ratings[world.leader_ratings["year"] == years[-1]]
    matrix = last.pivot_table(index="unit_id", columns="rater_id", values="rating").reindex(ids).to_numpy()
    single = data_moments(baseline, world, boot=0).set_index("moment")
    assert single.loc["icc:leader_raters", "value"] == pytest.approx(icc(matrix))
    assert 0 < single.loc["icc:leader_raters", "value"] < 1
    # self-reported targets met in the last year, by hand from the tables
    from perfsim.core.engine import year_end_actuals

    t = world.targets[(world.targets["year"] == years[-1]) & (world.targets["method"] == "self")]
    cells = t.merge(year_end_actuals(world, years[-1]), on=["unit_id", "indicator_id"])
    lower = cells["indicator_id"].map(world.indicators.set_index("indicator_id")["direction"]) == "lower"
    met = np.where(lower, cells["value"] <= cells["target"], cells["value"] >= cells["target"])
    assert single.loc["self_target_met", "value"] == pytest.approx(met.mean())


def test_bootstrap_errors_are_reproducible_and_sized_like_the_analytic_ones(baseline):
    world = perfsim.bundled_dataset()
    a = data_moments(baseline, world, boot=400, seed=3).set_index("moment")
    b = data_moments(baseline, world, boot=400, seed=3).set_index("moment")
    c = data_moments(baseline, world, boot=400, seed=4).set_index("moment")
    assert a["se"].equals(b["se"]) and not a["se"].equals(c["se"])
    # a share within strata: the stratified bootstrap's error is about the analytic one
    scores = perfsim.score(baseline, world)
    n = len(scores)
    var = sum((len(g) / n) ** 2 * (g["deduction"] > 0).mean() * (1 - (g["deduction"] > 0).mean()) / len(g)
              for _, g in scores.groupby("category"))
    assert a.loc["deduction_share", "se"] == pytest.approx(np.sqrt(var), rel=0.2)


def test_the_command_on_an_office_dataset_says_what_is_absent(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["moments", str(MINI_SCHEME), "--data", str(MINI), "--boot", "20", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(out / "moments.csv", encoding="utf-8-sig")
    assert list(table.columns) == ["moment", "value", "se", "n", "years", "definition"]
    persistence_rows = table[table["moment"].str.startswith("persistence:")]
    assert persistence_rows["value"].isna().all()
    assert persistence_rows["definition"].str.contains("needs at least 2 consecutive years; the data have 2025").all()
    assert "cannot be computed from these data" in captured.err and "persistence:total" in captured.err
    assert (out / "run.json").exists()
    history = table.set_index("moment").loc["history_target_met"]
    assert np.isnan(history["value"]) and "no history targets" in history["definition"]
