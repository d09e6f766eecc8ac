"""Every notebook runs through papermill with small parameters, has no error cell and
writes the tables it promises (the nbval-lax run in `make test` covers the defaults)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from ..conftest import MINI, ROOT, TESTS

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


def _conclusion(nb: dict) -> str:
    """The text the conclusion cells displayed (every markdown output after '## 结论', the
    conclusion's heading, Chinese first with '## Conclusion' in its English part)."""
    seen, parts = False, []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith(("## 结论", "## Conclusion")):
            seen = True
        elif seen and cell["cell_type"] == "code":
            parts += ["".join(o.get("data", {}).get("text/markdown", "")) for o in cell.get("outputs", [])]
    assert seen and "".join(parts).strip(), "no conclusion displayed"
    return "\n".join(parts)


def _scoring(read, text):
    scores = read("scores")
    median = scores["total"].median()
    assert f"{len(scores)} units in {scores['category'].nunique()} categories" in text
    assert f"score from {scores['total'].min():.1f} to {scores['total'].max():.1f} points" in text
    assert f"median {median:.1f}" in text
    assert f"{int(scores['veto'].sum())} one-vote veto" in text
    for grade, n in scores["grade"].value_counts().items():
        assert f"{grade} {n}" in text


def _results_use(read, text):
    eff, cost, levers = read("efficiency"), read("cost_per_point"), read("diagnosis_levers")
    assert f"{int(eff['efficient'].sum())} of {len(eff)} units are on their category's efficiency frontier" in text
    assert f"median CCR efficiency {eff['ccr'].median():.2f}" in text
    assert (f"ranges from {cost['cost_per_point'].min():.0f} to {cost['cost_per_point'].max():.0f} ten-thousand "
            f"yuan (median {cost['cost_per_point'].median():.0f})") in text
    reach = levers[levers["reaches"]]
    units = read("diagnosis_units")
    assert f"{reach['unit_id'].nunique()} of {len(units)} units can pass the unit above" in text


def _scheme_overview(read, text):
    tree, shares = read("tree"), read("concentration")
    weights = read("effective_weights").set_index("node")
    assert f"{int(tree['rule'].notna().sum())} scored leaves" in text
    assert f"The largest effective weight is {weights.stack().max():.2f} points" in text
    heavy = shares[shares["flagged"]]
    assert (f"{len(heavy)} indicator(s) carry more than 25 %" in text) if len(heavy) else \
        ("No indicator carries more than 25 %" in text)


def _robustness(read, text):
    bands = read("rank_stats").assign(width=lambda t: t["rank_q95"] - t["rank_q05"])
    widest = bands.sort_values("width", ascending=False).iloc[0]
    assert f"spans {bands['width'].median():.0f} ranks" in text
    assert f"ranks {int(widest['rank_q05'])}-{int(widest['rank_q95'])}" in text


def _levers(read, text):
    errors, caps = read("sampling_error"), read("caps_sweep")
    assert f"sampling error of {errors['se_score'].median():.2f} points (median)" in text
    assert f"at most {int(caps['grade_changes'].max())} grade changes" in text


def _e_performance(read, text):
    prog, regimes = read("progress"), read("target_regimes")
    lights = prog[prog["period"] == prog["period"].max()]["light"].value_counts()
    for light in ("green", "amber", "red"):
        assert f"{light} {int(lights.get(light, 0))}" in text
    last = regimes[regimes["year"] == regimes["year"].max()].set_index("regime")
    assert f"units complete {last.loc['self', 'mean_completion']:.0%}" in text


CONCLUSIONS = {"scoring": _scoring, "results_use": _results_use, "scheme_overview": _scheme_overview,
               "robustness": _robustness, "levers": _levers, "e_performance": _e_performance}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean_with_parameters_cell(notebook: Path):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# ")
    # every text cell: Chinese first, its English in a <div class="l-en"> the page's switch shows
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            zh, _, en = text.partition('<div class="l-en">')
            assert en.strip().endswith("</div>") and re.search(r"[\u4e00-\u9fff]", zh), text[:80]
            assert re.search(r"[A-Za-z]{4}", en), text[:80]


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
    check = CONCLUSIONS.get(notebook.stem)
    if check is not None:        # the conclusion states the numbers of the tables it wrote
        check(lambda name: pd.read_csv(tmp_path / "res" / "tables" / f"{name}.csv", encoding="utf-8-sig"),
              _conclusion(nb))
    if notebook.stem == "comparison":
        summary = pd.read_csv(tmp_path / "res" / "tables" / "summary.csv")
        assert list(summary["category"]) == ["A", "B", "district", "overall"]
        figures = {p.stem for p in (tmp_path / "res" / "figures").glob("*.png")}
        assert {"rank_shifts", "total_change"} <= figures


@pytest.mark.slow
def test_reform_notebook_on_the_bundled_world_writes_what_its_conclusion_says(tmp_path):
    """The validity part on the bundled world (small): the conclusion's numbers are those of
    the tables it wrote, and the effects are what the per-world table says."""
    import numpy as np

    out = tmp_path / "nb.ipynb"
    pm.execute_notebook(ROOT / "notebooks" / "leader_rating_reform.ipynb", out, kernel_name="python3",
                        progress_bar=False, parameters={"out_dir": str(tmp_path / "res"), "worlds": 8,
                                                        "sweep_worlds": 4, "favour_points": [0, 20],
                                                        "compression": [0.5], "leniency_sd": [2.5],
                                                        "leader_points": [0, 10], "reference": ""})
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


@pytest.mark.slow
def test_reform_notebook_states_the_verdict_over_the_worlds_the_data_allow(tmp_path):
    """With a reference table, the conclusion states the verdict over the posterior worlds:
    its probability, interval and deciding assumption, the numbers of the tables it wrote."""
    from perfsim.cli import main

    ref = tmp_path / "ref"
    assert main(["reference", "--worlds", "80", "--jobs", "2", "--no-progress", "--out", str(ref), "--scenarios",
                 str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml")]) == 0
    out = tmp_path / "nb.ipynb"
    pm.execute_notebook(ROOT / "notebooks" / "leader_rating_reform.ipynb", out, kernel_name="python3",
                        progress_bar=False, parameters={"out_dir": str(tmp_path / "res"), "worlds": 4,
                                                        "sweep_worlds": 2, "favour_points": [0], "compression": [0.5],
                                                        "leniency_sd": [2.5], "leader_points": [0, 10],
                                                        "rater_levers": [], "reference": str(ref)})
    tables = tmp_path / "res" / "tables"
    verdict = pd.read_csv(tables / "posterior_verdict.csv").iloc[0]
    ledger = pd.read_csv(tables / "assumption_ledger.csv")
    found = json.loads((tables / "findings.json").read_text(encoding="utf-8"))
    p = found["posterior"]
    assert p["worlds"] == 80 and p["verdict"] == verdict["verdict"]
    assert p["median"] == pytest.approx(verdict["median"]) and p["p_hurts"] == pytest.approx(verdict["p_hurts"])
    headline = found["headline"]["en"]
    assert f"{verdict['q05']:+.3f} to {verdict['q95']:+.3f}" in headline
    flips = ledger[ledger["flip_at"].notna()]
    import yaml

    labels = yaml.safe_load((ROOT / "params" / "calibration.yaml").read_text(encoding="utf-8"))["labels"]
    for knob in (flips["knob"] if len(flips) else ledger["knob"].head(1)):       # the deciding assumptions
        assert knob in headline and f"{labels[knob]}（{knob}）" in found["headline"]["zh"]
    if verdict["verdict"] == "undetermined":
        assert f"P(lowers) {verdict['p_hurts']:.2f}" in headline
    else:
        assert f"with probability {max(verdict['p_helps'], verdict['p_hurts']):.2f}" in headline
    assert f"{p['accepted']} of 80 reference worlds" in headline
    nb = json.loads(out.read_text(encoding="utf-8"))
    text = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"]
                   for o in c.get("outputs", []))
    assert headline in text and found["headline"]["zh"] in text
    assert (tmp_path / "res" / "figures" / "posterior_verdict.png").stat().st_size > 10_000
