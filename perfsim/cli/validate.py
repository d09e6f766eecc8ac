"""``perfsim validate``: check a scheme or scenario (and, with --data, that it fits a dataset) (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings

from ..core.errors import PerfsimWarning
from . import options
from .common import encoding_option, load_file, open_data, print_missing

NAME = "validate"
HELP = "check a scheme or scenario (and, with --data, that it fits a dataset)"
EXAMPLE = "perfsim validate params/scenarios/leader5_proportional.yaml --data my_city/"
#: what --out names: a folder, a file, or (synth) either
OUT = None


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="scheme or scenario YAML file")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx to check against (default: none)")
    p.add_argument("--year", type=options.year, default=None, help="year to check (default: the latest)")
    encoding_option(p)


def run(args: argparse.Namespace) -> int:
    from ..core.engine import check_fit, score_detail

    resolved = load_file(args.file)
    kind = "scenario" if resolved.diffs else "scheme"
    print(f"{args.file}: valid {kind} '{resolved.name}'"
          + (f" (base chain: {' <- '.join(d['base'] for d in resolved.diffs)})" if resolved.diffs else ""))
    if args.data is not None:
        dataset = open_data(args)
        year = check_fit(resolved, dataset, args.year)
        print(f"{args.data}: fits the {kind} for year {year} ({len(dataset.units)} units)")
        for table, columns in dataset.defaults.items():
            print(f"  {table}: no column(s) {', '.join(columns)}; defaults used (see README, data contract)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            missing = score_detail(resolved, dataset, year).missing
        print_missing(missing, limit=20)
    return 0
