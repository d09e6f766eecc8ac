"""Ensemble speed: one synthetic world generated, validated and scored in memory, and a
200-world ensemble of the leader-rating scenarios, against the path through tables.

Measured in one run on this machine:
  (a) today's path through tables: generate the world's tables (perfsim.generate_world),
      validate them against the contract (pandera) and score the baseline (perfsim.score);
  (b) the in-memory path: draw the world as arrays (synth.generate_arrays, last year
      only), check the arrays (synth.check_world) and score the baseline
      (engine.score_arrays on synth.world_dataset);
  (c) perfsim ensemble's work: 200 plausible worlds x the baseline and 6 scenarios (the
      five leader-rating scenarios and a seventh, special10), on --jobs worker processes.
Targets (issue 12): (b) at most 20 ms a world; (c) within 60 s.

    python benchmarks/bench_ensemble.py [--worlds 200] [--jobs 2] [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import perfsim
from perfsim.analyses.calibration import knob_draws
from perfsim.analyses.ensemble import ensemble
from perfsim.core.contract import validate_frames
from perfsim.core.engine import score_arrays
from perfsim.runners.executors import executor_for
from perfsim.sources import synth
from perfsim.sources.readers import read_table

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [ROOT / "params" / "scenarios" / f"{n}.yaml" for n in
             ("leader0", "leader5_proportional", "leader5_to_satisfaction", "leader5_to_targets",
              "leader5_total95")] + [ROOT / "params" / "scenarios" / "levers" / "special10.yaml"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    params = synth.synth_params()
    base = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    scheme = base.scheme

    def tables_path(seed: int) -> None:
        data = validate_frames(synth.generate_world(seed, params), origin="<bench>")
        perfsim.score(base, data)

    def memory_path(seed: int) -> None:
        world = synth.generate_arrays(seed, params, years=1, monthly=False)
        synth.check_world(world)
        score_arrays(scheme, synth.world_dataset(world), world.last.year)

    tables_path(0)
    memory_path(0)
    timings = {}
    for name, fn, repeat in (("tables", tables_path, max(3, args.repeat // 5)), ("memory", memory_path, args.repeat)):
        t0 = time.perf_counter()
        for seed in range(1, repeat + 1):
            fn(seed)
        timings[name] = (time.perf_counter() - t0) / repeat
    sets = knob_draws(read_table(ROOT / "params" / "plausible.csv"), params, args.worlds, seed=1)
    scenarios = {p.stem: perfsim.load_scenario(p) for p in SCENARIOS}
    t0 = time.perf_counter()
    with executor_for(args.jobs, None, args.worlds // 10) as executor:
        per = ensemble(base, scenarios, sets, seed=1, executor=executor)
    wall = time.perf_counter() - t0
    print(f"(a) through tables (generate all years, validate with pandera, score): {timings['tables'] * 1000:7.1f} ms a world")
    print(f"(b) in memory (generate the scored year, check arrays, score)        : {timings['memory'] * 1000:7.1f} ms a world"
          f" -> {timings['tables'] / timings['memory']:.0f}x faster (target <= 20 ms: "
          f"{'OK' if timings['memory'] <= 0.020 else 'OVER'})")
    print(f"(c) ensemble: {args.worlds} worlds x (baseline + {len(scenarios)} scenarios) on {args.jobs} workers: "
          f"{wall:.1f} s, {len(per)} rows (target <= 60 s: {'OK' if wall <= 60 else 'OVER'})")


if __name__ == "__main__":
    main()
