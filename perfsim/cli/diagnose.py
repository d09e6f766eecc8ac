"""``perfsim diagnose``: one page per unit: every target, rank over time, gaps, deductions, levers
(绩效诊断) (one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.errors import PerfsimError
from . import options
from .common import data_options, load_file, open_data

NAME = "diagnose"
HELP = "one page per unit: every target, rank over time, gaps, deductions, levers (绩效诊断)"
EXAMPLE = "perfsim diagnose params/baseline.yaml --out outputs/diagnosis"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file")
    data_options(p)
    p.add_argument("--period", type=options.period, default=None,
                   help="YYYY-MM: progress against the expected path at this month (default: December of the year)")
    p.add_argument("--unit", action="append", default=[], help="only this unit's page (repeat for several)")
    p.add_argument("--top", type=options.top, default=3, help="how many units' diagnoses to print")
    p.add_argument("--out", default="outputs/diagnosis", help="folder for index.html, units/ and the tables")


def run(args: argparse.Namespace) -> int:
    from ..analyses.diagnosis import diagnose, diagnosis_text
    from ..report.diagnosis_page import write_diagnosis

    resolved = load_file(args.scheme)
    dataset = open_data(args)
    result = diagnose(resolved, dataset, args.year, args.period)
    known = set(result.units["unit_id"])
    unknown = [u for u in args.unit if u not in known]
    if unknown:
        raise PerfsimError(f"--unit {unknown[0]!r} is not a unit of the data")
    write_diagnosis(result, args.out, resolved.name, args.unit or None)
    for unit in args.unit or list(result.units["unit_id"])[: args.top]:
        print(diagnosis_text(result, unit))
    print(f"wrote {args.out}/index.html, one page per unit under {args.out}/units/, the tables and diagnosis.xlsx")
    return 0
