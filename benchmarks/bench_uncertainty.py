"""Monte Carlo speed: perfsim's vectorised draws against loops and a bare numpy bound.

Measured in one run, on the same weight draws (weights vary at every level of the tree):
  * perfsim Monte Carlo (monte_carlo: draws in chunks through the tree, ranks within
    category, rank histograms, grades, SMAA) on the bundled world: 108 units x 45 leaf indicators;
  * a scikit-criteria weighted-sum loop (one DecisionMatrix evaluation per draw) on the
    same leaf scores with each draw's flattened leaf weights;
  * perfsim's own one-draw-at-a-time evaluation (the same code called with one draw);
  * a bare numpy bound: one matmul of flattened weights with the leaf scores plus argsort;
  * 10,000 weight draws on COINr's ASEM example.
Targets (issue 6): >= 300x faster than the scikit-criteria loop; within 3x of the bare
numpy bound; 100,000 draws within 2 s and 1 GB; 10,000 ASEM draws within 1 s.

Scale (issue 11): the whole analysis of ``perfsim uncertainty --draws 2000`` (compile,
Monte Carlo with SMAA confidence factors, Sobol indices, stability intervals) on synthetic
cities of 108, 540 and 1,080 units (every unit count of params/synth.yaml times 1, 5
and 10, so categories grow too); the cost per unit-draw must not grow with size, and
1,080 units must take at most 10 s.

Timings on a shared machine move by tens of per cent from run to run, so each timed
variant (the Monte Carlo, the bound, the core, ASEM) runs ``--repeat`` times, interleaved,
and the best time of each is used; the ratios compare like with like. Memory is traced
on a separate run that starts with perfsim's scratch arrays freed, so they count.

    python benchmarks/bench_uncertainty.py [--draws 100000] [--loop 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

import perfsim
from perfsim.sources.real import asem_dataset
from perfsim.uncertainty.robustness import monte_carlo
from perfsim.core.scheme import UncertaintySpec
from perfsim.uncertainty.model import compile_model
from perfsim.uncertainty.montecarlo import evaluate, ranks, release_scratch, sample_inputs

ROOT = Path(__file__).resolve().parents[1]
ALL_LEVELS = UncertaintySpec(weights=[{"level": 0, "spread": 0.2}, {"level": 1, "spread": 0.3},
                                      {"level": 2, "spread": 0.3}], chunk=10_000)


def flat_leaf_weights(model, weights: dict) -> np.ndarray:
    """Each draw's weight of every leaf as the product of normalised shares on its path."""
    d = next(iter(weights.values())).shape[0]
    share = {0: np.ones(d)}
    for i, points in model.extras:                         # extra components: their own points
        share[i] = np.full(d, points / model.root_points)
    for pos in reversed(range(len(model.nodes))):          # top-down
        node = model.nodes[pos]
        w = weights.get(pos, np.broadcast_to(node.weights, (d, len(node.weights))))
        w = w / w.sum(axis=1, keepdims=True)
        for j, c in enumerate(node.children):
            share[c] = share[node.index] * w[:, j]
    return np.stack([share[i] for i in model.tree.leaves], axis=1)


def scaled_world(k: int):
    """The synthetic city with every unit count multiplied by k (validated in memory)."""
    import copy

    from perfsim.core.contract import validate_frames
    from perfsim.sources.synth import generate_world, synth_params

    p = synth_params()
    units = copy.deepcopy(p["units"])
    units["central_districts"] *= k
    units["outer_districts"] *= k
    for spec in units["department_categories"].values():
        spec["count"] *= k
    p["units"] = units
    return validate_frames(generate_world(1, p), origin=f"<synthetic x{k}>")


def scale(draws: int = 2000, factors=(1, 5, 10)) -> None:
    """Time the uncertainty command's analysis at growing numbers of units."""
    from perfsim.uncertainty.robustness import sobol_indices, stability_intervals

    scheme = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    spec = scheme.scheme.uncertainty
    base = None
    print(f"scale: the analysis of `perfsim uncertainty --draws {draws}` (compile, Monte Carlo + SMAA, "
          "Sobol n=256, stability)")
    for k in factors:
        data = scaled_world(k)
        t0 = time.perf_counter()
        model = compile_model(scheme, data, spec)
        t1 = time.perf_counter()
        monte_carlo(model, draws=draws, seed=1)
        t2 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sobol_indices(model, n=256, seed=1)
        t3 = time.perf_counter()
        stability_intervals(model)
        t4 = time.perf_counter()
        total = t4 - t0
        per = total / (model.n * draws) * 1e9
        base = base or per
        print(f"  {model.n:5d} units: {total:6.2f} s (compile {t1 - t0:.2f}, Monte Carlo {t2 - t1:.2f}, "
              f"Sobol {t3 - t2:.2f}, stability {t4 - t3:.2f}); {per:6.1f} ns per unit-draw = "
              f"{per / base:4.2f}x the smallest" + ("  (target <= 10 s)" if model.n >= 1000 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--loop", type=int, default=300, help="draws for the per-draw loops")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timed runs")
    parser.add_argument("--scale-only", action="store_true", help="only the scale measurements")
    args = parser.parse_args()
    scale()
    if args.scale_only:
        return
    scheme = perfsim.load_scenario(ROOT / "params" / "baseline.yaml")
    data = perfsim.bundled_dataset()
    model = compile_model(scheme, data, ALL_LEVELS)
    n, L = model.n, len(model.tree.leaves)

    release_scratch()
    tracemalloc.start()
    monte_carlo(model, draws=args.draws, seed=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rng = np.random.default_rng(2)
    weights, _, _ = sample_inputs(model, rng, args.loop)
    flat = flat_leaf_weights(model, weights)
    S = model.scores[0][:, list(model.tree.leaves)] * model.present[:, list(model.tree.leaves)]

    t0 = time.perf_counter()
    for d in range(args.loop):
        one = {k: v[d:d + 1] for k, v in weights.items()}
        ranks(evaluate(model, one, {}), model.groups)
    own_loop = (time.perf_counter() - t0) / args.loop

    try:
        import skcriteria as skc
        from skcriteria.agg.simple import WeightedSumModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dm = skc.mkdm(S + 1e-9, [max] * L, weights=np.ones(L))
            ws = WeightedSumModel()
            t0 = time.perf_counter()
            for d in range(args.loop):
                ws.evaluate(dm.replace(weights=flat[d]))
            skc_loop = (time.perf_counter() - t0) / args.loop
    except ImportError:
        skc_loop = float("nan")
        print("scikit-criteria is not installed (pip install 'perfsim[bench]'): its loop is skipped")

    big = np.repeat(flat, -(-args.draws // args.loop), axis=0)[:args.draws]

    def full() -> None:
        monte_carlo(model, draws=args.draws, seed=1)

    def bound() -> None:
        for start in range(0, args.draws, 10_000):
            np.argsort(big[start:start + 10_000] @ S.T, axis=1)

    def core() -> None:
        """The part of a Monte Carlo draw that the bound also does: totals through the tree + ranks."""
        core_rng = np.random.default_rng(4)
        for start in range(0, args.draws, 10_000):
            w_chunk, _, _ = sample_inputs(model, core_rng, min(10_000, args.draws - start))
            ranks(evaluate(model, w_chunk, {}), model.groups)

    asem = asem_dataset()
    asem_scheme = perfsim.load_scenario(ROOT / "params" / "real" / "asem.yaml")
    asem_spec = asem_scheme.scheme.uncertainty
    asem_model = compile_model(asem_scheme, asem, asem_spec)

    def asem_run() -> None:
        monte_carlo(asem_model, draws=10_000, seed=3)

    asem_run()                                                    # warm up (builds its plan)
    runs = {"mc": full, "bound": bound, "core": core, "asem": asem_run}
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, f in runs.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
    mc, bare, core_time, asem_time = best["mc"], best["bound"], best["core"], best["asem"]

    per = mc / args.draws
    print(f"world: {n} units x {L} indicators, {len(model.weight_names)} uncertain weights at 3 levels")
    print(f"perfsim Monte Carlo      : {args.draws} draws in {mc:.2f} s = {per * 1e6:8.2f} us/draw "
          f"(peak traced {peak / 2**20:.0f} MiB, process max RSS {rss:.0f} MiB)")
    print(f"perfsim one draw at a time: {own_loop * 1e6:8.2f} us/draw  -> vectorised is "
          f"{own_loop / per:6.1f}x faster")
    print(f"scikit-criteria loop     : {skc_loop * 1e6:8.2f} us/draw  -> vectorised is "
          f"{skc_loop / per:6.1f}x faster (target >= 300x)")
    print(f"bare numpy matmul+argsort: {bare / args.draws * 1e6:8.2f} us/draw  -> perfsim is "
          f"{mc / bare:5.2f}x the bound (target <= 3x)")
    print(f"  of which draws + tree + ranks: {core_time / args.draws * 1e6:8.2f} us/draw -> "
          f"{core_time / bare:5.2f}x the bound (the rest: rank histograms, grades, SMAA sums)")
    print(f"100,000-draw target: {mc * 100_000 / args.draws:.2f} s (<= 2 s), peak {peak / 2**20:.0f} MiB (<= 1024)")
    print(f"(best of {args.repeat} runs each; the bound's own run-to-run spread is part of the ratio)")
    print(f"ASEM ({asem_model.n} units, {len(asem_model.tree.leaves)} indicators): 10,000 draws in "
          f"{asem_time:.2f} s (target <= 1 s)")


if __name__ == "__main__":
    main()
