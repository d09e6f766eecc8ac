"""The scenario explorer without a browser: settings are scenario diffs, the session's
tables match perfsim score, refusals carry the CLI's message, saved scenarios validate,
rank-optimal reach is checked against the engine (the browser tests are in
test_explorer_browser.py)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import perfsim
from perfsim.analyses import explore as ex
from perfsim.cli import main as cli_main
from perfsim.core.errors import PerfsimError

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "params" / "scenarios"
CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\uff1a\uff1b\u3001\u3002\u300c\u300d]")


@pytest.fixture(scope="module")
def data():
    return perfsim.bundled_dataset()


@pytest.fixture(scope="module")
def base_table(baseline, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return perfsim.score(baseline, data)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["unit_id", "total", "rank", "grade"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))


@pytest.mark.parametrize("name", ["leader5_proportional.yaml", "leader5_to_satisfaction.yaml", "leader5_total95.yaml",
                                  "leader0.yaml", "raters/leader_rank.yaml", "raters/leader_tiers.yaml",
                                  "raters/leader_standardise.yaml"])
def test_a_scenario_file_and_its_setting_score_the_same(name, baseline, data):
    scenario = perfsim.load_scenario(SCENARIOS / name)
    setting = ex.setting_of(scenario)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(perfsim.score(ex.resolve(baseline, setting), data), perfsim.score(scenario, data))


def test_the_leader_control_is_the_reallocation_of_the_scenario_file(baseline, data):
    setting = ex.Setting().with_points("leader", 8, "proportional").with_points("leader", 5, "proportional")
    assert setting.reallocate == (("leader", 5.0, "proportional"),)      # a repeated move replaces the last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(perfsim.score(ex.resolve(baseline, setting), data),
              perfsim.score(perfsim.load_scenario(SCENARIOS / "leader5_proportional.yaml"), data))
    back = setting.with_set("grading.quota", {"优秀": 0.3, "良好": 0.2}).with_set("grading.quota", None)
    assert back == setting and setting.key() != ex.Setting().key()


def test_winners_losers_and_transitions_by_hand():
    shifts = pd.DataFrame({
        "unit_id": ["a", "b", "c", "d", "e"], "total_base": [90, 80, 70, 60, 50.0],
        "total_scenario": [91, 79, 72, 60, 49.0], "rank_base": [1, 2, 1, 2, 3], "rank_scenario": [1, 2, 1, 3, 2],
        "shift": [0, 0, 0, 1, -1], "grade_base": ["A", "B", "A", "B", "C"], "grade_scenario": ["A", "A", "A", "C", "B"]})
    groups = pd.Series(["outer district", "outer district", "social", "social", "social"], index=list("abcde"))
    table = ex.winners_losers(shifts, groups, ["A", "B", "C"]).set_index("group")
    assert list(table.index) == ["outer district", "social"]                 # districts first
    assert table.loc["outer district", "mean_total_change"] == pytest.approx(0.0)
    assert table.loc["social", "mean_total_change"] == pytest.approx((2 + 0 - 1) / 3)
    assert table.loc["social", ["rank_up", "rank_down", "grade_up", "grade_down"]].tolist() == [1, 1, 1, 1]
    assert table.loc["outer district", ["units", "grade_up", "grade_down"]].tolist() == [2, 1, 0]
    matrix = ex.grade_transitions(shifts, ["A", "B", "C"])
    assert matrix.to_numpy().tolist() == [[2, 0, 0], [1, 0, 1], [0, 1, 0]]
    assert matrix.to_numpy().sum() == len(shifts)


def test_unit_split_adds_up_to_the_shift(baseline, data, base_table):
    scheme = ex.resolve(baseline, ex.Setting().with_points("leader", 5, "satisfaction"))
    view = ex.view(base_table, scheme, data)
    assert view.facts["moved"] > 0 and len(view.movers) > 0
    unit = str(view.movers["unit_id"].iloc[0])
    split = ex.unit_split(base_table, view, unit)
    shift = int(view.table.set_index("unit_id").loc[unit, "shift"])
    assert split["shapley"].sum() == pytest.approx(shift)
    row = view.table.set_index("unit_id").loc[unit]
    assert split["total_change"].sum() == pytest.approx(row["total_change"], abs=0.0101)   # totals are published to 0.01


def test_rank_reach_is_a_bound_the_engine_confirms(baseline, data):
    unit, band = "ECO01", 0.3
    reach = ex.rank_reach(baseline, data, unit, band).set_index("end")
    assert (reach["rank"] == reach["rank_engine"]).all()
    best, worst = int(reach.loc["best", "rank"]), int(reach.loc["worst", "rank"])
    assert best <= int(reach.loc["best", "rank_now"]) <= worst
    # no random setting within the band does better than best or worse than worst
    comps = ["targets", "leader", "satisfaction"]
    p0 = np.array([70.0, 10.0, 20.0])
    rng = np.random.default_rng(5)
    seen = set()
    for _ in range(40):
        p = p0 * (1 + rng.uniform(-band, band, 3))
        p[0] = p0.sum() - p[1:].sum()                        # the total kept
        if not (p0[0] * (1 - band) <= p[0] <= p0[0] * (1 + band)):
            continue
        setting = ex.Setting(set=tuple((f"tree.{c}.points", float(v)) for c, v in zip(comps, p)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rank = int(perfsim.score(ex.resolve(baseline, setting), data).set_index("unit_id").loc[unit, "rank"])
        seen.add(rank)
        assert best <= rank <= worst
    assert len(seen) > 1                                      # the band does move the unit
    with pytest.raises(PerfsimError, match="band"):
        ex.rank_reach(baseline, data, unit, 1.5)


def test_verdict_summary_by_hand():
    draws = np.array([[0.1, 5.0], [0.2, 5.0], [0.3, 5.0], [0.4, 5.0]])
    effects = [(0, -0.02), (1, -0.01), (2, 0.01), (3, 0.02)]
    r = ex.verdict_summary(draws, ["a", "b"], effects, 4)
    assert r["p_helps"] == 0.5 and r["p_hurts"] == 0.5 and r["verdict"] == "undetermined"
    assert r["decided_by"][0]["knob"] == "a" and r["decided_by"][0]["share"] > 0.5
    assert r["decided_by"][1]["share"] == 0.0                 # a knob that never moves decides nothing
    r = ex.verdict_summary(draws, ["a", "b"], [(i, -0.01 - i / 100) for i in range(4)], 4)
    assert r["verdict"] == "hurts" and r["p_hurts"] == 1.0
    with pytest.raises(PerfsimError, match="no posterior world"):
        ex.verdict_summary(draws, ["a", "b"], [], 4)


# --------------------------------------------------------------------------- the session (no browser)

@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    pytest.importorskip("panel")
    from perfsim.runners.explorer import context

    return context(out=tmp_path_factory.mktemp("explore"), reference=None, background=False)


@pytest.fixture()
def session(ctx):
    import panel as pn

    from perfsim.runners.explorer import Session

    pn.extension("tabulator")
    return Session(ctx)


def _shown(session) -> pd.DataFrame:
    t = session.table.value
    return pd.DataFrame({"unit_id": t["unit_id"], "rank": t["rank"], "grade": t["grade"]})


def test_the_session_table_is_perfsim_score_and_undo_goes_back(session, data):
    session.points["leader"].value = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = perfsim.score(perfsim.load_scenario(SCENARIOS / "leader5_proportional.yaml"), data)
    shown = _shown(session).set_index("unit_id").sort_index()
    exp = expected.set_index("unit_id").sort_index()
    assert (shown["rank"] == exp["rank"]).all() and (shown["grade"] == exp["grade"]).all()
    assert session.points["targets"].value == pytest.approx(70 + 5 * 70 / 90)     # the freed points, in proportion
    moved = int((exp["rank"] != session.ctx.base_table.set_index("unit_id").sort_index()["rank"]).sum())
    assert f"{moved} 个单位名次变化" in session.status.object
    session.convert.value = "rank"
    assert session.setting.changes["tree.leader.convert"] == "rank"
    session.undo()
    assert session.setting.reallocate == (("leader", 5.0, "proportional"),) and not session.setting.set
    assert session.convert.value == "mean"
    session.reset()
    assert session.setting.is_base() and session.points["leader"].value == 10


def test_a_bad_setting_is_refused_with_the_message_the_cli_gives(session, tmp_path, capsys):
    before = session.setting
    session.quotas["优秀"].value = 1.5
    assert session.message.visible and session.setting == before
    assert session.quotas["优秀"].value == pytest.approx(0.2)          # the control goes back
    shown = session.message.object
    bad = tmp_path / "bad_quota.yaml"
    bad.write_text(f"name: bad_quota\nbase: {ROOT / 'params' / 'baseline.yaml'}\n"
                   "set:\n  grading.quota: {优秀: 1.5, 良好: 0.2}\n", encoding="utf-8")
    assert cli_main(["validate", str(bad)]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("perfsim: error: ").removeprefix(f"{bad}: ")
    assert cli in shown
    session.points["leader"].value = 5
    session.rule.value = "keep"                            # points that no longer add up
    session.points["leader"].value = 4
    assert "add up to" in session.message.object and session.points["leader"].value == 5
    session.adjust.value = "standardise"
    session.convert.value = "rank"
    assert "adjust has no effect" in session.message.object and session.convert.value == "mean"


def test_saved_scenario_validates_and_scores_the_same(session, ctx, data, capsys):
    session.points["leader"].value = 6
    session.convert.value = "rank"
    session.save_name.value = "six_with_experts"
    path = session.save()
    assert path is not None and path.parent == ctx.out / "scenarios"
    assert cli_main(["validate", str(path), "--data", str(ROOT / "data" / "synthetic")]) == 0
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(perfsim.score(perfsim.load_scenario(path), data), session.view.scored)
    assert ctx.open_scenario("six_with_experts") == session.setting
    assert session.save() is None and "exists already" in session.message.object


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", "a/b", "", "x" * 65])
def test_names_outside_the_folders_are_refused(ctx, name):
    with pytest.raises(PerfsimError, match="letters, digits"):
        ctx.scenario_path(name)
    with pytest.raises(PerfsimError):
        ctx.save(ex.Setting(), name)


def test_a_scenario_opens_on_the_controls(ctx):
    from perfsim.runners.explorer import Session

    s = Session(ctx, scenario="leader_tiers")
    assert s.setting.changes["tree.leader.convert"] == "tiers" and s.convert.value == "tiers"
    s = Session(ctx, scenario="baseline")
    assert s.setting.is_base() and "已打开情景「baseline」" in s.message.object
    s = Session(ctx, scenario="no_such_scenario")
    assert s.message.visible and "no scenario 'no_such_scenario'" in s.message.object and s.setting.is_base()


def test_the_language_switch_changes_every_label(session):
    session.points["leader"].value = 5
    session.lang_switch.value = "en"
    texts = [w.name for w in (*session.points.values(), session.rule, session.node, session.weight, session.convert,
                              session.adjust, session.experts, *session.quotas.values(), session.undo_button,
                              session.reset_button, session.save_name, session.save_button, session.band,
                              session.reach_button, session.unit_select)]
    texts += [h.object for h in session.h.values()] + [session.title.object, session.status.object,
                                                        session.transitions.object, session.unit_move.object]
    texts += list(session.rule.options) + list(session.convert.options) + list(session.node.options)
    texts += list(session.table.titles.values()) + list(session.groups_table.titles.values())
    texts += [str(v) for v in session.table.value[["name", "category", "grade"]].to_numpy().ravel()]
    texts += list(session.groups_table.value["group"]) + list(session.slope_src.data["name"])
    assert not [x for x in texts if CJK.search(str(x))]
    session.lang_switch.value = "zh"
    assert CJK.search(session.title.object) and CJK.search(session.points["leader"].name)


def test_find_a_unit_by_name_or_id(session):
    assert session.find_unit("经济管理类部门02") == "ECO02"
    assert session.find_unit("Economic management Dept 02") == "ECO02"
    assert session.find_unit("ECO02") == "ECO02" and session.find_unit("nobody") is None
    session.unit_select.value = "经济管理类部门02"
    assert session.unit == "ECO02"
    session.band.value = 0.3
    session.reach()
    assert "ECO02" not in session.reach_text.object and "经济管理类部门02" in session.reach_text.object


def test_perfsim_explore_gives_the_app_for_a_notebook_cell(tmp_path):
    import panel as pn

    app = perfsim.explore(out=tmp_path, reference=None, background=False)
    assert isinstance(app, pn.Row) and app.session.points["leader"].value == 10
    app.session.points["leader"].value = 5
    assert app.session.view.facts["moved"] > 0
