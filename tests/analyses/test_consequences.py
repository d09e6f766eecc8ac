"""The accountability ladder (结果运用) on a hand-computed case, across schemes, and one bad
rules file per message."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import perfsim
from perfsim.analyses.consequences import compare_consequences, consequences, load_rules
from perfsim.cli import main
from perfsim.core.errors import PerfsimError

from ..conftest import TESTS

RULES = """name: t
steps: [A, B, C]
rules:
  - {label: lowest grade, grades: [不达标], step: A, basis: assumption}
  - {label: big D1, deduction_items: [D1], min_points: 2, step: B, basis: assumption}
  - {label: veto, veto: true, step: C, basis: grounded}
  - {label: last, rank_from_bottom: 1, step: A, basis: assumption}
"""
BAD = sorted((TESTS / "bad" / "consequences").glob("*.yaml"))


def test_the_ladder_by_hand(tmp_path, mini, mini_scheme):
    (tmp_path / "r.yaml").write_text(RULES, encoding="utf-8")
    rules = load_rules(tmp_path / "r.yaml")
    got = consequences(mini_scheme, mini, rules, awards={"优秀": 1.0, "达标": 0.5}, quota=10).set_index("unit_id")
    # U3 has 2.5 points of D1 (1.5 + 1.0); U4 and U5 are graded 不达标; U5 is vetoed;
    # the last of each category: U4 (A), U5 (B, alone), U2 (district)
    assert got["step"].to_dict() == {"U1": "", "U2": "A", "U3": "B", "U4": "A", "U5": "C"}
    assert got["step_level"].to_dict() == {"U1": 0, "U2": 1, "U3": 2, "U4": 1, "U5": 3}
    assert got.loc["U5", "triggers"] == "lowest grade; veto; last"
    assert got["awards"].sum() == 10 and got.loc["U4", "awards"] == 0


def test_compare_counts_and_changes(tmp_path, mini, mini_scheme):
    (tmp_path / "r.yaml").write_text(RULES, encoding="utf-8")
    rules = load_rules(tmp_path / "r.yaml")
    other = perfsim.load_scenario(TESTS / "data" / "mini_scenario.yaml")
    tables = {"mini": consequences(mini_scheme, mini, rules), "other": consequences(other, mini, rules)}
    counts, changes = compare_consequences(tables, rules.steps)
    assert list(counts.columns) == ["scheme", "A", "B", "C", "any step"]
    assert counts.set_index("scheme").loc["mini"].tolist() == [2, 1, 1, 4]
    # leader 20 -> 10 moves totals (U4 71.5 -> 73.25, ...) but no unit across a step: by hand,
    # U3 keeps its 2.5 D1 points, U4 stays last of A and 不达标, U5 vetoed, U2 last of the districts
    assert changes.empty and counts.set_index("scheme").loc["other"].tolist() == [2, 1, 1, 4]
    # a unit that rises off the ladder and one that falls onto it, with their steps and triggers
    moved = tables["mini"].copy()
    moved.loc[moved["unit_id"] == "U2", ["step", "step_level", "triggers"]] = ["", 0, ""]
    moved.loc[moved["unit_id"] == "U1", ["step", "step_level", "triggers"]] = ["B", 2, "big D1"]
    counts, changes = compare_consequences({"mini": tables["mini"], "moved": moved}, rules.steps)
    assert counts.set_index("scheme").loc["moved"].tolist() == [1, 2, 1, 4]
    assert changes[["unit_id", "step_mini", "step", "triggers"]].values.tolist() == [
        ["U1", "", "B", "big D1"], ["U2", "A", "", ""]]
    assert set(changes["scheme"]) == {"moved"} and changes.set_index("unit_id").loc["U1", "name"] == "中心城区甲"


def test_consequences_command_on_the_bundled_world(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["consequences", "params/baseline.yaml", "params/scenarios/leader5_proportional.yaml",
                 "--out", str(out)]) == 0
    steps = pd.read_csv(out / "steps.csv")
    table = pd.read_csv(out / "consequences.csv")
    assert list(steps["scheme"]) == ["baseline", "leader5_proportional"]
    assert int(steps.loc[0, "any step"]) == int((table.query("scheme == 'baseline'")["step_level"] > 0).sum())
    assert "units reaching each step" in capsys.readouterr().out


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_rules(path: Path, mini, mini_scheme):
    expect = path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(PerfsimError) as info:
        consequences(mini_scheme, mini, load_rules(path), where=str(path))
    assert expect in str(info.value)
