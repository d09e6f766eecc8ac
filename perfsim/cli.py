"""Command line: ``perfsim synth | validate | score``.

Every bad input ends in one line ``perfsim: error: <where>: <what>`` on stderr and exit
code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import __version__
from .errors import PerfsimError
from .report import save_parquet, write_run

EXIT_BAD_INPUT = 2


def _dataset(path: str | None):
    from .data import load_dataset
    from .world import bundled_dataset

    return bundled_dataset() if path is None else load_dataset(path)


def write_csv_atomic(frame: pd.DataFrame, out: Path) -> None:
    """Write CSV through a temporary file and a rename, so a reader never sees half a file."""
    from .report import atomic_write_text

    atomic_write_text(Path(out), frame.to_csv(index=False, lineterminator="\n"))


def format_ranked(table: pd.DataFrame, components: Sequence[str]) -> str:
    """A readable ranked table per category."""
    lines = []
    show = ["rank", "unit_id", "name", "total", "grade", *components, "bonus", "deduction"]
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200,
                           "display.max_rows", 1000, "display.max_columns", 50):
        for category, group in table.groupby("category", sort=True):
            frame = group[show].copy()
            frame["veto"] = group["veto"].map({True: "VETO", False: ""})
            lines.append(f"== {category} ({len(group)} units) ==")
            lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
            lines.append("")
    return "\n".join(lines)


def cmd_synth(args: argparse.Namespace) -> int:
    from . import synth

    out = synth.write(args.out, args.seed, args.params, fmt=args.format)
    print(f"wrote a SYNTHETIC dataset (seed {args.seed}) to {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .engine import check_fit
    from .scheme import load

    resolved = load(args.file)
    kind = "scenario" if resolved.diffs else "scheme"
    print(f"{args.file}: valid {kind} '{resolved.name}'"
          + (f" (base chain: {' <- '.join(d['base'] for d in resolved.diffs)})" if resolved.diffs else ""))
    if args.data is not None:
        dataset = _dataset(args.data)
        year = check_fit(resolved, dataset, args.year)
        print(f"{args.data}: fits the {kind} for year {year} ({len(dataset.units)} units)")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from .engine import component_columns, score
    from .scheme import load

    resolved = load(args.scenario)
    dataset = _dataset(args.data)
    table = score(resolved, dataset, args.year)
    if not args.quiet:
        origin = "bundled synthetic world" if args.data is None else args.data
        print(f"scheme '{resolved.name}' on {origin}")
        print(format_ranked(table, component_columns(resolved)))
    if args.out is not None:
        write_csv_atomic(table, Path(args.out))
        print(f"wrote {args.out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import biggest_movers, rank_shifts, summarise
    from .engine import score
    from .scheme import load

    base, scenario = load(args.base), load(args.scenario)
    dataset = _dataset(args.data)
    shifts = rank_shifts(score(base, dataset, args.year), score(scenario, dataset, args.year))
    summary = summarise(shifts)
    out = Path(args.out)
    write_csv_atomic(shifts, out / "rank_shifts.csv")
    write_csv_atomic(summary, out / "summary.csv")
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(f"'{scenario.name}' against '{base.name}' ({len(shifts)} units)")
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        movers = biggest_movers(shifts, args.top)
        print("\nbiggest movers (shift < 0 is a move up):")
        print(movers[["category", "unit_id", "name", "rank_base", "rank_scenario", "shift",
                      "total_base", "total_scenario", "grade_base", "grade_scenario"]]
              .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    write_run(out, "compare", {"base": base, "scenario": scenario}, args.data, year=args.year)
    print(f"wrote {out / 'rank_shifts.csv'}, {out / 'summary.csv'} and {out / 'run.json'}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import DEFAULT_SEED, default_scenarios, run_batch, summary_table

    scenarios = args.scenarios or default_scenarios()
    manifest = run_batch(scenarios, args.notebook or None, out=args.out, name=args.name,
                         jobs=args.jobs, scheduler=args.scheduler, data=args.data, year=args.year,
                         seed=args.seed if args.seed is not None else DEFAULT_SEED,
                         force=args.force, progress=not args.no_progress)
    print(summary_table(manifest))
    index = Path(args.out) / args.name / "index.html"
    print(f"open {index}")
    failed = sum(1 for j in manifest["jobs"] if j["status"] == "failed")
    return 1 if failed else 0


def cmd_uncertainty(args: argparse.Namespace) -> int:
    import warnings

    from .robustness import monte_carlo, sobol_indices, stability_intervals
    from .scheme import load
    from .uncertainty import compile_model, load_spec

    resolved = load(args.scenario)
    if args.spec:
        spec = load_spec(args.spec)
    elif resolved.scheme.uncertainty is not None:
        spec = resolved.scheme.uncertainty
    else:
        raise PerfsimError("no uncertainty spec: add an 'uncertainty' section to the scheme or "
                           "give --spec FILE", where=args.scenario)
    dataset = _dataset(args.data)
    model = compile_model(resolved, dataset, spec, args.year)
    executor, client = None, None
    if args.scheduler:
        from .batch import executor_for

        executor, client = executor_for(args.jobs, args.scheduler)
    elif args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=args.jobs)
    try:
        mc = monte_carlo(resolved, dataset, spec, args.draws, seed=args.seed,
                         chunk=args.chunk, executor=executor, model=model, keep_draws=args.save_draws)
    finally:
        if executor is not None:
            executor.shutdown()
        if client is not None:
            client.close()
    out = Path(args.out)
    write_csv_atomic(mc.rank_stats, out / "rank_stats.csv")
    write_csv_atomic(mc.acceptability, out / "acceptability.csv")
    if args.save_draws:
        totals, shares = mc.draws_tables()
        save_parquet(totals, out / "draws_totals.parquet")
        save_parquet(shares, out / "draws_weights.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not args.no_sobol:
            write_csv_atomic(sobol_indices(model, spec, n=args.sobol_n, seed=args.seed), out / "sensitivity.csv")
        write_csv_atomic(stability_intervals(model, args.unit, args.target_rank), out / "stability.csv")
    write_run(out, "uncertainty", {"scenario": resolved}, args.data, year=args.year, draws=args.draws,
              seed=args.seed, chunk=args.chunk or spec.chunk, spec=spec.model_dump(mode="json"),
              spec_file=args.spec, sobol_n=None if args.no_sobol else args.sobol_n,
              unit=args.unit, target_rank=args.target_rank, saved_draws=args.save_draws)
    wide = mc.rank_stats.assign(band=mc.rank_stats["rank_q95"] - mc.rank_stats["rank_q05"])
    print(f"'{resolved.name}': {args.draws} draws (seed {args.seed}); widest 5-95% rank bands:")
    with pd.option_context("display.width", 200):
        print(wide.sort_values("band", ascending=False).head(8)[
            ["unit_id", "category", "rank_nominal", "rank_median", "rank_q05", "rank_q95"]].to_string(index=False))
    print(f"wrote rank_stats.csv, acceptability.csv, {'' if args.no_sobol else 'sensitivity.csv, '}"
          f"stability.csv, {'draws_totals.parquet, draws_weights.parquet, ' if args.save_draws else ''}"
          f"and run.json to {out}")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from .scheme import load
    from .tracking import dynamic_ranking, feedback, load_tracking, progress

    resolved = load(args.scenario)
    dataset = _dataset(args.data)
    params = load_tracking(args.params)
    table = progress(dataset, args.period, params)
    if table["actual"].isna().all():
        raise PerfsimError(f"no actuals for period {args.period}", where=dataset.where("actuals"))
    ranking = dynamic_ranking(resolved, dataset, args.period, params=params)
    notes = feedback(table, dataset)
    out = Path(args.out)
    write_csv_atomic(table, out / "progress.csv")
    write_csv_atomic(ranking, out / "ranking.csv")
    write_csv_atomic(notes, out / "feedback.csv")
    lights = table["light"].value_counts().reindex(["green", "amber", "red"], fill_value=0)
    print(f"'{resolved.name}' at {args.period}: {len(table)} unit-indicator targets; "
          f"green {lights['green']}, amber {lights['amber']}, red {lights['red']}")
    worst = notes.groupby("unit_id").size().sort_values(ascending=False).head(5)
    print("units with most indicators behind schedule: " + ", ".join(f"{u} ({k})" for u, k in worst.items()))
    print(f"wrote progress.csv, ranking.csv, feedback.csv to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"perfsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the synthetic world (a folder of CSV or one .xlsx)")
    p.add_argument("--out", required=True, help="output folder (or .xlsx file with --format xlsx)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--params", default=None, help="knob file (default params/synth.yaml)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("validate", help="check a scheme or scenario (and that it fits a dataset)")
    p.add_argument("file")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx to check against")
    p.add_argument("--year", type=int, default=None)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("score", help="score every unit under a scheme or scenario")
    p.add_argument("scenario")
    p.add_argument("--data", default=None,
                   help="dataset folder or .xlsx (default: the bundled synthetic world)")
    p.add_argument("--year", type=int, default=None, help="default: the latest year in the data")
    p.add_argument("--out", default=None, help="write the result table to this CSV file")
    p.add_argument("--quiet", action="store_true", help="do not print the ranked tables")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("compare", help="rank shifts of a scenario against a base scheme")
    p.add_argument("base")
    p.add_argument("scenario")
    p.add_argument("--data", default=None,
                   help="dataset folder or .xlsx (default: the bundled synthetic world)")
    p.add_argument("--year", type=int, default=None)
    p.add_argument("--out", default="outputs/compare", help="folder for rank_shifts.csv and summary.csv")
    p.add_argument("--top", type=int, default=5, help="how many movers up and down to print")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("batch", help="run scenarios through notebooks (parallel, cached, resumable)")
    p.add_argument("scenarios", nargs="*",
                   help="scheme or scenario files (default: params/baseline.yaml and params/scenarios/)")
    p.add_argument("--notebook", action="append", default=[],
                   help="a notebook to run (repeatable; default: notebooks/*.ipynb but the 00_ template)")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a Dask distributed scheduler")
    p.add_argument("--out", default="outputs")
    p.add_argument("--name", default="default", help="batch name: results go to OUT/NAME/")
    p.add_argument("--data", default=None)
    p.add_argument("--year", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--force", action="store_true", help="rerun jobs even when cached")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("uncertainty", help="Monte Carlo rank bands, SMAA, Sobol and stability")
    p.add_argument("scenario")
    p.add_argument("--data", default=None)
    p.add_argument("--year", type=int, default=None)
    p.add_argument("--draws", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=None, help="draws per chunk (default: the spec's)")
    p.add_argument("--spec", default=None, help="uncertainty spec file (default: the scheme's section)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the chunks")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/uncertainty")
    p.add_argument("--unit", default=None, help="a unit for the smallest-change search")
    p.add_argument("--target-rank", type=int, default=None)
    p.add_argument("--sobol-n", type=int, default=256, help="SALib base sample size")
    p.add_argument("--save-draws", action="store_true",
                   help="also write every draw's totals and weight shares (draws_*.parquet)")
    p.add_argument("--no-sobol", action="store_true")
    p.set_defaults(func=cmd_uncertainty)

    p = sub.add_parser("track", help="monthly progress, warnings, dynamic ranking and feedback")
    p.add_argument("scenario")
    p.add_argument("--period", required=True, help="YYYY-MM")
    p.add_argument("--data", default=None)
    p.add_argument("--params", default=None, help="tracking knobs (default params/tracking.yaml)")
    p.add_argument("--out", default="outputs/track")
    p.set_defaults(func=cmd_track)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PerfsimError as exc:
        print("perfsim: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:          # output piped into `head` and the like
        return 0
    except OSError as exc:
        print(f"perfsim: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
