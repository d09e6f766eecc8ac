"""``perfsim influence``: drop each indicator in turn: rank changes, nominal weight and real influence
(one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from . import options
from .common import data_options, lang_option, load_file, open_data, publish_result

NAME = "influence"
HELP = "drop each indicator in turn: rank changes, nominal weight and real influence"
EXAMPLE = "perfsim influence params/baseline.yaml --out outputs/influence"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file")
    data_options(p)
    p.add_argument("--out", default="outputs/influence", help="folder for influence.html, influence.csv, influence.png and run.json")
    p.add_argument("--top", type=options.top, default=10, help="how many indicators to print")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.influence import analysis, indicator_leaves
    from ..runners.executors import progress_bar

    resolved = load_file(args.scheme)
    dataset = open_data(args)
    with progress_bar(len(indicator_leaves(resolved)), "indicators", args.progress) as bar:
        result = analysis(resolved, dataset, year=args.year, progress=bar.update)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(result.tables["influence"].head(args.top).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    publish_result(result, args, NAME, year=args.year)
    return 0
