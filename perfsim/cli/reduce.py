"""``perfsim reduce``: find a small indicator set whose ranking stays close to the full one (少而精) (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings

from ..core.errors import PerfsimWarning
from . import options
from .common import data_options, load_file, open_data

NAME = "reduce"
HELP = "find a small indicator set whose ranking stays close to the full one (少而精)"
EXAMPLE = "perfsim reduce params/baseline.yaml --min-tau 0.95 --out params/scenarios/reduced.yaml"
#: what --out names: a folder, a file, or (synth) either
OUT = 'file'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file")
    data_options(p)
    p.add_argument("--min-tau", type=options.correlation, default=0.95,
                   help="lowest Kendall tau to the full ranking allowed in any category")
    p.add_argument("--name", default=None, help="name of the scenario written (default: SCHEME_reduced)")
    p.add_argument("--out", required=True, help="the scenario YAML file to write")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from ..analyses.influence import category_taus, indicator_leaves, reduce, reduction_text
    from ..core.engine import score_arrays
    from ..core.files import atomic_write_text, check_file_target
    from ..core.scheme import load_scenario
    from ..runners.executors import progress_bar

    out = check_file_target(args.out)
    resolved = load_file(args.scheme)
    dataset = open_data(args)
    total = len(indicator_leaves(resolved))
    with progress_bar(total, "steps", args.progress) as bar:
        result = reduce(resolved, dataset, args.min_tau, args.year, progress=bar.update)
    atomic_write_text(out, reduction_text(resolved, result, out, args.name))
    reduced = load_scenario(out)                       # the scenario written validates and scores
    from ..core.engine import resolve_year

    year = resolve_year(dataset, args.year)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfsimWarning)
        full, small = score_arrays(resolved.scheme, dataset, year), score_arrays(reduced.scheme, dataset, year)
    taus = category_taus(full.rank, small.rank, full.inputs.groups)
    print(f"kept {len(result.kept)} of {total} indicators; Kendall tau to the full ranking per category: "
          f"min {min(taus):.3f}, mean {taus.mean():.3f} (threshold {args.min_tau:g})")
    if len(result.steps):
        print("dropped in order: " + ", ".join(p.rsplit(".", 1)[1] for p in result.dropped))
    print(f"wrote {out}: a scenario over {args.scheme}")
    return 0
