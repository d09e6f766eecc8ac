"""The synthetic world: deterministic, complete, in the contract, calibrated, labelled."""

from __future__ import annotations

import filecmp

import numpy as np
import pytest
import yaml
from scipy import stats

import perfsim
from perfsim.sources import synth
from perfsim.cli import main

from ..conftest import ROOT


def test_same_seed_identical_files_different_seed_differs(tmp_path, capsys):
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        assert main(["synth", "--out", str(tmp_path / name), "--seed", str(seed)]) == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "truth.csv" in files and "SYNTHETIC_README.txt" in files
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == []
    assert not filecmp.cmp(tmp_path / "a" / "actuals.csv", tmp_path / "c" / "actuals.csv", shallow=False)
    assert "SYNTHETIC" in (tmp_path / "a" / "SYNTHETIC_README.txt").read_text(encoding="utf-8")
    perfsim.load_dataset(tmp_path / "a")   # in the contract


def test_structure(world):
    units = world.units
    assert len(units) == 108
    districts = units[units["kind"] == "district"]
    assert len(districts) == 13
    assert districts["district_type"].value_counts().to_dict() == {"central": 7, "outer": 6}
    departments = units[units["kind"] == "department"]
    assert len(departments) == 95 and 3 <= departments["category"].nunique() <= 8
    assert 35 <= len(world.indicators) <= 45
    assert set(world.indicators["dimension"]) == {"economic", "political", "cultural", "social",
                                                  "ecological", "party_building"}
    # central districts carry no industrial-investment target
    central = set(districts.loc[districts["district_type"] == "central", "unit_id"])
    industrial = world.targets[world.targets["indicator_id"] == "E03"]
    assert not central & set(industrial["unit_id"]) and len(industrial) > 0
    # three years of year-to-date actuals, twelve months each, as each indicator is reported
    assert world.actuals["period"].nunique() == 36 and world.years == [2023, 2024, 2025]
    freq = world.indicators.set_index("indicator_id")["frequency"]
    months = world.actuals.assign(month=world.actuals["period"].str[5:].astype(int))
    for f, allowed in (("annual", {12}), ("quarterly", {3, 6, 9, 12}), ("monthly", set(range(1, 13)))):
        assert set(months.loc[months["indicator_id"].map(freq) == f, "month"]) == allowed, f
    assert set(world.targets["method"]) == {"self", "cascade", "benchmark"}
    assert 10 <= world.leader_ratings["rater_id"].nunique() <= 15
    assert 6 <= world.satisfaction["group"].nunique() <= 9
    ded = world.adjustments[world.adjustments["type"] == "deduction"]
    assert set(ded["item"]) <= {f"D{i}" for i in range(1, 9)}
    assert set(world.special["unit_id"]) == set(districts["unit_id"])
    assert world.peers["city"].nunique() == 20        # 19 peers + the focal city
    assert len(world.truth) == 108
    assert units[["staff", "budget", "consumption"]].notna().all().all()


def test_generic_names_only(world):
    import re

    pattern = re.compile(r"^(Central District|Outer District) \d+$|Dept \d{2}$")
    assert world.units["name_en"].map(lambda s: bool(pattern.search(s))).all()
    assert all(re.fullmatch(r"City [A-S]|Focal City \(synthetic\)", c) for c in world.peers["city"].unique())


def test_ytd_actuals_accumulate_with_season(world):
    a = world.actuals
    a = a[a["period"].str.startswith("2025-")]
    e02 = a[(a["indicator_id"] == "E02")].pivot(index="unit_id", columns="period", values="value")
    share = (e02["2025-06"] / e02["2025-12"]).median()
    assert 0.25 < share < 0.45            # back-loaded: under half by mid-year


def test_sandbagged_self_targets_are_overachieved_more(world):
    t = world.targets[world.targets["year"] == 2025].merge(
        world.actuals[world.actuals["period"] == "2025-12"], on=["unit_id", "indicator_id"])
    amounts = t[~t["indicator_id"].isin(world.indicators.loc[world.indicators["unit_of_measure"] == "%",
                                                             "indicator_id"])]
    amounts = amounts[amounts["indicator_id"].isin(
        world.indicators.loc[world.indicators["direction"] == "higher", "indicator_id"])]
    ratio = (amounts["value"] / amounts["target"]).groupby(amounts["method"]).median()
    assert ratio["self"] > ratio["cascade"] > ratio["benchmark"]


def test_truth_drives_ratings_and_satisfaction(world):
    truth = world.truth.set_index("unit_id")
    theta = truth["theta"]
    last = world.leader_ratings[world.leader_ratings["year"] == 2025]
    rating = last.groupby("unit_id")["rating"].mean().reindex(theta.index)
    sat = world.satisfaction[world.satisfaction["year"] == 2025].groupby("unit_id")["score"].mean()
    assert stats.spearmanr(theta, rating).statistic > 0.3
    assert stats.spearmanr(theta, sat.reindex(theta.index)).statistic > 0.5
    # leaders see visible work (显绩) more than latent work (潜绩, seed 四.(三).1)
    assert stats.spearmanr(truth["visible"], rating).statistic > stats.spearmanr(truth["latent"], rating).statistic + 0.2


def test_true_performance_persists_over_the_years():
    params = synth.synth_params()
    w = synth.generate_arrays(4, params)
    rho = params["truth"]["persistence"]
    r = np.corrcoef(w.years[0].theta, w.years[-1].theta)[0, 1]
    assert abs(r - rho ** 2) < 0.2 and r > 0.3
    assert [y.year for y in w.years] == [2023, 2024, 2025]


def test_rater_truth_describes_the_raters(world_tables):
    rt = world_tables["rater_truth"]
    assert len(rt) == 12 and rt["compression"].between(0, 0.95).all() and rt["compression"].std() > 0
    favoured = {u for units in rt["favoured_units"] for u in units.split()}
    assert favoured <= set(world_tables["units"]["unit_id"])


def test_every_knob_has_a_basis():
    raw = yaml.safe_load((ROOT / "params" / "synth.yaml").read_text(encoding="utf-8"))

    def knobs(node, path=""):
        if isinstance(node, dict) and "value" in node:
            yield path, node
        elif isinstance(node, dict):
            for k, v in node.items():
                yield from knobs(v, f"{path}.{k}".strip("."))

    found = list(knobs(raw))
    assert len(found) > 40
    for path, knob in found:
        assert knob.get("basis") in ("grounded", "assumption", "calibrated"), path
        if knob["basis"] in ("grounded", "calibrated"):
            assert knob.get("source"), f"{path} is grounded but names no source"
    synth.synth_params()   # the loader agrees


def test_knob_file_errors(tmp_path):
    bad = tmp_path / "synth.yaml"
    bad.write_text("year: {value: 2025, basis: guess}\n", encoding="utf-8")
    with pytest.raises(perfsim.PerfsimError, match="key .year.basis.: must be grounded, assumption or calibrated"):
        synth.synth_params(bad)


def test_xlsx_world_equals_csv_world(tmp_path, baseline):
    assert main(["synth", "--out", str(tmp_path / "w.xlsx"), "--seed", "3", "--format", "xlsx"]) == 0
    assert main(["synth", "--out", str(tmp_path / "w"), "--seed", "3"]) == 0
    a = perfsim.score(baseline, perfsim.load_dataset(tmp_path / "w.xlsx"))
    b = perfsim.score(baseline, perfsim.load_dataset(tmp_path / "w"))
    assert np.allclose(a["total"], b["total"]) and a["unit_id"].tolist() == b["unit_id"].tolist()


def test_bundled_world_is_regenerated_when_stale(tmp_path):
    from perfsim.sources.world import STAMP, ensure_synthetic

    folder = ensure_synthetic(tmp_path / "w", seed=5)
    before = (folder / "actuals.csv").read_bytes()
    assert ensure_synthetic(folder, seed=5) == folder          # current: reused
    (folder / STAMP).write_text("stale\n")
    (folder / "actuals.csv").write_text("broken")
    ensure_synthetic(folder, seed=5)
    assert (folder / "actuals.csv").read_bytes() == before
    assert not list(tmp_path.glob(".synth-*"))                # no temporary folder left
