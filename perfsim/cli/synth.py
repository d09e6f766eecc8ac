"""``perfsim synth``: write the SYNTHETIC world (a folder of CSV files or one .xlsx workbook) (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.paths import DEFAULT_SEED
from . import options

NAME = "synth"
HELP = "write the SYNTHETIC world (a folder of CSV files or one .xlsx workbook)"
EXAMPLE = "perfsim synth --out my_world --seed 7"
#: what --out names: a folder, a file, or (synth) either
OUT = 'synth'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (with --format xlsx: workbook, .xlsx added)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--params", default=None, help="generator knob file (default: params/synth.yaml)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format")


def run(args: argparse.Namespace) -> int:
    from ..sources import synth

    out = synth.write(args.out, args.seed, args.params, fmt=args.format)
    print(f"wrote a SYNTHETIC dataset (seed {args.seed}) to {out}")
    return 0
