"""``perfsim reference``: a reference table of synthetic worlds drawn from the priors: settings,
moments, and each scenario's effect on validity (cached; extended when asked for more worlds) (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from .common import reference_options, reference_table

NAME = "reference"
HELP = ("a reference table of synthetic worlds drawn from the priors: settings, moments, "
        "and each scenario's effect on validity (cached; extended when asked for more worlds)")
EXAMPLE = "perfsim reference --worlds 10000 --jobs 2 --out outputs/reference"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    reference_options(p, worlds=10_000)
    p.add_argument("--out", default="outputs/reference", help="folder for reference.parquet and reference.json")


def run(args: argparse.Namespace) -> int:
    from ..core.files import check_dir_target

    out = check_dir_target(args.out)
    table, facts = reference_table(args, out, args.worlds)
    print(f"{len(table)} worlds x (base + {len(facts['scenarios'])} scenarios) in {out}/reference.parquet "
          f"(key {facts['key']}); use it with perfsim calibrate --reference {out}")
    return 0
