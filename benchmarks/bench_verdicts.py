"""Speed of the verdict machinery against today's ensemble path, measured in one run.

  (a) baseline: one world of perfsim ensemble's path (a world drawn as arrays, the base and
      six scenarios scored, the ensemble's metrics), per world on one process;
  (b) one world of the reference table (three years drawn, every moment of perfsim moments
      from the arrays, the base and six scenarios scored), per world on one process; then
      ``--worlds`` worlds on ``--jobs`` processes, extrapolated to 10,000 worlds
      (target: within 10 minutes);
  (c) from an existing table (``--reference``, else the one just built): the posterior,
      the emulator, the verdicts, the ledger and the value of information (what
      perfsim calibrate --data computes), and an ensemble of 200 posterior worlds
      (target: within 10 s);
  (d) perfsim moments on the bundled world, 108 units x 3 years, 200 bootstrap
      replicates (target: within 5 s).

    python benchmarks/bench_verdicts.py [--worlds 1000] [--jobs 2] [--reference outputs/reference]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from perfsim.analyses import calibration as cal
from perfsim.analyses import inference as inf
from perfsim.analyses.ensemble import ensemble
from perfsim.analyses.moments import data_moments
from perfsim.core.paths import DEFAULT_SEED, PARAMS_DIR
from perfsim.core.scheme import load_scenario
from perfsim.runners.executors import executor_for
from perfsim.sources.synth import synth_params
from perfsim.sources.world import bundled_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", default="outputs/reference")
    args = parser.parse_args()
    params = synth_params()
    setup = cal.load_setup(PARAMS_DIR / "calibration.yaml", params)
    prior = inf.Prior.of(setup)
    base = setup.scheme
    scenarios = {Path(p).stem: load_scenario(PARAMS_DIR / p) for p in inf.DEFAULT_SCENARIOS}
    sample = 30
    knob_sets = [cal.with_knobs(params, dict(zip(prior.names, prior.draw(1, k)))) for k in range(sample)]
    ensemble(base, scenarios, knob_sets[:2], 1)                                    # warm up
    t = time.perf_counter()
    ensemble(base, scenarios, knob_sets, 1)
    a = (time.perf_counter() - t) / sample
    inf.build_reference(base, scenarios, params, prior, 2, 1)                      # warm up
    t = time.perf_counter()
    inf.build_reference(base, scenarios, params, prior, sample, 1)
    b = (time.perf_counter() - t) / sample
    print(f"(a) ensemble path: {a * 1000:.0f} ms per world (base + {len(scenarios)} scenarios, one process)")
    print(f"(b) reference path: {b * 1000:.0f} ms per world, {b / a:.2f} x the ensemble path "
          "(it adds three years and 22 moments)")
    t = time.perf_counter()
    with executor_for(args.jobs, None, -(-args.worlds // 25)) as executor:
        built = inf.build_reference(base, scenarios, params, prior, args.worlds, 5, executor=executor)
    wall = time.perf_counter() - t
    projected = wall / args.worlds * 10_000
    print(f"    {args.worlds} worlds on {args.jobs} processes: {wall:.1f} s; 10,000 worlds projected "
          f"{projected / 60:.1f} min (target 10 min): {'met' if projected <= 600 else 'NOT met'}")
    loaded = inf.load_reference(args.reference)
    table = loaded[0] if loaded is not None else built
    dataset = bundled_dataset()
    moments = data_moments(base, dataset, None, boot=0)
    observed = dict(zip(moments["moment"], moments["value"].astype(float)))
    t = time.perf_counter()
    post = inf.posterior(table, observed)
    emulator = inf.fit_emulator(table)
    t_fit = time.perf_counter() - t
    led = inf.ledger(post, emulator)
    inf.verdicts(post, emulator, decided=inf.decided_by(led))
    t_verdicts = time.perf_counter() - t
    inf.value_of_information(table, observed, emulator)
    t_all = time.perf_counter() - t
    draws = cal.knob_draws(post.frame(), params, 200, 1)
    t = time.perf_counter()
    with executor_for(args.jobs, None, 20) as executor:
        ensemble(base, scenarios, draws, 1, executor=executor)
    t_ens = time.perf_counter() - t
    print(f"(c) from a table of {len(table)} worlds: posterior and emulator {t_fit:.1f} s, with ledger and "
          f"verdicts {t_verdicts:.1f} s, with value of information {t_all:.1f} s; an ensemble of 200 posterior "
          f"worlds {t_ens:.1f} s; posterior + verdicts + ensemble {t_verdicts + t_ens:.1f} s (target 10 s): "
          f"{'met' if t_verdicts + t_ens <= 10 else 'NOT met'}")
    t = time.perf_counter()
    data_moments(base, dataset, "all", boot=200, seed=1)
    d = time.perf_counter() - t
    print(f"(d) perfsim moments, 108 units x 3 years, 200 bootstrap replicates: {d:.1f} s (target 5 s): "
          f"{'met' if d <= 5 else 'NOT met'}")
    pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
