"""``perfsim moments``: a dataset's own moments (what its tables say about the assumptions of a
verdict), with bootstrap standard errors (one module per command: :func:`configure` adds its
options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.paths import DEFAULT_SEED
from . import options
from .common import data_years_options, lang_option, load_file, open_data, publish_result

NAME = "moments"
HELP = ("a dataset's own moments (what its tables say about the assumptions of a verdict), "
        "with bootstrap standard errors")
EXAMPLE = "perfsim moments params/baseline.yaml --data my_city/ --year all --out outputs/moments"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", nargs="?", default="params/baseline.yaml",
                   help="scheme the data are scored under (default: params/baseline.yaml)")
    data_years_options(p)
    p.add_argument("--boot", type=options.bounded_int(0, 10_000), default=200,
                   help="bootstrap replicates over units for the standard errors (0: none)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed of the bootstrap")
    p.add_argument("--out", default="outputs/moments", help="folder for moments.html, moments.csv, moments.png and run.json")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.moments import analysis

    result = analysis(load_file(args.scheme), open_data(args), year=args.year, boot=args.boot, seed=args.seed)
    table = result.tables["moments"]
    shown = table.assign(value=table["value"].map(lambda v: "" if pd.isna(v) else f"{v:.4g}"),
                         se=table["se"].map(lambda v: "" if pd.isna(v) else f"{v:.2g}"))
    print(shown[["moment", "value", "se", "years"]].to_string(index=False))
    publish_result(result, args, NAME, year=args.year, boot=args.boot, seed=args.seed)
    return 0
