"""``perfsim ensemble``: effects of scenarios against a base over many plausible synthetic worlds (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import PerfsimError
from ..core.paths import DEFAULT_SEED
from . import options
from .common import load_file, run_facts, scenario_names

NAME = "ensemble"
HELP = "effects of scenarios against a base over many plausible synthetic worlds"
EXAMPLE = "perfsim ensemble params/baseline.yaml params/scenarios/*.yaml --worlds 50 --out outputs/ensemble"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", help="base scheme")
    p.add_argument("scenarios", nargs="+", help="scenario files compared with the base")
    p.add_argument("--worlds", type=options.worlds, default=200, help="plausible worlds")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--plausible", default=None, help="knob vectors to draw worlds from (default: params/plausible.csv)")
    p.add_argument("--posterior", default=None,
                   help="draw worlds from this posterior (posterior.csv of perfsim calibrate --data/--reference)")
    p.add_argument("--ranges", default=None,
                   help="instead, draw knobs uniformly within the knob ranges of this calibration targets file")
    p.add_argument("--params", default=None, help="the other knobs (default: params/synth.yaml)")
    p.add_argument("--jobs", type=options.jobs, default=2, help="local worker processes")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/ensemble", help="folder for per_world.csv, effects.csv, run.json")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from ..analyses import calibration as cal
    from ..core.contract import validate_frames
    from ..core.engine import check_fit
    from ..sources.synth import generate_arrays, world_tables
    from ..analyses.ensemble import ensemble, ensemble_effects
    from ..core.files import OutputSet, check_dir_target
    from ..core.paths import PARAMS_DIR
    from ..runners.executors import executor_for, progress_bar
    from ..sources.synth import DEFAULT_PARAMS, synth_params

    out = check_dir_target(args.out)
    base = load_file(args.base)
    scenarios = [load_file(s) for s in args.scenarios]
    params = synth_params(Path(args.params) if args.params else DEFAULT_PARAMS)
    if args.ranges:
        from ..analyses.inference import Prior

        prior = Prior.of(cal.load_setup(args.ranges, params))
        rng = pd.DataFrame(np.random.default_rng([args.seed, 5]).uniform(
            prior.bounds[:, 0], prior.bounds[:, 1], size=(args.worlds, len(prior.names))), columns=list(prior.names))
        source, plausible = f"the knob and prior ranges of {args.ranges}", rng.assign(weight=1.0)
    else:
        from ..sources.readers import read_table

        path = Path(args.posterior or args.plausible or PARAMS_DIR / "plausible.csv")
        plausible = read_table(path)
        for column in plausible.columns:
            if column != "weight":
                try:
                    cal.get_knob(params, column)
                except (KeyError, TypeError):
                    raise PerfsimError(f"column '{column}' is not a knob of the generator", where=path) from None
        source = str(path)
    knob_sets = cal.knob_draws(plausible, params, args.worlds, args.seed)
    names = scenario_names(scenarios)
    # every scheme must fit a synthetic world (checked once, on the first world's tables)
    probe = validate_frames(world_tables(generate_arrays(0, knob_sets[0], years=1)), origin="<synthetic world>")
    for r in [base, *scenarios]:
        check_fit(r, probe)
    with executor_for(args.jobs, args.scheduler, -(-args.worlds // 10)) as executor, \
            progress_bar(args.worlds, "worlds", args.progress) as bar:
        per_world = ensemble(base, dict(zip(names, scenarios)), knob_sets, args.seed, executor,
                             progress=bar.update)
    table = ensemble_effects(per_world, names)
    with OutputSet(out) as outputs:
        outputs.csv(per_world, "per_world.csv")
        outputs.csv(table, "effects.csv")
        outputs.json(run_facts("ensemble", {"base": base, **dict(zip(names, scenarios))}, None,
                                worlds=args.worlds, seed=args.seed, knobs_from=source,
                                params=args.params or str(DEFAULT_PARAMS)), "run.json")
    tau = table[table["metric"] == "delta_tau_truth"]
    print(f"{args.worlds} plausible SYNTHETIC worlds (knobs from {source}); change of Kendall tau to the truth, "
          "scenario minus base, median [90 % interval]:")
    for row in tau.itertuples():
        print(f"  {row.scenario}: {row.median:+.4f} [{row.q05:+.4f}, {row.q95:+.4f}] -> {row.verdict}")
    print(f"wrote per_world.csv, effects.csv and run.json to {out}")
    return 0
