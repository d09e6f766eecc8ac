"""``perfsim weights``: derive a node's children weights (objective, AHP, optimised) as a scenario (one
module per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse

from ..core.errors import PerfsimError
from .common import data_options, load_file, open_data

NAME = "weights"
HELP = "derive a node's children weights (objective, AHP, optimised) as a scenario"
EXAMPLE = "perfsim weights params/baseline.yaml --node tree.targets --method entropy --out params/scenarios/w.yaml"
#: what --out names: a folder, a file, or (synth) either
OUT = 'file'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scheme", help="scheme or scenario file the weights apply to")
    p.add_argument("--node", required=True, help="the node whose children are weighed, e.g. tree.targets")
    p.add_argument("--method", required=True,
                   choices=("equal", "entropy", "critic", "std", "merec", "pca", "ahp", "optimise"),
                   help="how the weights are found")
    p.add_argument("--pairwise", action="append", default=[],
                   help="ahp: a CSV pairwise comparison matrix of one expert (repeat for several)")
    p.add_argument("--allow-inconsistent", action="store_true",
                   help="ahp: accept a consistency ratio above 0.1")
    p.add_argument("--target", default=None,
                   help="optimise: YAML of target shares per child (default: equal shares)")
    p.add_argument("--name", default=None, help="name of the scenario written (default: SCHEME_METHOD_NODE)")
    data_options(p)
    p.add_argument("--out", required=True, help="the scenario YAML file to write")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.weights import derive, scenario_text
    from ..core.files import atomic_write_text, check_file_target
    from ..core.yamlio import load_yaml

    out = check_file_target(args.out)
    resolved = load_file(args.scheme)
    dataset = open_data(args) if args.method not in ("ahp",) else None
    targets = None
    if args.target is not None:
        raw = load_yaml(args.target)
        targets = {str(k): v for k, v in raw.items()}
        bad = [k for k, v in targets.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
        if bad:
            raise PerfsimError(f"key '{bad[0]}': a target share is a number", where=args.target)
    derived = derive(resolved, dataset, args.node, args.method, args.year, args.pairwise, targets,
                     args.allow_inconsistent)
    text = scenario_text(resolved, derived, out, args.name)
    from ..core.scheme import load_scenario

    atomic_write_text(out, text)
    try:
        load_scenario(out)                   # the scenario written validates
    except PerfsimError:
        out.unlink()
        raise
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 160):
        print(f"{args.method} weights for the children of {args.node} ({derived.note})")
        print(derived.table(resolved.scheme).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {out}: a scenario over {args.scheme}; e.g. perfsim compare {args.scheme} {out}")
    return 0
