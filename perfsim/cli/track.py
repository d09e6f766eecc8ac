"""``perfsim track``: monthly progress, warnings, dynamic ranking and feedback (one module per command:
:func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from . import options
from .common import lang_option, publish_result, encoding_option, load_file, open_data

NAME = "track"
HELP = "monthly progress, warnings, dynamic ranking and feedback"
EXAMPLE = "perfsim track params/baseline.yaml --period 2025-06 --out outputs/track"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scheme or scenario file")
    p.add_argument("--period", type=options.period, required=True, help="the month, YYYY-MM")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx (default: the bundled SYNTHETIC world)")
    encoding_option(p)
    p.add_argument("--params", default=None, help="tracking knobs (default: params/tracking.yaml)")
    p.add_argument("--out", default="outputs/track",
                   help="folder for track.html, progress.csv, ranking.csv, feedback.csv, lights.png and run.json")
    lang_option(p)


def run(args: argparse.Namespace) -> int:
    from ..analyses.tracking import analysis, load_tracking

    result = analysis(load_file(args.scenario), open_data(args), period=args.period,
                      params=load_tracking(args.params))
    publish_result(result, args, NAME, period=args.period, params=args.params)
    return 0
