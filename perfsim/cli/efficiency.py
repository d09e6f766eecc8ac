"""``perfsim efficiency``: frontier efficiency (DEA, CCR and BCC) and cost per point with intervals
(one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.paths import DEFAULT_SEED
from . import options
from .common import data_options, lang_option, load_file, open_data, publish_result

NAME = "efficiency"
HELP = "frontier efficiency (DEA, CCR and BCC) and cost per point with intervals"
EXAMPLE = "perfsim efficiency params/baseline.yaml --out outputs/efficiency"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file")
    data_options(p)
    p.add_argument("--outputs", default="",
                   help="comma-separated DEA outputs: volumes of work indicator:ID (e.g. indicator:E01,indicator:E06); "
                        "scores (total, a component) only with a warning; none: the cost per point alone")
    p.add_argument("--draws", type=options.bounded_int(0, 100_000), default=2000,
                   help="uncertainty draws for the cost-per-point intervals (0: none)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="seed of the draws")
    p.add_argument("--out", default="outputs/efficiency", help="folder for efficiency.csv, cost.csv, disclosure.csv")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.efficiency import analysis

    outputs = [c.strip() for c in args.outputs.split(",") if c.strip()]
    result = analysis(load_file(args.scheme), open_data(args), year=args.year, seed=args.seed, outputs=outputs,
                      draws=args.draws)
    eff = result.tables.get("efficiency")
    if eff is not None:
        summary = eff.groupby("category").agg(units=("unit_id", "size"), efficient=("efficient", "sum"),
                                              ccr_median=("ccr", "median"), scale_median=("scale", "median"))
        with pd.option_context("display.unicode.east_asian_width", True, "display.width", 160):
            print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    publish_result(result, args, NAME, year=args.year, outputs=outputs, draws=args.draws, seed=args.seed)
    return 0
