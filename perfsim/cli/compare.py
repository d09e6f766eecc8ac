"""``perfsim compare``: rank shifts of a scenario against a base scheme (one module per command:
:func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.paths import DEFAULT_SEED
from . import options
from .common import bounded_zero, data_options, load_file, open_data, publish_result

NAME = "compare"
HELP = "rank shifts of a scenario against a base scheme"
EXAMPLE = "perfsim compare params/baseline.yaml params/scenarios/leader5_proportional.yaml --out outputs/cmp"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", help="base scheme or scenario file")
    p.add_argument("scenario", help="scenario file compared with the base")
    data_options(p)
    p.add_argument("--out", default="outputs/compare", help="folder for rank_shifts.csv, summary.csv, run.json")
    p.add_argument("--top", type=options.top, default=5, help="how many movers up and down to print")
    p.add_argument("--worlds", type=bounded_zero, default=0,
                   help="also judge validity over this many plausible synthetic worlds (0: not at all)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed of the worlds")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of findings.md and the headline")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.comparison import analysis
    from ..report.text import findings_markdown

    result = analysis(load_file(args.base), open_data(args), year=args.year, seed=args.seed,
                      scenario=load_file(args.scenario), worlds=args.worlds, top=args.top)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(result.tables["summary"].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print("\nbiggest movers (shift < 0 is a move up):")
        print(result.tables["movers"][["category", "unit_id", "name", "rank_base", "rank_scenario", "shift",
                                       "total_base", "total_scenario", "grade_base", "grade_scenario"]]
              .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    found = dict(result.facts)
    extra = {"findings.md": findings_markdown(found, args.lang)}
    publish_result(result, args, NAME, extra=extra, year=args.year, worlds=args.worlds, seed=args.seed)
    return 0
