"""``perfsim audit``: data availability, outliers and correlations of a dataset (with a scheme: per
level) (one module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from . import options
from .common import data_options, lang_option, load_file, open_data, origin, publish_result

NAME = "audit"
HELP = "data availability, outliers and correlations of a dataset (with a scheme: per level)"
EXAMPLE = "perfsim audit params/baseline.yaml --data my_city/ --out outputs/audit"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", nargs="?", default=None, help="scheme or scenario file (optional)")
    data_options(p)
    p.add_argument("--out", default="outputs/audit", help="folder for audit.html, the tables and figures")
    p.add_argument("--threshold", type=options.correlation, default=0.9,
                   help="report pairs of indicators with |r| at or above this")
    p.add_argument("--max-share", type=options.share, default=0.25,
                   help="flag an indicator that carries more than this share of a unit's points (with a scheme)")
    p.add_argument("--method", choices=("pearson", "spearman", "kendall"), default="pearson",
                   help="correlation coefficient")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    from ..analyses.audit import analysis

    resolved = load_file(args.scheme) if args.scheme else None
    result = analysis(resolved, open_data(args), year=args.year, threshold=args.threshold, method=args.method,
                      max_share=args.max_share)
    facts = result.facts
    print(f"audit of {origin(args.data)}, year {facts['year']}" + (f", scheme '{resolved.name}'" if resolved else ""))
    if facts["concentrated"]:
        print("".join(f"    {c['path']} ({c['unit_type']}): {c['max_share']:.1%}\n" for c in facts["concentrated"][:10]),
              end="")
    publish_result(result, args, NAME, year=args.year, threshold=args.threshold, method=args.method,
                   max_share=args.max_share)
    return 0
