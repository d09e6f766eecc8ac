"""``perfsim score``: score every unit under a scheme or scenario and print the ranked tables (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.errors import PerfsimError
from . import options
from .common import run_facts, data_years_options, format_ranked, load_file, open_data, origin

NAME = "score"
HELP = "score every unit under a scheme or scenario and print the ranked tables"
EXAMPLE = "perfsim score params/baseline.yaml --year all --out outputs/scores/scores.csv"
#: what --out names: a folder, a file, or (synth) either
OUT = 'file'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scheme or scenario YAML file")
    data_years_options(p)
    p.add_argument("--period", type=options.period, default=None,
                   help="YYYY-MM: score that assessment period (year-to-date actuals against the targets expected "
                        "by then) instead of the year")
    p.add_argument("--out", default=None,
                   help="write the result table to this CSV file, with missing.csv (every missing actual and "
                        "the rule applied) beside it; with --year all also panel.csv and persistence.csv "
                        "(default: print only)")
    p.add_argument("--quiet", action="store_true", help="do not print the ranked tables")


def run(args: argparse.Namespace) -> int:
    from ..analyses.panel import panel
    from ..core.engine import component_columns, score_detail
    from ..core.files import OutputSet, check_file_target

    out = check_file_target(args.out) if args.out is not None else None
    resolved = load_file(args.scenario)
    dataset = open_data(args)
    if args.period is not None:                # one assessment period: the data as they stood then
        from ..core.periods import parse_period, period_dataset

        if args.year == "all":
            raise PerfsimError("--period scores one month: give it without --year all")
        year, _ = parse_period(args.period)
        if args.year is not None and args.year != year:
            raise PerfsimError(f"--period {args.period} is in {year}, not in --year {args.year}")
        if not (dataset.actuals["period"] == args.period).any():
            raise PerfsimError(f"--period {args.period}: the data have no actuals for that month",
                               where=dataset.where("actuals"))
        dataset = period_dataset(dataset, args.period)
        args.year = year
        plain = resolved.scheme.model_copy(update={"assessment": None})
        resolved = resolved.__class__(scheme=plain, path=resolved.path, diffs=resolved.diffs, raw=resolved.raw)
    if args.year == "all":
        result = panel(resolved, dataset)
        table, missing, treated = result.scores, result.missing, result.treated
        if not args.quiet:
            print(f"scheme '{resolved.name}' on {origin(args.data)}, years {', '.join(map(str, result.years))}")
            for year, part in table.groupby("year", sort=True):
                print(f"\n#### {year}")
                print(format_ranked(part, component_columns(resolved)))
            print(_format_persistence(result.persistence))
    else:
        detail = score_detail(resolved, dataset, args.year)
        table, missing, treated = detail.table, detail.missing, detail.treated
        if not args.quiet:
            print(f"scheme '{resolved.name}' on {origin(args.data)}, year {detail.year}")
            print(format_ranked(table, component_columns(resolved)))
    if missing is not None and len(missing):
        from ..core.engine import missing_summary

        print(f"missing actuals: {len(missing)} cell(s): {missing_summary(missing)}")
    if out is not None:
        with OutputSet(out.parent) as outputs:
            outputs.csv(table, out.name)
            outputs.csv(missing, "missing.csv")
            if treated is not None and len(treated):
                outputs.csv(treated, "treated.csv")
            if args.year == "all":
                outputs.csv(result.wide, "panel.csv")
                outputs.csv(result.persistence, "persistence.csv")
            outputs.json(run_facts("score", {"scenario": resolved}, args.data, year=args.year, period=args.period),
                         f"{out.stem}.run.json")
        print(f"wrote {out}" + (", missing.csv" if missing is not None else "")
              + (", panel.csv, persistence.csv" if args.year == "all" else "") + f", {out.stem}.run.json in {out.parent}")
    return 0

def _format_persistence(persistence) -> str:
    if persistence.empty:
        return "rank persistence: one year only"
    lines = ["rank persistence (Kendall tau of ranks between consecutive years, per category):"]
    for row in persistence.itertuples():
        tau = "n/a" if row.tau != row.tau else f"{row.tau:+.2f}"
        lines.append(f"  {row.category}: {row.year_from} -> {row.year_to}: tau {tau} ({row.units} units)")
    return "\n".join(lines)
