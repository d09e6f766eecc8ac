"""``perfsim methods``: rank by TOPSIS, VIKOR and PROMETHEE II and compare with the scheme's ranking
(one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from . import options
from .common import data_options, lang_option, load_file, open_data, publish_result

NAME = "methods"
HELP = "rank by TOPSIS, VIKOR and PROMETHEE II and compare with the scheme's ranking"
EXAMPLE = "perfsim methods params/baseline.yaml --out outputs/methods"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file")
    data_options(p)
    p.add_argument("--out", default="outputs/methods",
                   help="folder for method_ranks.csv, method_summary.csv and methods.png")
    p.add_argument("--top", type=options.top, default=10, help="how many moving units to print")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.methods import analysis

    result = analysis(load_file(args.scheme), open_data(args), year=args.year, top=args.top)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(result.tables["method_summary"].pivot(index="category", columns="method", values="tau")
              .to_string(float_format=lambda v: f"{v:.3f}"))
        print("units that move most:")
        print(result.tables["biggest_moves"].to_string(index=False, float_format=lambda v: f"{v:.0f}"))
    publish_result(result, args, NAME, year=args.year)
    return 0
