"""Are the verdicts' intervals honest? Simulation-based calibration on held-out worlds.

Draws ``--held-out`` worlds from the priors of params/calibration.yaml (apart from the
reference table), treats each as a city: its own moments are the observed targets; runs
the whole inference (ABC posterior on the reference table, the emulator of the expected
effect, the verdict); and checks for each scenario whether the 90 % interval contains the
world's true expected effect (the mean of delta_tau_truth over ``--truth-seeds`` further
worlds with the same settings) and whether the verdict has the wrong sign.

Targets (issue 26): coverage between 0.80 and 0.97 for every scenario; a verdict of the
wrong sign in at most 5 % of worlds. Printed per scenario, with the coverage's binomial
standard error; the per-world rows are written with --out.

    python benchmarks/bench_sbc.py [--reference outputs/reference] [--held-out 100]
                                   [--truth-seeds 16] [--jobs 2] [--out outputs/sbc.csv]

The reference table must exist (perfsim reference --worlds 10000 --out outputs/reference).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from perfsim.analyses import calibration as cal
from perfsim.analyses import inference as inf
from perfsim.core.paths import DEFAULT_SEED, PARAMS_DIR
from perfsim.core.scheme import load_scenario
from perfsim.runners.executors import executor_for
from perfsim.sources.synth import synth_params

COVERAGE = (0.80, 0.97)
WRONG_SIGN = 0.05


def run(reference_dir: Path, held_out: int, truth_seeds: int, jobs: int, seed: int) -> tuple[pd.DataFrame, dict]:
    facts = json.loads((reference_dir / "reference.json").read_text(encoding="utf-8"))
    table = pd.read_parquet(reference_dir / "reference.parquet")
    params = synth_params()
    setup = cal.load_setup(PARAMS_DIR / "calibration.yaml", params)
    prior = inf.Prior.of(setup)
    scenario_files = {Path(p).stem: PARAMS_DIR / p for p in inf.DEFAULT_SCENARIOS}
    if list(scenario_files) != facts["scenarios"]:
        raise SystemExit(f"the reference table was built for {facts['scenarios']}, not the default scenarios")
    scenarios = {k: load_scenario(v) for k, v in scenario_files.items()}
    base = setup.scheme
    timing = {}
    t = time.perf_counter()
    emulator = inf.fit_emulator(table, seed=seed)
    timing["emulator_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with executor_for(jobs, None, held_out) as executor:
        worlds = inf.held_out_worlds(base, scenarios, params, prior, held_out, seed, truth_seeds, executor)
    timing["held_out_s"] = time.perf_counter() - t
    t = time.perf_counter()
    per_world = inf.coverage(table, emulator, worlds)
    timing["inference_per_world_s"] = (time.perf_counter() - t) / max(held_out, 1)
    timing["emulator_r2"] = emulator.r2
    timing["reference_worlds"] = len(table)
    return per_world, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="outputs/reference")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--truth-seeds", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", default=None, help="write the per-world rows to this CSV")
    args = parser.parse_args()
    per_world, timing = run(Path(args.reference), args.held_out, args.truth_seeds, args.jobs, args.seed)
    summary = inf.coverage_summary(per_world)
    print(f"simulation-based calibration: {args.held_out} held-out worlds drawn from the priors, "
          f"truth over {args.truth_seeds} seeds each, reference table of {timing['reference_worlds']} worlds")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    ok_cov = summary["coverage"].between(*COVERAGE).all()
    ok_sign = (summary["wrong_sign"] <= WRONG_SIGN).all()
    print(f"coverage of the 90 % intervals: {summary['coverage'].min():.3f} to {summary['coverage'].max():.3f} "
          f"(target {COVERAGE[0]}-{COVERAGE[1]}): {'met' if ok_cov else 'NOT met'}")
    print(f"wrong-sign verdicts: at most {summary['wrong_sign'].max():.3f} of worlds (target <= {WRONG_SIGN}): "
          f"{'met' if ok_sign else 'NOT met'}")
    print(f"emulator held-out R^2 (single worlds): "
          + ", ".join(f"{k} {v:.2f}" for k, v in timing["emulator_r2"].items()))
    print(f"time: emulator fit {timing['emulator_s']:.1f} s; held-out worlds {timing['held_out_s']:.1f} s; "
          f"inference {timing['inference_per_world_s'] * 1000:.0f} ms per city")
    if args.out:
        per_world.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
