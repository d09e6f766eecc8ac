"""Scenarios as declarative diffs: applied to a copy, validated whole, base untouched."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

import perfsim
from perfsim.core.scheme import apply_diff, load_scenario as load

from ..conftest import BASELINE, ROOT

SCENARIOS = ROOT / "params" / "scenarios"


def _dump(resolved):
    return json.dumps(resolved.scheme.model_dump(), sort_keys=True, ensure_ascii=False)


def test_base_is_never_mutated(baseline):
    raw_before = copy.deepcopy(dict(baseline.raw))
    model_before = _dump(baseline)
    changed = apply_diff(baseline.raw, {"tree.leader.points": 5, "tree.satisfaction.points": 25,
                                        "tree.targets.economic.E01.cap": 1.5},
                         ["tree.special"], "<test>")
    assert changed["tree"]["children"]["leader"]["points"] == 5
    assert "special" not in changed["tree"]["children"]
    assert dict(baseline.raw) == raw_before and _dump(baseline) == model_before
    # loading a scenario (which loads its own copy of the base) leaves a loaded base alone
    scenario = load(SCENARIOS / "leader5_to_satisfaction.yaml")
    assert scenario.scheme.components["leader"].points == 5
    assert baseline.scheme.components["leader"].points == 10
    assert dict(baseline.raw) == raw_before


def test_schemes_are_immutable(baseline):
    with pytest.raises(ValidationError):
        baseline.scheme.components["leader"].points = 1


def test_scenario_keeps_its_diff_and_hash(baseline):
    scenario = load(SCENARIOS / "leader5_to_satisfaction.yaml")
    assert scenario.diff == {"name": "leader5_to_satisfaction", "base": "../baseline.yaml",
                             "set": {}, "remove": [],
                             "reallocate": [{"component": "leader", "points": 5.0, "to": "satisfaction"}]}
    assert scenario.content_hash() != baseline.content_hash()
    assert load(SCENARIOS / "leader5_to_satisfaction.yaml").content_hash() == scenario.content_hash()


def test_scenario_changes_scores_as_declared(world, baseline):
    base = perfsim.score(baseline, world).set_index("unit_id")
    s95 = perfsim.score(load(SCENARIOS / "leader5_total95.yaml"), world).set_index("unit_id")
    s5 = perfsim.score(load(SCENARIOS / "leader5_to_satisfaction.yaml"), world).set_index("unit_id")
    assert (s95["leader"] - base["leader"] / 2).abs().max() < 1e-9
    assert (s5["satisfaction"] - base["satisfaction"] * 25 / 20).abs().max() < 1e-9
    assert (s95["targets"] - base["targets"]).abs().max() < 1e-9


def test_chained_scenario_add_and_remove(tmp_path, world):
    first = tmp_path / "first.yaml"
    first.write_text(f"name: first\nbase: {BASELINE}\nremove: [tree.special]\n", encoding="utf-8")
    second = tmp_path / "second.yaml"
    second.write_text(
        "name: second\nbase: first.yaml\nset:\n"
        "  tree.targets.economic.weight: 60\n"
        "  tree.targets.economic.E11: {rule: ratio, indicator: E01, weight: 1}\n",
        encoding="utf-8")
    resolved = load(second)
    assert [d["name"] for d in resolved.diffs] == ["second", "first"]
    econ = resolved.scheme.components["targets"].children["economic"]
    assert econ.weight == 60 and econ.children["E11"].indicator == "E01"
    assert "special" not in resolved.scheme.components
    table = perfsim.score(resolved, world)
    assert "special" not in table.columns


def test_every_shipped_scheme_and_scenario_validates(world):
    files = [ROOT / "params" / "baseline.yaml", *sorted(SCENARIOS.glob("*.yaml"))]
    assert len(files) >= 3
    for path in files:
        perfsim.check_fit(load(path), world)


@pytest.mark.parametrize("to, expected", [
    ("proportional", {"targets": 70 + 5 * 70 / 90, "leader": 5, "satisfaction": 20 + 5 * 20 / 90}),
    ("targets", {"targets": 75, "leader": 5, "satisfaction": 20}),
    ("none", {"targets": 70, "leader": 5, "satisfaction": 20}),
])
def test_reallocate(baseline, to, expected):
    from perfsim.core.scheme import parse_scheme, reallocate

    raw_before = copy.deepcopy(dict(baseline.raw))
    scheme = parse_scheme(reallocate(baseline.raw, "leader", 5, to), "<t>")
    got = {k: scheme.components[k].points for k in expected}
    assert got == pytest.approx(expected)
    assert scheme.tree.points == (95 if to == "none" else 100)
    assert scheme.components["special"].points == 5          # extras are not touched
    assert dict(baseline.raw) == raw_before


def test_leader_scenarios_model_what_their_names_say(baseline):
    pts = {p.stem: {k: c.points for k, c in load(p).scheme.components.items()} | {"total": load(p).scheme.tree.points}
           for p in SCENARIOS.glob("leader*.yaml")}
    assert pts["leader5_proportional"]["leader"] == 5 and pts["leader5_proportional"]["total"] == 100
    assert pts["leader5_to_satisfaction"]["satisfaction"] == 25
    assert pts["leader5_to_targets"]["targets"] == 75
    assert pts["leader5_total95"]["total"] == 95
    assert pts["leader0"]["leader"] == 0 and pts["leader0"]["total"] == 100


def test_scheme_text_errors_name_where_the_text_came_from():
    from perfsim.core.errors import PerfsimError
    from perfsim.core.scheme import load_scheme_text

    with pytest.raises(PerfsimError) as info:
        load_scheme_text("- name\n- tree\n", "pasted.yaml")
    assert str(info.value) == "pasted.yaml: expected a YAML mapping at the top level"
    with pytest.raises(PerfsimError) as info:
        load_scheme_text("name: x\n", "pasted.yaml")
    assert str(info.value) == "pasted.yaml: key 'tree': required key is missing"
    with pytest.raises(PerfsimError) as info:
        load_scheme_text("name: [x\n", "pasted.yaml")
    assert str(info.value).startswith("pasted.yaml")
