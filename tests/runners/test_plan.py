"""A batch's plan without running it: keys per ingredient, cache hits read from job.json,
skipped and failed jobs, and the order the rest run in."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

from perfsim import __version__
from perfsim.runners.kernels import Job
from perfsim.runners.plan import (Scenario, job_key, longest_first, needs_base, plan_jobs, resolve_scenarios,
                                  safe_name, split_cached)

from ..conftest import MINI_SCHEME, ROOT, TESTS

SCENARIO = TESTS / "data" / "mini_scenario.yaml"
BASE = dict(scenario_hash="s", notebook_hash="n", data_hash="d", code_hash="c", year=2025, seed=1, data="x")


def test_job_key_is_sha256_of_every_ingredient_in_order():
    expected = hashlib.sha256(f"s|n|d|{__version__}|c|2025|1|x".encode()).hexdigest()
    assert job_key(**BASE) == expected
    assert job_key(**dict(BASE, year=None, data=None)) == \
        hashlib.sha256(f"s|n|d|{__version__}|c|None|1|".encode()).hexdigest()


def test_job_key_changes_with_each_ingredient_alone():
    changed = {name: job_key(**dict(BASE, **{name: value})) for name, value in
               [("scenario_hash", "s2"), ("notebook_hash", "n2"), ("data_hash", "d2"), ("code_hash", "c2"),
                ("year", 2024), ("seed", 2), ("data", "y")]}
    keys = [job_key(**BASE), *changed.values()]
    assert len(set(keys)) == len(keys), changed


def _job(folder: Path, key: str = "k", notebook: str = "nb.ipynb") -> Job:
    return Job(scenario="s.yaml", scenario_name="s", notebook=notebook, key=key, folder=str(folder))


def _record(folder: Path, **fields) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(fields), encoding="utf-8")


@pytest.mark.parametrize("record, cached", [
    ({"key": "k", "status": "done", "seconds": 3.0}, True),
    ({"key": "other", "status": "done"}, False),            # another key: the job changed
    ({"key": "k", "status": "failed"}, False),              # a failure is never served
    (None, False),                                          # no record
    ("{not json", False),                                   # a damaged record
])
def test_split_cached_serves_only_a_done_job_with_the_same_key(tmp_path, record, cached):
    folder = tmp_path / "s" / "nb"
    if isinstance(record, dict):
        _record(folder, **record)
    elif isinstance(record, str):
        folder.mkdir(parents=True)
        (folder / "job.json").write_text(record, encoding="utf-8")
    to_run, served = split_cached([_job(folder)])
    assert (len(served), len(to_run)) == ((1, 0) if cached else (0, 1))
    if cached:
        assert served[0]["cached"] is True and served[0]["seconds"] == 0.0 and served[0]["key"] == "k"
    assert split_cached([_job(folder)], force=True) == ([_job(folder)], [])


def test_plan_skips_comparisons_of_a_plain_scheme_and_fails_an_invalid_scenario(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nbase: nowhere.yaml\n", encoding="utf-8")
    scenarios = resolve_scenarios([MINI_SCHEME, SCENARIO, broken])
    assert [sc.error is None for sc in scenarios] == [True, True, False]
    notebooks = {ROOT / "notebooks" / "scoring.ipynb": "h1", ROOT / "notebooks" / "comparison.ipynb": "h2"}
    assert [needs_base(nb) for nb in notebooks] == [False, True]
    assert needs_base(tmp_path / "missing.ipynb") is False and needs_base(broken) is False   # unreadable: no
    jobs, records = plan_jobs(scenarios, notebooks, tmp_path, None, "d", "c", None, 5, 60.0)
    assert [(j.scenario_name, Path(j.notebook).stem) for j in jobs] == \
        [("mini", "scoring"), ("mini_leader10", "scoring"), ("mini_leader10", "comparison")]
    assert {(r["scenario"], r["notebook"]): r["status"] for r in records} == {
        ("mini", "comparison"): "skipped", ("broken", "scoring"): "failed", ("broken", "comparison"): "failed"}
    by = {(r["scenario"], r["notebook"]): r for r in records}
    assert by[("broken", "scoring")] == {"scenario": "broken", "notebook": "scoring", "key": None, "status": "failed",
                                         "cached": False, "error": scenarios[2].error, "seconds": 0.0}
    assert by[("mini", "comparison")] == {
        "scenario": "mini", "notebook": "comparison", "key": None, "status": "skipped", "cached": False,
        "error": None, "seconds": 0.0, "reason": "compares a scenario with its base; 'mini' is a plain scheme"}
    job = jobs[1]
    assert job.key == job_key(scenarios[1].hash, "h1", "d", "c", None, 5, None)
    assert job.folder == str(tmp_path / "mini_leader10" / "scoring")
    assert job.parameters == {"scenario": job.scenario, "data": "", "year": 0, "seed": 5, "out_dir": "."}
    assert job.timeout == 60.0


def test_resolved_scenarios_get_unique_safe_names(tmp_path):
    assert safe_name("a b/c:d") == "a_b_c_d"
    copy = tmp_path / "mini.yaml"
    copy.write_text(MINI_SCHEME.read_text(encoding="utf-8"), encoding="utf-8")
    names = [sc.name for sc in resolve_scenarios([MINI_SCHEME, copy])]
    assert names[0] == "mini" and names[1].startswith("mini_") and len(set(names)) == 2
    missing = resolve_scenarios([tmp_path / "none.yaml"])[0]
    assert isinstance(missing, Scenario) and missing.resolved is None and missing.error


def test_longest_first_uses_last_runs_then_the_notebooks_mean_then_its_cells(tmp_path):
    nb_small, nb_big = tmp_path / "small.ipynb", tmp_path / "big.ipynb"
    for path, n in ((nb_small, 1), (nb_big, 9)):
        path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": []}] * n
                                    + [{"cell_type": "markdown", "source": []}] * 20}), encoding="utf-8")
    ran = _job(tmp_path / "a", notebook=str(nb_small))
    _record(tmp_path / "a", seconds=10.0)                     # last run: 10 s
    sibling = _job(tmp_path / "b", notebook=str(nb_small))    # no run: its notebook's mean, 5.5 s
    other = _job(tmp_path / "c", notebook=str(nb_small))
    _record(tmp_path / "c", seconds=1.0)                      # last run: 1 s
    big = _job(tmp_path / "d", notebook=str(nb_big))          # never run: 9 code cells x 0.25 s
    order = longest_first([other, big, sibling, ran])
    assert [Path(j.folder).name for j in order] == ["a", "b", "d", "c"]
    for perm in itertools.permutations([other, big, sibling, ran]):
        assert [Path(j.folder).name for j in longest_first(list(perm))][:2] in (["a", "b"], ["b", "a"])


def test_scenario_facts_for_the_manifest(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nbase: nowhere.yaml\n", encoding="utf-8")
    valid, invalid = resolve_scenarios([SCENARIO, broken])
    facts = valid.facts()
    assert facts["name"] == "mini_leader10" and facts["status"] == "valid" and facts["error"] is None
    assert facts["hash"] == valid.resolved.content_hash() and len(facts["hash"]) == 64
    assert facts["diff"] == valid.resolved.diff
    assert facts["diff"]["set"] == {"tree.leader.points": 10, "tree.satisfaction.points": 30}
    assert facts["file"].endswith("mini_scenario.yaml") and facts["base"].endswith("mini_scheme.yaml")
    bad = invalid.facts()
    assert bad["status"] == "invalid" and "base" in bad["error"] and bad["hash"] is None and bad["diff"] is None
    assert bad["base"] is None and bad["name"] == "broken"
    plain = resolve_scenarios([MINI_SCHEME])[0].facts()
    assert plain["status"] == "valid" and plain["base"] is None
