"""``perfsim track``: monthly progress, warnings, dynamic ranking and feedback (one module per command:
:func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.errors import PerfsimError
from . import options
from .common import encoding_option, load_file, open_data

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
    p.add_argument("--out", default="outputs/track", help="folder for progress.csv, ranking.csv, feedback.csv")


def run(args: argparse.Namespace) -> int:
    from ..analyses.tracking import dynamic_ranking, feedback, load_tracking, progress
    from ..core.files import OutputSet, check_dir_target

    out = check_dir_target(args.out)
    resolved = load_file(args.scenario)
    dataset = open_data(args)
    params = load_tracking(args.params)
    table = progress(dataset, args.period, params)
    if table["actual"].isna().all():
        raise PerfsimError(f"no actuals for period {args.period}", where=dataset.where("actuals"))
    ranking = dynamic_ranking(resolved, dataset, args.period, params=params)
    notes = feedback(table, dataset)
    with OutputSet(out) as outputs:
        outputs.csv(table, "progress.csv")
        outputs.csv(ranking, "ranking.csv")
        outputs.csv(notes, "feedback.csv")
    lights = table["light"].value_counts().reindex(["green", "amber", "red"], fill_value=0)
    print(f"'{resolved.name}' at {args.period}: {len(table)} unit-indicator targets; "
          f"green {lights['green']}, amber {lights['amber']}, red {lights['red']}")
    worst = notes.groupby("unit_id").size().sort_values(ascending=False).head(5)
    print("units with most indicators behind schedule: " + ", ".join(f"{u} ({k})" for u, k in worst.items()))
    print(f"wrote progress.csv, ranking.csv, feedback.csv to {out}")
    return 0
