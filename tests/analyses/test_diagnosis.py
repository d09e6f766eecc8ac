"""Performance diagnosis: the per-unit tables against the engine and hand reasoning, the
levers pass the unit above, the pages and the workbook."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.analyses.diagnosis import diagnose, diagnosis_text
from perfsim.cli import main
from perfsim.core.errors import PerfsimWarning


@pytest.fixture(scope="module")
def bundled():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        world = perfsim.open_dataset(None)
        scheme = perfsim.load_scenario("params/baseline.yaml")
        return scheme, world, diagnose(scheme, world)


def test_tables_follow_the_engine(bundled):
    scheme, world, d = bundled
    table = perfsim.score(scheme, world).set_index("unit_id")
    units = d.units.set_index("unit_id")
    assert np.allclose(units["total"], table["total"].reindex(units.index))
    assert (units["rank"] == table["rank"].reindex(units.index)).all()
    leaves = d.leaves
    assert (leaves["gap_to_best"] >= -1e-9).all() and (leaves["gap_to_full"] >= -1e-9).all()
    per_unit = leaves.groupby("unit_id")["points"].sum()
    components = table[[c for c in perfsim.component_columns(scheme)]].sum(axis=1)
    assert np.allclose(per_unit, components.reindex(per_unit.index), atol=1e-6)
    assert set(d.history["year"]) == set(world.years)


def test_a_lever_that_reaches_passes_the_unit_above(bundled):
    """Each lever re-scored: on a ratio-scored, higher-is-better leaf, the unit's year-end
    actual is raised to target x (its score + share_needed) (inside the cap, so the rule gives
    exactly that score), the whole dataset is scored again by perfsim.score, and the unit
    then gains the lever's points and ranks above the unit that was above it."""
    from perfsim.core.engine import Tree

    scheme, world, d = bundled
    tree = Tree.of(scheme.scheme)
    nodes = dict(zip(tree.paths, tree.nodes))
    direction = world.indicators.set_index("indicator_id")["direction"]
    before = perfsim.score(scheme, world).set_index("unit_id")
    year = d.units["year"].iloc[0] if "year" in d.units else world.years[-1]
    leaves = d.leaves.set_index(["unit_id", "path"])
    checked = 0
    for lever in d.levers[d.levers["reaches"]].itertuples():
        node = nodes[lever.path]
        if node.rule != "ratio" or direction.get(lever.indicator) != "higher":
            continue
        leaf = leaves.loc[(lever.unit_id, lever.path)]
        share = leaf["points"] / leaf["held"] + lever.share_needed
        cap = node.cap if node.cap is not None else 1.0
        if share > cap - 1e-9:
            continue
        targets = world.targets
        target = targets[(targets["year"] == year) & (targets["unit_id"] == lever.unit_id)
                         & (targets["indicator_id"] == lever.indicator)]["target"].item()
        actuals = world.actuals.copy()
        mine = actuals[(actuals["unit_id"] == lever.unit_id) & (actuals["indicator_id"] == lever.indicator)
                       & actuals["period"].str.startswith(str(year))]
        actuals.loc[mine["period"].idxmax(), "value"] = target * share
        after = perfsim.score(scheme, world.replace(actuals=actuals)).set_index("unit_id")
        unit = before.loc[lever.unit_id]
        assert after.loc[lever.unit_id, "total"] == pytest.approx(unit["total"] + lever.needed, abs=1e-6)
        above = before[(before["category"] == unit["category"]) & (before["rank"] == unit["rank"] - 1)].index
        above = above if len(above) else before[(before["category"] == unit["category"])
                                                & (before["total"] > unit["total"])].nsmallest(1, "total").index
        assert (after.loc[lever.unit_id, "total"] > after.loc[above, "total"]).all()
        assert after.loc[lever.unit_id, "rank"] < unit["rank"]
        checked += 1
        if checked == 6:
            break
    assert checked >= 3
    first = d.levers.groupby("unit_id").head(1)
    assert (first["order"] == 1).all() and d.levers.groupby("unit_id").size().max() <= 3


def test_the_text_and_the_command(tmp_path, bundled, capsys):
    scheme, world, d = bundled
    unit = d.units.sort_values("rank").iloc[-1]["unit_id"]
    text = diagnosis_text(d, unit)
    u = d.units.set_index("unit_id").loc[unit]
    assert f"{u['total']:.2f}" in text and f"of {int(u['of'])}" in text
    out = tmp_path / "d"
    assert main(["diagnose", "params/baseline.yaml", "--unit", unit, "--out", str(out)]) == 0
    page = (out / "units" / f"{unit}.html").read_text(encoding="utf-8")
    assert "绩效诊断" in page and 'href="../index.html"' in page
    book = pd.read_excel(out / "diagnosis.xlsx", sheet_name=None)
    assert len(book["单位 units"]) == 108
    assert main(["diagnose", "params/baseline.yaml", "--unit", "NOPE", "--out", str(tmp_path / "x")]) == 2
