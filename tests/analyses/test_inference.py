"""Verdicts over worlds: the reference table, the posterior, the verdict, the ledger and the
value of information, against answers known by construction.

Most tests use a toy reference table whose moments and effects are known functions of the
settings (no synthetic world needed, so the truth is exact); the end-to-end tests build a
small table of real synthetic worlds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfsim.analyses import inference as inf
from perfsim.analyses.moments import data_moments, world_data_moments
from perfsim.cli import main
from perfsim.core.contract import validate_frames
from perfsim.core.scheme import load_scenario
from perfsim.sources.synth import generate_arrays, synth_params, world_tables

ROOT = Path(__file__).resolve().parents[2]


def toy_table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Three settings in [0, 1]: ``a`` is measured sharply by moment ``m_a``; ``b`` moves the
    effect but only the moment ``m_b`` (which a city may not have) measures it; ``c`` does
    nothing. The effect of scenario ``s`` is 0.1 * (a - 0.3) + 0.03 * (b - 0.5) plus noise."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.random(n), rng.random(n), rng.random(n)
    return pd.DataFrame({
        "world": np.arange(n), "world_seed": np.arange(n), "error": "",
        "knob:a": a, "knob:b": b, "knob:c": c,
        "moment:total_p50": a + 0.02 * rng.standard_normal(n),
        "moment:persistence:total": b + 0.02 * rng.standard_normal(n),
        "moment:veto_share": rng.random(n),                        # informs nothing
        "tau_truth:base": 0.5,
        "effect:s": 0.1 * (a - 0.3) + 0.03 * (b - 0.5) + 0.01 * rng.standard_normal(n)})


@pytest.fixture(scope="module")
def toy():
    table = toy_table()
    return table, inf.fit_emulator(table, seed=1)


def test_posterior_recovers_the_measured_setting_and_leaves_the_others_at_their_prior(toy):
    table, _ = toy
    post = inf.posterior(table, {"total_p50": 0.7, "veto_share": 0.5, "history_target_met": float("nan")})
    ident = inf.identified(post).set_index("knob")
    assert ident.loc["a", "post_q05"] < 0.7 < ident.loc["a", "post_q95"]
    assert ident.loc["a", "post_q95"] - ident.loc["a", "post_q05"] < 0.1
    assert bool(ident.loc["a", "identified"]) and not ident.loc["b", "identified"]
    assert not ident.loc["c", "identified"]
    assert ident.loc["b", "width_ratio"] > 0.8                  # the data say nothing about b
    assert post.unused == {"history_target_met": "not a moment of the reference table"}
    assert post.weights.sum() == pytest.approx(1.0) and (post.weights > 0).all()


def test_verdict_follows_what_the_data_say(toy):
    """With a = 0.7 the effect is 0.04 + 0.03 (b - 0.5) > 0 for every b: helps. With a = 0.3
    its sign rests on b, which the data do not measure: undetermined."""
    table, emulator = toy
    high = inf.verdicts(inf.posterior(table, {"total_p50": 0.7}), emulator).iloc[0]
    assert high["verdict"] == "helps" and high["p_helps"] >= 0.95
    assert high["q05"] > 0 and high["median"] == pytest.approx(0.04, abs=0.01)
    even = inf.verdicts(inf.posterior(table, {"total_p50": 0.3}), emulator).iloc[0]
    assert even["verdict"] == "undetermined" and 0.2 < even["p_helps"] < 0.8
    low = inf.verdicts(inf.posterior(table, {"total_p50": 0.05}), emulator).iloc[0]
    assert low["verdict"] == "hurts" and low["p_hurts"] >= 0.95 and low["q95"] < 0
    # measuring b as well decides the even case: b = 0.9 gives 0.012 > 0
    both = inf.verdicts(inf.posterior(table, {"total_p50": 0.3, "persistence:total": 0.9}), emulator).iloc[0]
    assert both["verdict"] == "helps" and both["median"] == pytest.approx(0.012, abs=0.006)


def test_ledger_names_the_deciding_setting_and_where_the_sign_flips(toy):
    table, emulator = toy
    post = inf.posterior(table, {"total_p50": 0.3})
    led = inf.ledger(post, emulator, top=2, seed=3)
    assert led.iloc[0]["knob"] == "b"                            # b moves the effect most where a is pinned
    assert led.iloc[0]["share"] > 0.8 and led.iloc[1]["share"] < 0.1
    b = led.set_index("knob").loc["b"]
    assert b["flip_at"] == pytest.approx(0.5, abs=0.08)        # 0.03 (b - 0.5) = 0
    assert b["holds_if"] == "above" or b["holds_if"] == "below"
    assert b["flip_q05"] <= b["flip_at"] <= b["flip_q95"]
    assert "b is" in b["sentence"] and "the data put it at" in b["sentence"]
    decided = inf.decided_by(led)["s"]
    assert decided.startswith("decided by b (sign changes at 0.")
    # where the data put a at 0.9, the effect would turn negative only with a below 0.3 (over
    # the prior range), far from what the data allow; b and c cannot turn it
    led_high = inf.ledger(inf.posterior(table, {"total_p50": 0.9}), emulator, top=3, seed=3).set_index("knob")
    assert led_high.loc["a", "flip_at"] == pytest.approx(0.3, abs=0.05)
    assert led_high.loc["a", "holds_if"] == "above" and led_high.loc["a", "post_q05"] > 0.8
    assert "raises validity if a is above 0.2" in led_high.loc["a", "sentence"]
    assert not np.isfinite(led_high.loc[["b", "c"], "flip_at"].astype(float)).any()
    # a scenario no setting turns: said so
    plain = inf.ledger(inf.posterior(table.assign(**{"effect:s": 0.05 + 0.01 * table["knob:b"]}), {"total_p50": 0.5}),
                       inf.fit_emulator(table.assign(**{"effect:s": 0.05 + 0.01 * table["knob:b"]})), top=2)
    assert inf.decided_by(plain)["s"] == "no knob changes its sign within the prior range; moved most by b"


def test_value_of_information_points_at_the_moment_that_would_settle_it(toy):
    table, emulator = toy
    voi = inf.value_of_information(table, {"total_p50": 0.3, "veto_share": 0.5}, emulator).set_index("moment")
    assert not voi.loc["persistence:total", "measured"] and voi.loc["total_p50", "measured"]
    assert voi.loc["persistence:total", "narrowing"] > 0.5      # knowing b settles most of it
    assert voi.loc["veto_share", "narrowing"] < 0.1             # a moment that measures nothing
    assert voi.loc["total_p50", "narrowing"] > 0.5              # without it a, and so the effect, is open
    assert voi.loc["total_p50", "width_if_known"] == pytest.approx(voi.loc["total_p50", "width_now"])
    row = voi.loc["persistence:total"]
    assert row["width_if_known"] == pytest.approx(row["width_without"] * (1 - row["narrowing"]))


def test_weighted_quantile_matches_numpy_with_equal_weights():
    x = np.random.default_rng(5).normal(size=2001)
    w = np.full(len(x), 1.0 / len(x))
    for q in (0.05, 0.5, 0.95):
        assert inf.weighted_quantile(x, w, [q])[0] == pytest.approx(np.quantile(x, q), abs=0.01)


def test_verdict_rule():
    assert inf.verdict_of(0.95, 0.05) == "helps" and inf.verdict_of(0.02, 0.98) == "hurts"
    assert inf.verdict_of(0.94, 0.06) == "undetermined"


def test_world_moments_from_arrays_equal_the_moments_of_the_tables():
    """The reference table's moments (from a world's arrays) are the numbers perfsim moments
    computes from the same world written as the contract's tables."""
    base = load_scenario(ROOT / "params" / "baseline.yaml")
    world = generate_arrays(11, synth_params(), monthly=True)
    fast = world_data_moments(world, base)
    table = data_moments(base, validate_frames(world_tables(world), origin="w"), None, boot=0)
    for row in table.itertuples():
        if np.isnan(row.value):
            assert np.isnan(fast[row.moment]), row.moment
        else:
            assert fast[row.moment] == pytest.approx(row.value, rel=1e-9, abs=1e-12), row.moment
    assert np.isfinite([fast["persistence:leader"], fast["icc:leader_raters"], fast["cascade_target_met"]]).all()


def test_reference_command_builds_caches_and_extends_deterministically(tmp_path, capsys):
    argv = ["reference", "--jobs", "1", "--no-progress", "--scenarios",
            str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml")]
    assert main(argv + ["--worlds", "6", "--out", str(tmp_path / "a")]) == 0
    assert main(argv + ["--worlds", "10", "--out", str(tmp_path / "a")]) == 0       # extended by 4
    assert main(argv + ["--worlds", "10", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "worlds 6 to 9" in out
    a = pd.read_parquet(tmp_path / "a" / "reference.parquet")
    b = pd.read_parquet(tmp_path / "b" / "reference.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert main(argv + ["--worlds", "8", "--out", str(tmp_path / "a")]) == 0
    assert "cached" in capsys.readouterr().out
    facts = json.loads((tmp_path / "a" / "reference.json").read_text())
    assert facts["worlds"] == 10 and facts["scenarios"] == ["leader5_proportional"]
    assert (a["error"] == "").all() and a["effect:leader5_proportional"].notna().all()
    assert a.filter(like="knob:").shape[1] == len(facts["prior"])
    # every drawn setting lies in its prior range
    for name, (lo, hi) in facts["prior"].items():
        assert a[f"knob:{name}"].between(lo, hi).all()
    # a row's moments are those of the world its seed and settings make
    base = load_scenario(ROOT / "params" / "baseline.yaml")
    row = a.iloc[7]
    from perfsim.analyses.calibration import with_knobs

    knobs = {k[5:]: row[k] for k in a.columns if k.startswith("knob:")}
    world = generate_arrays(int(row["world_seed"]), with_knobs(synth_params(), knobs), monthly=False)
    assert world_data_moments(world, base)["total_p50"] == pytest.approx(row["moment:total_p50"])


@pytest.mark.slow
def test_calibrate_with_data_writes_the_posterior_and_its_verdicts(tmp_path, capsys):
    ref = tmp_path / "ref"
    assert main(["reference", "--worlds", "60", "--jobs", "2", "--no-progress", "--out", str(ref), "--scenarios",
                 str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml"),
                 str(ROOT / "params" / "scenarios" / "leader5_to_satisfaction.yaml")]) == 0
    argv = ["calibrate", "--reference", str(ref), "--accept", "30", "--scenarios",
            str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml"),
            str(ROOT / "params" / "scenarios" / "leader5_to_satisfaction.yaml")]
    assert main(argv + ["--data", str(ROOT / "data" / "synthetic"), "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "P(hurts)" in out and "posterior over 60 reference worlds" in out
    post = pd.read_csv(tmp_path / "c" / "posterior.csv")
    assert len(post) == 30 and post["weight"].sum() == pytest.approx(1.0)
    ident = pd.read_csv(tmp_path / "c" / "identified.csv")
    assert list(ident.columns) == inf.IDENTIFIED_COLUMNS and len(ident) == post.shape[1] - 1
    verdicts = pd.read_csv(tmp_path / "c" / "verdicts.csv")
    assert set(verdicts["scenario"]) == {"leader5_proportional", "leader5_to_satisfaction"}
    assert ((verdicts["p_helps"] + verdicts["p_hurts"]) <= 1 + 1e-9).all()
    for r in verdicts.itertuples():
        assert r.verdict == inf.verdict_of(r.p_helps, r.p_hurts) and r.q05 <= r.median <= r.q95
    observed = pd.read_csv(tmp_path / "c" / "observed.csv")
    assert observed.set_index("moment").loc["persistence:total", "used"]          # the bundled world has 3 years
    assert (tmp_path / "c" / "verdicts.png").stat().st_size > 10_000
    voi = pd.read_csv(tmp_path / "c" / "voi.csv")
    assert set(voi.columns) == set(inf.VOI_COLUMNS) and voi["narrowing"].between(0, 1).all()
    # a table built for other scenarios is refused, not silently used
    assert main(["calibrate", "--reference", str(ref), "--out", str(tmp_path / "d")]) == 2
    assert not (tmp_path / "d").exists()
    assert "other knobs, priors, schemes or seed" in capsys.readouterr().err
    # the ensemble draws its worlds from the posterior
    assert main(["ensemble", str(ROOT / "params" / "baseline.yaml"),
                 str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml"), "--worlds", "4", "--jobs", "1",
                 "--no-progress", "--posterior", str(tmp_path / "c" / "posterior.csv"),
                 "--out", str(tmp_path / "e")]) == 0
    eff = pd.read_csv(tmp_path / "e" / "effects.csv")
    assert {"p_helps", "p_hurts"} <= set(eff.columns)


@pytest.mark.slow
def test_intervals_cover_the_truth_on_held_out_worlds(tmp_path):
    """A small simulation-based calibration (benchmarks/bench_sbc.py with fewer worlds): the
    90 % intervals cover the true expected effect of held-out worlds often, and verdicts of
    the wrong sign are rare."""
    from perfsim.analyses import calibration as cal
    from perfsim.runners.executors import executor_for

    params = synth_params()
    setup = cal.load_setup(ROOT / "params" / "calibration.yaml", params)
    prior = inf.Prior.of(setup)
    scenarios = {"leader0": load_scenario(ROOT / "params" / "scenarios" / "leader0.yaml")}
    with executor_for(2, None, 40) as executor:
        table = inf.build_reference(setup.scheme, scenarios, params, prior, 800, seed=3, executor=executor)
        held = inf.held_out_worlds(setup.scheme, scenarios, params, prior, 16, seed=3, truth_seeds=4,
                                   executor=executor)
    emulator = inf.fit_emulator(table, seed=3)
    summary = inf.coverage_summary(inf.coverage(table, emulator, held)).iloc[0]
    assert summary["worlds"] == 16
    assert summary["coverage"] >= 0.6 and summary["wrong_sign"] <= 0.15
