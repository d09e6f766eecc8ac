"""Speed of one scoring run: 108 units under one scenario, after loading.

Target (issue 2): at most 50 ms per scenario. Prints the median time of perfsim.score
and, as a baseline measured in the same run, the time of the cheapest pandas step any
scorer must do (one pivot of the year's actuals), with their ratio.

    python benchmarks/bench_score.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import perfsim
from perfsim.core.engine import year_end_actuals

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    dataset = perfsim.bundled_dataset()
    scenarios = [ROOT / "params" / "baseline.yaml", *sorted((ROOT / "params" / "scenarios").glob("*.yaml"))]
    resolved = [perfsim.load_scenario(p) for p in scenarios]
    year = dataset.years[-1]

    def pivot():
        year_end_actuals(dataset, year).pivot(index="unit_id", columns="indicator_id", values="value")

    baseline_ms = timed(pivot, args.repeat)
    def cold():  # a fresh Dataset object: the per-year arrays are built inside the timing
        fresh = perfsim.Dataset(tables=dataset.tables, sources=dataset.sources, origin=dataset.origin)
        perfsim.score(resolved[0], fresh)

    cold_ms = timed(cold, max(5, args.repeat // 5))
    perfsim.score(resolved[0], dataset)          # warm the per-year cache: "after loading"
    print(f"units: {len(dataset.units)}, indicators: {len(dataset.indicators)}, repeat: {args.repeat}")
    print(f"baseline (one pivot of the year's actuals): {baseline_ms:8.2f} ms")
    worst = 0.0
    for path, scheme in zip(scenarios, resolved):
        ms = timed(lambda: perfsim.score(scheme, dataset), args.repeat)
        worst = max(worst, ms)
        print(f"score {path.name:34s} {ms:8.2f} ms  = {ms / baseline_ms:5.2f} x baseline, "
              f"{ms / TARGET_MS:5.2f} x the {TARGET_MS:.0f} ms target")
    print(f"cold first score (builds the per-year arrays): {cold_ms:.2f} ms "
          f"= {cold_ms / baseline_ms:.2f} x baseline")
    print(f"worst: {worst:.2f} ms -> {'OK' if worst <= TARGET_MS else 'OVER'} (target {TARGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
