"""``perfsim consequences``: the accountability ladder and awards under one or more schemes (结果运用) (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from .common import data_options, lang_option, load_file, open_data, publish_result

NAME = "consequences"
HELP = "the accountability ladder and awards under one or more schemes (结果运用)"
EXAMPLE = "perfsim consequences params/baseline.yaml params/scenarios/leader5_proportional.yaml --out outputs/cons"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", help="schemes or scenarios; the first is the reference for changes")
    p.add_argument("--rules", default=None, help="the ladder's rules (default: params/consequences.yaml)")
    data_options(p)
    p.add_argument("--out", default="outputs/consequences", help="folder for consequences.csv, steps.csv, changes.csv")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.consequences import analysis

    schemes = [load_file(path) for path in args.scenarios]
    result = analysis(schemes[0], open_data(args), year=args.year, scenarios=schemes[1:], rules=args.rules)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print("units reaching each step of the ladder as their highest:")
        print(result.tables["steps"].to_string(index=False))
    publish_result(result, args, NAME, year=args.year, rules=args.rules)
    return 0
