"""``perfsim raters``: rater leniency, compression (平衡分) and candidate favours (人情分) from the ratings
(one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from . import options
from .common import data_options, lang_option, open_data, publish_result

NAME = "raters"
HELP = "rater leniency, compression (平衡分) and candidate favours (人情分) from the ratings"
EXAMPLE = "perfsim raters --data data/synthetic --out outputs/raters"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    data_options(p)
    p.add_argument("--source", choices=("leader_ratings", "satisfaction"), default="leader_ratings",
                   help="which rating table: city leaders, or the satisfaction survey's respondent groups")
    p.add_argument("--alpha", type=options.probability, default=0.1,
                   help="false-discovery rate (Benjamini-Hochberg) for flagging raters and rater-unit pairs")
    p.add_argument("--out", default="outputs/raters", help="folder for raters.html and its tables")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.raters import analysis

    result = analysis(None, open_data(args), year=args.year, source=args.source, alpha=args.alpha)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(result.tables["raters"].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    publish_result(result, args, NAME, year=args.year, source=args.source, alpha=args.alpha)
    return 0
