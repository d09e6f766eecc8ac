"""``perfsim diagnose``: one page per unit: every target, rank over time, gaps, deductions, levers
(绩效诊断) (one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.errors import PerfsimError
from . import options
from .common import lang_option, publish_result, data_options, load_file, open_data

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
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    from ..analyses.diagnosis import analysis, diagnosis_of, diagnosis_text
    from ..report.diagnosis_page import unit_links, unit_pages

    resolved = load_file(args.scheme)
    result = analysis(resolved, open_data(args), year=args.year, period=args.period)
    known = set(result.tables["units"]["unit_id"])
    unknown = [u for u in args.unit if u not in known]
    if unknown:
        raise PerfsimError(f"--unit {unknown[0]!r} is not a unit of the data")
    labels = dict(resolved.scheme.category_labels)
    d = diagnosis_of(result)
    for unit in args.unit or list(d.units["unit_id"])[: args.top]:
        print(diagnosis_text(d, unit, args.lang, labels))
    publish_result(result, args, NAME, writer=unit_pages(result, resolved.name, args.unit or None, labels),
                   more_html=unit_links(result, args.unit or None, labels), page_name="index.html",
                   year=args.year, period=args.period, units=args.unit)
    return 0
