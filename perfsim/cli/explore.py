"""``perfsim explore``: the live scenario explorer in the browser (one module per command:
:func:`configure` adds the options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.paths import DEFAULT_SEED
from . import options

NAME = "explore"
HELP = ("a live scenario explorer in the browser: move the points and levers, see who moves, how sure "
        "the verdict is, and save the setting as a scenario")
EXAMPLE = "perfsim explore params/baseline.yaml --port 5006"
#: what --out names
OUT = "folder"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", nargs="?", default=None, help="the base scheme (default: params/baseline.yaml)")
    p.add_argument("--data", default=None,
                   help="dataset folder of CSV files or one .xlsx workbook (default: the bundled SYNTHETIC world)")
    p.add_argument("--year", type=options.year, default=None, help="year to score (default: the latest in the data)")
    p.add_argument("--reference", default="outputs/reference",
                   help="reference table of perfsim reference, for the verdicts on validity")
    p.add_argument("--out", default="outputs/explore", help="folder the saved scenarios go to (OUT/scenarios)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (only this machine unless told otherwise)")
    p.add_argument("--port", type=options.port, default=5006, help="port to listen on")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed of the background work")


def run(args: argparse.Namespace) -> int:
    from ..runners.explorer import context, serve

    ctx = context(args.scheme, args.data, out=args.out, reference=args.reference, year=args.year, seed=args.seed)
    serve(ctx, host=args.host, port=args.port, show_address=lambda text: print(text, flush=True))
    return 0
