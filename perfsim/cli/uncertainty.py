"""``perfsim uncertainty``: Monte Carlo rank bands, SMAA acceptability, Sobol indices and stability
(one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings

from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import DEFAULT_SEED
from . import options
from .common import data_options, load_file, open_data, run_facts

NAME = "uncertainty"
HELP = "Monte Carlo rank bands, SMAA acceptability, Sobol indices and stability"
EXAMPLE = "perfsim uncertainty params/baseline.yaml --draws 20000 --out outputs/robust"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scheme or scenario file (its 'uncertainty:' section is the spec)")
    data_options(p)
    p.add_argument("--draws", type=options.draws, default=10_000, help="Monte Carlo draws")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--chunk", type=options.chunk, default=None, help="draws per chunk (default: the spec's)")
    p.add_argument("--spec", default=None, help="uncertainty spec file (default: the scheme's section)")
    p.add_argument("--jobs", type=options.jobs, default=1, help="worker processes for the chunks")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/uncertainty", help="folder for the result tables")
    p.add_argument("--unit", default=None, help="a unit for the smallest-change search (with --target-rank)")
    p.add_argument("--target-rank", type=options.rank, default=None, help="the rank --unit should reach")
    p.add_argument("--sobol-n", type=options.sobol_n, default=256, help="SALib base sample size (power of two)")
    p.add_argument("--no-sobol", action="store_true", help="skip the Sobol indices")
    p.add_argument("--save-draws", action="store_true",
                   help="also write every draw's totals and weight shares (draws_*.parquet)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from ..core.files import OutputSet, check_dir_target
    from ..runners.executors import executor_for, progress_bar
    from ..uncertainty.model import compile_model, load_spec
    from ..uncertainty.robustness import monte_carlo, sobol_indices, stability_intervals

    out = check_dir_target(args.out)
    if (args.unit is None) != (args.target_rank is None):
        raise PerfsimError("--unit and --target-rank go together (the unit and the rank it should reach)")
    resolved = load_file(args.scenario)
    if args.spec:
        spec = load_spec(args.spec)
    elif resolved.scheme.uncertainty is not None:
        spec = resolved.scheme.uncertainty
    else:
        raise PerfsimError("no uncertainty spec: add an 'uncertainty' section to the scheme or "
                           "give --spec FILE", where=args.scenario)
    dataset = open_data(args)
    model = compile_model(resolved, dataset, spec, args.year)
    if args.unit is not None and args.unit not in set(model.ids):
        raise PerfsimError(f"--unit {args.unit!r} is not a unit of the dataset", where=dataset.origin)
    chunk = args.chunk or spec.chunk
    if chunk * model.n > options.MAX_CELLS:
        if args.chunk:
            raise PerfsimError(f"--chunk {args.chunk:,} x {model.n:,} units needs more than "
                               f"{options.MAX_CELLS * 8 // 10**6:,} MB a block; use --chunk "
                               f"{options.MAX_CELLS // model.n:,} or less")
        chunk = max(1, options.MAX_CELLS // model.n)
        warnings.warn(f"chunk reduced from {spec.chunk:,} to {chunk:,} draws to bound memory "
                      f"({model.n:,} units)", PerfsimWarning, stacklevel=1)
    if args.save_draws and args.draws * model.n > options.MAX_CELLS * 4:
        raise PerfsimError(f"--save-draws with {args.draws:,} draws x {model.n:,} units would hold "
                           f"{args.draws * model.n * 8 / 1e9:.1f} GB; use fewer draws")
    tasks = -(-args.draws // chunk)
    with executor_for(args.jobs, args.scheduler, tasks) as executor, \
            progress_bar(args.draws, "draws", args.progress) as bar:
        mc = monte_carlo(model, args.draws, seed=args.seed, chunk=chunk, executor=executor,
                         keep_draws=args.save_draws, progress=bar.update)
    sensitivity = None if args.no_sobol else sobol_indices(model, n=args.sobol_n, seed=args.seed)
    stability = stability_intervals(model, args.unit, args.target_rank)
    with OutputSet(out) as outputs:
        outputs.csv(mc.rank_stats, "rank_stats.csv")
        outputs.csv(mc.acceptability, "acceptability.csv")
        if sensitivity is not None:
            outputs.csv(sensitivity, "sensitivity.csv")
        outputs.csv(stability, "stability.csv")
        if args.save_draws:
            totals, shares = mc.draws_tables()
            outputs.parquet(totals, "draws_totals.parquet")
            outputs.parquet(shares, "draws_weights.parquet")
        outputs.json(run_facts("uncertainty", {"scenario": resolved}, args.data, year=args.year,
                                draws=args.draws, seed=args.seed, chunk=chunk,
                                spec=spec.model_dump(mode="json"), spec_file=args.spec,
                                sobol_n=None if args.no_sobol else args.sobol_n, unit=args.unit,
                                target_rank=args.target_rank, saved_draws=args.save_draws),
                     "run.json")
    import pandas as pd

    wide = mc.rank_stats.assign(band=mc.rank_stats["rank_q95"] - mc.rank_stats["rank_q05"])
    print(f"'{resolved.name}': {args.draws} draws (seed {args.seed}); widest 5-95% rank bands:")
    with pd.option_context("display.width", 200):
        print(wide.sort_values("band", ascending=False).head(8)[
            ["unit_id", "category", "rank_nominal", "rank_median", "rank_q05", "rank_q95"]].to_string(index=False))
    print(f"wrote {', '.join(outputs.names)} to {out}")
    return 0
