"""Shared targets and cascades (主责/分办, 层层分解): credit split by share adds up to the
joint actual and target, every responsible unit scores the joint achievement, the cascade
check finds a city goal the unit targets do not reach; bad tables are errors."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import perfsim
from perfsim.core.contract import validate_frames
from perfsim.core.engine import cascade_gaps, credit_table
from perfsim.core.errors import PerfsimError, PerfsimWarning

from ..conftest import MINI


def _with(mini, responsibilities=None, goals=None):
    frames = {name: pd.read_csv(MINI / f"{name}.csv", dtype=str) for name in
              ("units", "indicators", "targets", "actuals", "leader_ratings", "satisfaction", "special",
               "adjustments")}
    if responsibilities is not None:
        frames["responsibilities"] = pd.DataFrame(responsibilities,
                                                  columns=["year", "unit_id", "indicator_id", "role", "share"])
    if goals is not None:
        frames["goals"] = pd.DataFrame(goals, columns=["year", "indicator_id", "goal"])
    return validate_frames(frames, origin="<mini with shared targets>")


SHARED = [(2025, "U3", "I1", "lead", 0.6), (2025, "U4", "I1", "co", 0.4)]


def _i1(scheme, data) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        return perfsim.score_detail(scheme, data).node_scores["tree.targets.econ.I1"]


def test_every_responsible_unit_scores_the_joint_achievement(mini, mini_scheme):
    alone = _i1(mini_scheme, mini)
    assert alone["U3"] == pytest.approx(1.0) and alone["U4"] == pytest.approx(0.5)
    shared = _i1(mini_scheme, _with(mini, SHARED))
    # joint actual 10 + 5 = 15 against the joint target 10 + 10 = 20
    assert shared["U3"] == pytest.approx(0.75) and shared["U4"] == pytest.approx(0.75)
    assert shared["U1"] == pytest.approx(alone["U1"])                       # others unchanged
    with_goal = _i1(mini_scheme, _with(mini, SHARED, [(2025, "I1", 25)]))   # a city goal is for the cascade only
    assert with_goal["U3"] == pytest.approx(0.75)


def test_the_credit_split_adds_up_to_the_joint_actual_and_target(mini):
    data = _with(mini, SHARED)
    credit = credit_table(data, 2025).set_index("unit_id")
    assert credit["credited_actual"].sum() == pytest.approx(15.0)
    assert credit["credited_target"].sum() == pytest.approx(20.0)
    assert credit.loc["U3", "credited_target"] == pytest.approx(0.6 * 20)
    assert credit.loc["U4", "actual"] == pytest.approx(5.0) and credit.loc["U4", "role"] == "co"


def test_the_credit_table_row_by_row_by_hand(mini):
    """U3 (lead, 0.6): actual 10, target 10; U4 (co, 0.4): actual 5, target 10; joint 15 of 20."""
    credit = credit_table(_with(mini, SHARED + [(2024, "U1", "I1", "lead", 1.0)]), 2025)
    assert list(credit.columns) == ["unit_id", "indicator_id", "role", "share", "actual", "target", "joint_actual",
                                    "joint_target", "credited_actual", "credited_target"]
    assert list(credit.index) == [0, 1]                                   # 2025 only, numbered afresh
    expect = pd.DataFrame({"unit_id": ["U3", "U4"], "indicator_id": ["I1", "I1"], "role": ["lead", "co"],
                           "share": [0.6, 0.4], "actual": [10.0, 5.0], "target": [10.0, 10.0],
                           "joint_actual": [15.0, 15.0], "joint_target": [20.0, 20.0],
                           "credited_actual": [9.0, 6.0], "credited_target": [12.0, 8.0]})
    pd.testing.assert_frame_equal(credit, expect, check_dtype=False)
    empty = credit_table(mini, 2025)                                      # no shared targets: the same columns
    assert empty.empty and list(empty.columns) == list(credit.columns)


def test_the_cascade_check_finds_a_gap(mini, mini_scheme):
    # unit targets on I1: 100 + 50 + 10 + 10 = 170 against a city goal of 200
    data = _with(mini, goals=[(2025, "I1", 200), (2025, "I3", 300)])
    gaps = cascade_gaps(data, 2025)
    assert gaps["indicator_id"].tolist() == ["I1"]                          # I3: 90 + 90 + 90 + 80 = 350 >= 300
    assert gaps.iloc[0]["gap"] == pytest.approx(30.0) and gaps.iloc[0]["units"] == 4
    with pytest.warns(PerfsimWarning, match="do not add up to the city goal"):
        perfsim.check_fit(mini_scheme, data)


@pytest.mark.parametrize("rows, message", [
    ([(2025, "U3", "I1", "lead", 0.5), (2025, "U4", "I1", "lead", 0.5)], "has 2 lead units"),
    ([(2025, "U3", "I3", "lead", 0.5), (2025, "U4", "I3", "co", 0.5)], "is a percentage"),
    ([(2025, "U3", "I1", "lead", 0.6), (2025, "U4", "I1", "co", 0.6)], "add up to 1.2 in 2025, not 1"),
])
def test_bad_responsibilities(mini, mini_scheme, rows, message):
    with pytest.raises(PerfsimError, match=message):
        perfsim.check_fit(mini_scheme, _with(mini, rows))


def test_bad_role_and_share_are_contract_errors(mini):
    with pytest.raises(PerfsimError, match="must be one of lead, co"):
        _with(mini, [(2025, "U3", "I1", "boss", 1.0)])
    with pytest.raises(PerfsimError, match="must be above 0 and at most 1"):
        _with(mini, [(2025, "U3", "I1", "lead", 1.5)])
