"""Every notebook runs through papermill with small parameters, has no error cell and
writes the tables it promises (the nbval-lax run in `make test` covers the defaults)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from .conftest import MINI, ROOT, TESTS

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCENARIO = TESTS / "data" / "mini_scenario.yaml"
EXPECTED_TABLES = {
    "00_template": {"scores"},
    "scoring": {"scores", "grades"},
    "comparison": {"rank_shifts", "summary", "movers", "groups"},
    "scheme_overview": {"tree", "effective_weights"},
    "e_performance": {"progress", "dynamic_ranking", "feedback", "efficiency", "target_regimes", "awards"},
    "levers": {"sweep_special_points", "central_outer_gap", "sampling_error", "swap_by_sample_size",
               "swap_probability", "summary_vs_base", "recut", "caps_sweep"},
    "robustness": {"rank_stats", "acceptability", "sensitivity", "stability", "method_ranks", "method_summary"},
    "results_use": {"efficiency", "disclosure", "diagnosis_units", "diagnosis_levers"},
    "weightings": {"weights_by_method", "weighting_effects", "influence", "reduction_steps"},
    "leader_rating_reform": {"rank_shifts", "summary", "attribution", "grade_changes", "variance_shares"},
}
SMALL = {"e_performance": {"period": "2025-06"},
         "results_use": {"outputs": ["indicator:I1"]},
         "levers": {"special_points": [0, 10], "contribution_weights": [10, 80],
                    "survey_scales": [1, 4], "deduction_caps": [0, 2], "bonus_caps": [0, 1]},
         "robustness": {"draws": 500, "sobol_n": 32, "unit": "U4", "target_rank": 1},
         "leader_rating_reform": {"worlds": 6, "sweep_worlds": 4, "favour_points": [0, 20], "compression": [0.5],
                                  "leniency_sd": [2.5], "leader_points": [0, 10]}}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean_with_parameters_cell(notebook: Path):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# ")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_small_data(notebook: Path, tmp_path):
    out = tmp_path / notebook.name
    pm.execute_notebook(notebook, out, kernel_name="python3", progress_bar=False,
                        parameters={"scenario": str(SCENARIO), "data": str(MINI),
                                    "out_dir": str(tmp_path / "res"), **SMALL.get(notebook.stem, {})})
    nb = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    tables = {p.stem for p in (tmp_path / "res" / "tables").glob("*.csv")}
    assert EXPECTED_TABLES[notebook.stem] <= tables
    if notebook.stem == "comparison":
        summary = pd.read_csv(tmp_path / "res" / "tables" / "summary.csv")
        assert list(summary["category"]) == ["A", "B", "district", "overall"]
        figures = {p.stem for p in (tmp_path / "res" / "figures").glob("*.png")}
        assert {"rank_shifts", "total_change"} <= figures


def test_reform_notebook_on_the_bundled_world_writes_what_its_conclusion_says(tmp_path):
    """The validity part on the bundled world (small): the conclusion's numbers are those of
    the tables it wrote, and the effects are what the per-world table says."""
    import numpy as np

    out = tmp_path / "nb.ipynb"
    pm.execute_notebook(ROOT / "notebooks" / "leader_rating_reform.ipynb", out, kernel_name="python3",
                        progress_bar=False, parameters={"out_dir": str(tmp_path / "res"), "worlds": 8,
                                                        "sweep_worlds": 4, "favour_points": [0, 20],
                                                        "compression": [0.5], "leniency_sd": [2.5],
                                                        "leader_points": [0, 10]})
    tables = tmp_path / "res" / "tables"
    per = pd.read_csv(tables / "ensemble_per_world.csv")
    eff = pd.read_csv(tables / "ensemble_effects.csv").set_index("metric")
    v = per[per["metric"] == "delta_tau_truth"]["value"].to_numpy()
    assert len(v) == 8 and eff.loc["delta_tau_truth", "median"] == pytest.approx(np.median(v))
    found = json.loads((tables / "findings.json").read_text(encoding="utf-8"))
    assert found["validity"]["median"] == pytest.approx(eff.loc["delta_tau_truth", "median"])
    nb = json.loads(out.read_text(encoding="utf-8"))
    text = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"]
                   for o in c.get("outputs", []))
    assert found["headline"]["en"] in text and f"{found['validity']['median']:+.3f}" in text
    shifts = pd.read_csv(tables / "rank_shifts.csv")
    assert f"{int((shifts['shift'] != 0).sum())} of {len(shifts)} units change rank" in found["headline"]["en"]
