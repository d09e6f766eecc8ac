"""The 2020 Environmental Performance Index through perfsim's engine: the published tree
and weights, renormalisation over missing indicators and the landlocked materiality rule
reproduce the published scores to the 1-decimal rounding of the published inputs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import perfsim
from perfsim.core.engine import score_detail
from perfsim.core.errors import PerfsimError
from perfsim.sources.real import EPI_DIR, EPI_FILES, epi_dataset, epi_published, epi_scheme_yaml
from perfsim.core.yamlio import load_yaml

from ..conftest import ROOT

EPI_SCHEME = ROOT / "params" / "real" / "epi.yaml"
# Published indicator scores carry 1 decimal, so a weighted mean of them is within 0.05 of
# the mean of the unrounded scores, and the published result is itself rounded to 1 decimal.
TOLERANCE = 0.1 + 1e-9


@pytest.fixture(scope="module")
def epi():
    data, scheme = epi_dataset(), perfsim.load_scenario(EPI_SCHEME)
    return data, scheme, score_detail(scheme, data), epi_published()


def test_scheme_file_is_the_published_weights_table():
    import yaml

    assert load_yaml(EPI_SCHEME)["tree"] == yaml.safe_load(epi_scheme_yaml())["tree"]


def test_epi_scores_and_ranks_match_the_published_ones(epi):
    data, scheme, detail, published = epi
    table = detail.table.set_index("unit_id")
    assert len(table) == 180
    diff = (table["total"] - published["EPI"].reindex(table.index)).abs()
    assert diff.max() <= TOLERANCE
    assert (diff < 1e-9).mean() >= 0.97                     # 178 of 180 equal at 1 decimal
    rank_diff = (table["rank"] - published["EPI_rank"].reindex(table.index)).abs()
    assert rank_diff.max() <= 1 and (rank_diff == 0).mean() >= 0.97
    top = table.sort_values("rank").index[:5].tolist()
    assert top == ["DNK", "LUX", "CHE", "GBR", "FRA"]        # the published top five


@pytest.mark.parametrize("code", ["HLT", "ECO", "AIR", "H2O", "HMT", "WMG", "BDH", "ECS", "FSH",
                                  "CCH", "APE", "AGR", "WRS"])
def test_every_objective_and_issue_category_matches(epi, code):
    _, _, detail, published = epi
    path = next(c for c in detail.node_scores.columns if c.endswith("." + code))
    ours = detail.node_scores[path] * 100
    held = detail.node_held[path] > 0
    theirs = published[code].reindex(ours.index)
    assert (held == theirs.notna()).all()                   # absent exactly where not published
    assert (ours[held] - theirs[held]).abs().max() <= TOLERANCE


def test_materiality_landlocked_countries_are_not_scored_on_the_sea(epi):
    data, _, detail, _ = epi
    kind = data.units.set_index("unit_id")["kind"].reindex(detail.node_held.index)
    for code in ("MPA", "FSH"):
        path = next(c for c in detail.node_held.columns if c.endswith("." + code))
        assert (detail.node_held.loc[kind == "landlocked", path] == 0).all()
        assert (detail.node_held.loc[kind == "coastal", path] > 0).any()
    # Afghanistan (landlocked): Ecosystem Vitality re-normalises over the six other categories
    eco = {c: detail.node_scores.loc["AFG", f"tree.ECO.{c}"] for c in ("BDH", "ECS", "CCH", "APE", "AGR", "WRS")}
    w = {"BDH": 0.25, "ECS": 0.1, "CCH": 0.4, "APE": 0.05, "AGR": 0.05, "WRS": 0.05}
    assert np.isclose(detail.node_scores.loc["AFG", "tree.ECO"], sum(w[c] * eco[c] for c in w) / 0.9)


def test_cli_recognises_the_epi_folder(tmp_path, capsys):
    from perfsim.cli import main

    assert main(["score", str(EPI_SCHEME), "--data", str(EPI_DIR), "--out", str(tmp_path / "epi.csv"),
                 "--quiet"]) == 0
    assert main(["uncertainty", str(EPI_SCHEME), "--data", str(EPI_DIR), "--draws", "500", "--no-sobol",
                 "--out", str(tmp_path / "mc")]) == 0
    assert (tmp_path / "mc" / "rank_stats.csv").exists()


def test_missing_epi_file_is_named(tmp_path):
    shutil.copy(EPI_DIR / EPI_FILES["results"], tmp_path)
    with pytest.raises(PerfsimError, match="EPI 2020 files missing: epi2020_weights.csv, "
                                           "epi2020_country_attributes_20200604.csv"):
        perfsim.load_dataset(tmp_path)
