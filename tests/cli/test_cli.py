"""The command line and the Python API it mirrors."""

from __future__ import annotations

import numpy as np
import pandas as pd

import perfsim
from perfsim.cli import main

from ..conftest import BASELINE, MINI, MINI_SCHEME


def test_score_prints_ranked_tables_and_writes_csv(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(MINI_SCHEME), "--data", str(MINI), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "== A (2 units) ==" in printed and "== district (2 units) ==" in printed
    table = pd.read_csv(out)
    assert list(table.columns) == ["unit_id", "name", "category", "total", "rank", "grade",
                                   "targets", "leader", "satisfaction", "special", "bonus",
                                   "deduction", "veto"]
    api = perfsim.score(perfsim.load_scenario(MINI_SCHEME), perfsim.load_dataset(MINI))
    assert np.allclose(table["total"], api["total"])
    assert not list(tmp_path.glob(".scores.csv.*"))      # no temporary file left behind


def test_score_on_bundled_world_is_internally_consistent(tmp_path, capsys):
    out = tmp_path / "baseline.csv"
    assert main(["score", str(BASELINE), "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    assert len(table) == 108
    parts = table[["targets", "leader", "satisfaction", "special", "bonus"]].sum(axis=1) - table["deduction"]
    assert np.allclose(parts, table["total"], atol=0.006)
    for _, group in table.groupby("category"):
        ranks = group.sort_values("total", ascending=False)["rank"].to_numpy()
        assert (np.diff(ranks) >= 0).all() and ranks[0] == 1


def test_validate_ok(capsys):
    assert main(["validate", str(MINI_SCHEME), "--data", str(MINI)]) == 0
    out = capsys.readouterr().out
    assert "valid scheme 'mini'" in out and "fits the scheme for year 2025 (5 units)" in out


def test_baseline_does_not_fit_the_mini_data(capsys):
    # the mini data has no indicator E01: the fit check says so, naming the key
    assert main(["validate", str(BASELINE), "--data", str(MINI)]) == 2
    assert "key 'tree.targets.economic.E01': indicator 'E01' is not in" in capsys.readouterr().err


def test_uncertainty_command_writes_results_with_their_provenance(tmp_path, capsys):
    """Four tables plus run.json (scenario, spec, seed, data hash); chunks over two worker
    processes give the same files as one process."""
    import json

    from perfsim.report.provenance import files_hash
    from perfsim.sources.world import ensure_synthetic

    args = ["uncertainty", str(BASELINE), "--draws", "3000", "--chunk", "1000", "--seed", "7",
            "--sobol-n", "16", "--unit", "URB17", "--target-rank", "1"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--jobs", "2"]) == 0
    assert "widest 5-95% rank bands" in capsys.readouterr().out
    for name in ("rank_stats.csv", "acceptability.csv", "sensitivity.csv", "stability.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    stats = pd.read_csv(tmp_path / "one" / "rank_stats.csv")
    assert len(stats) == 108 and (stats["rank_q05"] <= stats["rank_median"]).all()
    run = json.loads((tmp_path / "one" / "run.json").read_text())
    assert run["command"] == "uncertainty" and run["draws"] == 3000 and run["seed"] == 7 and run["chunk"] == 1000
    assert run["spec"]["weights"] and run["scenarios"]["scenario"]["resolved"]["name"] == "baseline"
    assert run["data"]["synthetic"] and run["data"]["sha256"] == files_hash(ensure_synthetic())


def test_compare_command_stores_the_scenario_diff_beside_the_results(tmp_path, capsys):
    import json

    scenario = BASELINE.parent / "scenarios" / "leader5_proportional.yaml"
    assert main(["compare", str(BASELINE), str(scenario), "--out", str(tmp_path)]) == 0
    assert "biggest movers" in capsys.readouterr().out
    shifts = pd.read_csv(tmp_path / "rank_shifts.csv")
    assert len(shifts) == 108
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["scenarios"]["scenario"]["diff"]["reallocate"] == [
        {"component": "leader", "points": 5.0, "to": "proportional"}]
    assert run["scenarios"]["base"]["diff"] == {}


def test_saved_draws_reproduce_rank_bands_acceptability_and_grades(tmp_path):
    """Recompute the published tables from the saved draws alone (scipy ranks, numpy
    quantiles, the engine's grading): they must agree with what perfsim wrote."""
    from scipy.stats import rankdata

    from perfsim.core.engine import grade_index

    out = tmp_path / "mc"
    assert main(["uncertainty", str(BASELINE), "--draws", "2000", "--chunk", "700", "--seed", "3",
                 "--no-sobol", "--save-draws", "--out", str(out)]) == 0
    totals = pd.read_parquet(out / "draws_totals.parquet")
    shares = pd.read_parquet(out / "draws_weights.parquet")
    stats = pd.read_csv(out / "rank_stats.csv").set_index("unit_id")
    accept = pd.read_csv(out / "acceptability.csv").set_index("unit_id")
    assert totals.shape == (2000, 108) and len(shares) == 2000
    assert np.allclose(shares.T.groupby(lambda w: w.rsplit(".", 1)[0]).sum(), 1.0)   # shares per parent
    category = stats["category"].reindex(totals.columns)
    r = pd.DataFrame(index=totals.index, columns=totals.columns, dtype=float)
    for cat in category.unique():
        cols = category.index[category == cat]
        r[cols] = rankdata(-totals[cols].to_numpy(), method="min", axis=1)
    for q, column in ((0.05, "rank_q05"), (0.5, "rank_median"), (0.95, "rank_q95")):
        expected = np.quantile(r.to_numpy(), q, axis=0, method="inverted_cdf")
        assert np.array_equal(stats.loc[totals.columns, column].to_numpy(), expected), column
    assert np.allclose(stats.loc[totals.columns, "rank_mean"], r.mean())
    assert np.allclose(accept.loc[totals.columns, "rank_1"], (r == 1).mean())
    assert np.allclose(accept.loc[totals.columns, "rank_2"].fillna(0), (r == 2).mean())
    scheme = perfsim.load_scenario(BASELINE)
    groups = pd.factorize(category, sort=True)[0]
    veto = perfsim.score(scheme, perfsim.bundled_dataset()).set_index("unit_id")["veto"].reindex(totals.columns)
    veto = veto.to_numpy(bool)
    index = grade_index(scheme.scheme, totals.to_numpy(), r.to_numpy().astype(int), groups, veto)
    for k, grade in enumerate(scheme.scheme.grading.grades):
        assert np.allclose(stats.loc[totals.columns, f"p_{grade}"], (index == k).mean(axis=0)), grade
    # central weights: mean weight shares over the draws where the unit ranks first
    winner = accept["rank_1"].idxmax()
    first = (r[winner] == 1).to_numpy()
    central = accept.loc[winner, [f"central_weight:{w}" for w in shares.columns]].to_numpy(float)
    assert np.allclose(central, shares[first].mean().to_numpy())
