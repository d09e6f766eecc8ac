"""Server time per change of the scenario explorer, at 108 and about 1,000 units.

Target (issue 29): at most 150 ms per change at 108 units and at most 1 s at 1,000 units.
A change is what the server does when a control moves: resolve the setting, score it,
compare it with the base, split the selected unit's move, and update every widget and
figure of the page (the Panel models of a Bokeh document, as a served session has them;
the bytes then sent to the browser are not counted). Background work (the verdict and the
rank bands) is off. The baseline, measured in the same run, is one plain ``perfsim.score``
of the same scheme on the same data; the ratio says what the explorer adds to scoring.

    python benchmarks/bench_explore.py [--repeat 20] [--factor 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import perfsim

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
TARGETS_MS = {1: 150.0, 10: 1000.0}


def session_for(dataset):
    import panel as pn
    from bokeh.document import Document

    from perfsim.runners.explorer import Context, Session

    pn.extension("tabulator")
    base = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    ctx = Context(base=base, dataset=dataset, out=Path("/tmp/perfsim-bench-explore"), background=False)
    session = Session(ctx)
    session.layout.get_root(Document())          # the models a served page holds
    return session, base


def timed_changes(session, repeat: int) -> list[float]:
    times = []
    values = [5.0, 6.0, 7.0, 8.0, 9.0, 4.0]
    for i in range(repeat):
        t0 = time.perf_counter()
        session.points["leader"].value = values[i % len(values)]
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--factor", type=int, default=10, help="unit counts times this for the large city")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from bench_uncertainty import scaled_world

    worst_ok = True
    for k, dataset in ((1, perfsim.bundled_dataset()), (args.factor, scaled_world(args.factor))):
        session, base = session_for(dataset)
        perfsim.score(base, dataset)
        score_times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            perfsim.score(base, dataset)
            score_times.append((time.perf_counter() - t0) * 1000)
        changes = timed_changes(session, args.repeat)
        ms, baseline = statistics.median(changes), statistics.median(score_times)
        target = TARGETS_MS.get(k, 1000.0)
        ok = ms <= target
        worst_ok &= ok
        print(f"{len(dataset.units):5d} units: change {ms:7.1f} ms (median of {args.repeat}; max {max(changes):.1f}), "
              f"baseline perfsim.score {baseline:6.1f} ms, ratio {ms / baseline:4.1f} x; target {target:.0f} ms "
              f"-> {'OK' if ok else 'OVER'}")
    print("all targets met" if worst_ok else "a target is not met")


if __name__ == "__main__":
    main()
