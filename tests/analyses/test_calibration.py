"""The calibrated world and ensembles of plausible worlds: calibration recovers known
moments, the bundled world reproduces its targets, an ensemble of a scenario against
itself shows nothing, a scenario built to help helps and one built to hurt hurts, the
same seed gives the same files, and effects are what per_world says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import perfsim
from perfsim.analyses import calibration as cal
from perfsim.analyses.ensemble import ensemble, ensemble_effects, verdict
from perfsim.cli import main
from perfsim.core.scheme import parse_scheme, raw_of, reallocate
from perfsim.sources import synth

from ..conftest import ROOT

BASELINE = ROOT / "params" / "baseline.yaml"
TARGETS = ROOT / "params" / "calibration.yaml"


def test_bundled_world_reproduces_its_calibration_targets():
    setup = cal.load_setup(TARGETS, synth.synth_params())
    moments = cal.simulate(setup, {}, list(range(101, 109)))
    assert cal.within(setup, moments), {m: round(v, 3) for m, v in moments.items()}


def test_bundled_world_totals_bunch_as_documented(baseline):
    """The scored bundled world itself (DESIGN 6: totals bunch between about 88 and 93)."""
    table = perfsim.score(baseline, perfsim.open_dataset(None))
    p10, p50, p90 = np.percentile(table["total"], [10, 50, 90])
    assert 86.5 <= p10 and p50 <= 91.5 + 0.5 and p90 <= 94.5 and p50 >= 89.5


def test_calibration_recovers_moments_of_known_knobs(tmp_path):
    """Targets are the moments of worlds made with known knobs; starting far from them, the
    fit reproduces the moments within (tight) tolerances."""
    truth = {"leader.mean": 84.0, "leader.theta_effect": 5.0, "satisfaction.theta_effect": 2.0}
    params = synth.synth_params()
    targets = yaml.safe_load(TARGETS.read_text(encoding="utf-8"))
    targets.update(scheme=str(BASELINE), worlds=2,
                   knobs={"leader.mean": {"range": [70.0, 95.0]}, "leader.theta_effect": {"range": [0.5, 10.0]},
                          "satisfaction.theta_effect": {"range": [0.5, 8.0]}})
    tolerance = {"total_p50": 0.4, "leader_sd_within": 0.3, "satisfaction_sd_within": 0.3}
    targets["moments"] = {m: {**targets["moments"][m], "tolerance": t} for m, t in tolerance.items()}
    probe = tmp_path / "t.yaml"
    probe.write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    known = cal.simulate(cal.load_setup(probe, cal.with_knobs(params, truth)), {}, cal._fit_seeds(7, 16))
    for m in tolerance:
        targets["moments"][m]["value"] = round(known[m], 4)
    probe.write_text(yaml.safe_dump(targets, allow_unicode=True), encoding="utf-8")
    start = cal.with_knobs(params, {"leader.mean": 74.0, "leader.theta_effect": 1.0, "satisfaction.theta_effect": 6.0})
    setup = cal.load_setup(probe, start)
    before = cal.simulate(setup, {}, cal._fit_seeds(7, 2))
    assert not cal.within(setup, before)
    fit = cal.calibrate(setup, budget=120, seed=7)
    assert fit.fit["ok"].all(), fit.fit
    assert fit.distance < cal.distance(setup, before) / 10


def test_calibration_targets_errors_name_file_and_key(tmp_path, capsys):
    base = yaml.safe_load(TARGETS.read_text(encoding="utf-8"))
    cases = {
        "unknown_moment": ({"moments": {**base["moments"], "total_p99": base["moments"]["total_p10"]}},
                           "key 'moments.total_p99': unknown moment"),
        "unknown_knob": ({"knobs": {"leader.meen": {"range": [1, 2]}}},
                         "key 'knobs.leader.meen': not a knob of the generator"),
        "bad_range": ({"knobs": {"leader.mean": {"range": [90, 80]}}}, "the upper end must be above the lower"),
        "zero_tolerance": ({"moments": {"total_p10": {**base["moments"]["total_p10"], "tolerance": 0}}},
                           "key 'moments.total_p10.tolerance'"),
    }
    for name, (change, expect) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**base, "scheme": str(BASELINE), **change}, allow_unicode=True),
                        encoding="utf-8")
        code = main(["calibrate", "--targets", str(path), "--budget", "1", "--out", str(tmp_path / "o"),
                     "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and expect in err and str(path) in err, (name, err)
        assert not (tmp_path / "o").exists()


def _sets(count: int, **knobs):
    draws = cal.knob_draws(pd.read_csv(ROOT / "params" / "plausible.csv"), synth.synth_params(), count, seed=4)
    return [cal.with_knobs(k, knobs) for k in draws]


def test_scenario_against_itself_shows_nothing(baseline):
    per = ensemble(baseline, {"same": baseline}, _sets(6), seed=1)
    eff = ensemble_effects(per)
    moved = eff[~eff["metric"].isin(["tau_truth", "tau_truth_base"])]
    assert (moved[["median", "q05", "q95", "p_helps", "p_hurts"]] == 0).all().all()
    assert eff.set_index("metric").loc["delta_tau_truth", "verdict"] == "undetermined"


def test_a_scenario_built_to_help_helps_and_one_built_to_hurt_hurts(baseline):
    """Worlds where the survey measures the truth well and the leaders' ratings are noise:
    moving the leader's points to satisfaction must help, moving satisfaction's points to
    the leader must hurt."""
    sets = _sets(24, **{"leader.theta_effect": 0.0, "leader.noise_sd": 15.0, "leader.favour_points": 10.0,
                        "satisfaction.theta_effect": 8.0, "satisfaction.respondent_sd": 3.0})
    raw = raw_of(baseline)
    helps = parse_scheme(reallocate(raw, "leader", 0, "satisfaction"), "helps")
    hurts = parse_scheme(reallocate(raw, "satisfaction", 0, "leader"), "hurts")
    eff = ensemble_effects(ensemble(baseline, {"helps": helps, "hurts": hurts}, sets, seed=2)).set_index(
        ["scenario", "metric"])
    assert eff.loc[("helps", "delta_tau_truth"), "verdict"] == "helps"
    assert eff.loc[("hurts", "delta_tau_truth"), "verdict"] == "hurts"


def test_verdict_rule():
    assert verdict(0.001, 0.2) == "helps" and verdict(-0.2, -0.001) == "hurts"
    assert verdict(-0.01, 0.01) == "undetermined" and verdict(0.0, 0.1) == "undetermined"


def test_ensemble_command_same_seed_same_files_and_effects_from_per_world(tmp_path, capsys):
    argv = ["ensemble", str(BASELINE), str(ROOT / "params" / "scenarios" / "leader5_proportional.yaml"),
            str(ROOT / "params" / "scenarios" / "leader0.yaml"), "--worlds", "8", "--jobs", "1", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert main(argv + ["--out", str(tmp_path / "b"), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "leader5_proportional:" in out and "90 % interval" in out
    for name in ("per_world.csv", "effects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    per = pd.read_csv(tmp_path / "a" / "per_world.csv")
    eff = pd.read_csv(tmp_path / "a" / "effects.csv")
    assert list(eff.columns) == ["scenario", "metric", "median", "q05", "q95", "p_helps", "p_hurts", "verdict"]
    assert per["world"].nunique() == 8 and set(per["scenario"]) == {"leader5_proportional", "leader0"}
    for row in eff.itertuples():
        v = per[(per["scenario"] == row.scenario) & (per["metric"] == row.metric)]["value"].to_numpy()
        assert row.median == pytest.approx(np.median(v)) and row.q05 == pytest.approx(np.quantile(v, 0.05))
        assert row.q95 == pytest.approx(np.quantile(v, 0.95)) and row.p_helps == pytest.approx((v > 0).mean())
        assert row.p_hurts == pytest.approx((v < 0).mean())
    metrics = set(per["metric"])
    assert {"delta_tau_truth", "mean_abs_shift", "share_moved", "grade_changes", "mean_shift:central",
            "mean_shift:outer", "total_change:district", "grade_up:outer", "grade_down:party_admin"} <= metrics
    assert not any(m.startswith("mean_shift:") and m not in ("mean_shift:central", "mean_shift:outer")
                   for m in metrics)                       # 0 by construction within a category


def test_in_memory_world_scores_like_its_tables(baseline):
    from perfsim.core.contract import validate_frames
    from perfsim.core.engine import score_arrays

    world = synth.generate_arrays(5, synth.synth_params())
    fast = score_arrays(baseline.scheme, synth.world_dataset(world), world.last.year)
    full = perfsim.score(baseline, validate_frames(synth.world_tables(world), origin="t")).set_index("unit_id")
    ids = np.sort(world.structure.ids)
    assert np.array_equal(fast.total, full["total"].reindex(ids).to_numpy())


def test_every_indicator_stays_within_a_plausible_ratio_of_its_target():
    params = synth.synth_params()
    st = synth.structure(params)
    for seed in range(6):
        y = synth.generate_arrays(seed, params, years=1, monthly=False).last
        ratio = np.where(st.lower[None, :], y.target / y.actual, y.actual / y.target)
        counts = st.counts[None, :] & (y.target < 4)          # 1 task of 3 is a third
        assert np.nanmin(np.where(counts, 1.0, ratio)) >= 0.5 and np.nanmax(ratio) <= 2.0


def test_distance_and_within_by_hand():
    """Two moments with targets 10 +- 2 and 0.5 +- 0.1: simulated (13, 0.45) is
    ((13 - 10) / 2)^2 + ((0.45 - 0.5) / 0.1)^2 = 2.25 + 0.25 = 2.5 away, and outside
    (|13 - 10| > 2); (11.9, 0.59) is inside (both within their tolerance, even at the edge
    side of each); a missing or non-finite moment counts 1e6 and is outside."""
    from types import SimpleNamespace

    from perfsim.analyses.calibration import MomentTarget, distance, within

    targets = {"a": MomentTarget(value=10, tolerance=2, basis="grounded", source="t"),
               "b": MomentTarget(value=0.5, tolerance=0.1, basis="assumption", source="t")}
    setup = SimpleNamespace(targets=SimpleNamespace(moments=targets))
    assert distance(setup, {"a": 13.0, "b": 0.45}) == pytest.approx(2.5)
    assert not within(setup, {"a": 13.0, "b": 0.45})
    assert within(setup, {"a": 11.9, "b": 0.59}) and within(setup, {"a": 8.0, "b": 0.4})
    assert not within(setup, {"a": 10.0, "b": 0.61}) and not within(setup, {"a": 7.99, "b": 0.5})
    assert distance(setup, {"a": 10.0, "b": float("nan")}) == pytest.approx(1e6)
    assert distance(setup, {"a": 10.0}) == pytest.approx(1e6)


def test_every_generator_setting_is_a_knob_a_prior_or_fixed_with_its_reason():
    """The assumptions that can decide a verdict are all declared: each setting of
    params/synth.yaml is a knob of the fit, a prior with a range and a source, or fixed with a
    reason; a prior's range holds the generator's value."""
    from perfsim.analyses.calibration import generator_settings, get_knob, load_setup
    from perfsim.core.yamlio import load_yaml
    from perfsim.sources.synth import synth_params

    raw = load_yaml(ROOT / "params" / "synth.yaml")
    setup = load_setup(ROOT / "params" / "calibration.yaml", synth_params())
    t = setup.targets
    declared = set(t.knobs) | set(t.priors) | set(t.fixed)
    settings = generator_settings(raw)
    assert len(settings) > 50
    missing = [s for s in settings if s not in declared]
    assert not missing, f"neither a knob, a prior nor fixed: {missing}"
    assert not declared - set(settings)
    for name, prior in t.priors.items():
        low, high = prior.range
        assert low <= get_knob(synth_params(), name) <= high, name
    # what decides the leader-rating verdict is a prior, not hidden
    assert {"truth.visible_share", "leader.visible_weight", "leader.favour_prob", "leader.favour_points",
            "leader.favour_correlation", "leader.compression", "leader.noise_sd", "targets.self_insight"} <= set(t.priors)


@pytest.mark.parametrize("extra, message", [
    ("fixed:\n  leader.noise_sd: a reason long enough to count\n", "'priors' and 'fixed' both name leader.noise_sd"),
    ("fixed:\n  leader.floor: why\n", "say why the setting stays fixed"),
    ("fixed:\n  leader.nonsense: a reason long enough to count\n", "not a setting of the generator"),
    ("labels:\n  leader.flor: 评价的最低分\n", "key 'labels.leader.flor': not a setting of the generator"),
])
def test_bad_priors_and_fixed_settings_are_refused(tmp_path, extra, message):
    from perfsim.analyses.calibration import load_setup
    from perfsim.sources.synth import synth_params

    text = (ROOT / "params" / "calibration.yaml").read_text(encoding="utf-8")
    head, _, _ = text.partition("\nfixed:\n")
    (tmp_path / "c.yaml").write_text(head.replace("scheme: baseline.yaml", f"scheme: {ROOT / 'params' / 'baseline.yaml'}")
                                     + "\n" + extra, encoding="utf-8")
    with pytest.raises(perfsim.PerfsimError, match=message):
        load_setup(tmp_path / "c.yaml", synth_params())


def test_a_prior_that_excludes_the_generators_value_is_refused(tmp_path):
    from perfsim.analyses.calibration import load_setup
    from perfsim.sources.synth import synth_params

    text = (ROOT / "params" / "calibration.yaml").read_text(encoding="utf-8")
    text = text.replace("scheme: baseline.yaml", f"scheme: {ROOT / 'params' / 'baseline.yaml'}")
    text = text.replace("  leader.noise_sd:\n    range: [1.0, 8.0]", "  leader.noise_sd:\n    range: [4.0, 8.0]")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(perfsim.PerfsimError, match=r"priors.leader.noise_sd': the generator's value 3 lies outside "
                                                    r"the range \[4, 8\]"):
        load_setup(tmp_path / "c.yaml", synth_params())
