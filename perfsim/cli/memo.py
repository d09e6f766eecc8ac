"""``perfsim memo``: the policy-reserve memo (政策储备报告) in Word: the options, their effect on validity as
probabilities with the deciding assumptions, who gains and who loses, grade changes, what data would
settle it, method and provenance (one module per command: :func:`configure` adds its options,
:func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import DEFAULT_SEED
from ..core import VERSION as __version__
from . import options
from .common import encoding_option, load_file, open_data, origin

NAME = "memo"
HELP = ("the policy-reserve memo (政策储备报告) in Word: the options, their effect on validity as "
        "probabilities with the deciding assumptions, who gains and who loses, grade changes, what data would "
        "settle it, method and provenance")
EXAMPLE = "perfsim memo params/baseline.yaml params/scenarios/leader5_*.yaml --out outputs/memo.docx"
#: what --out names: a folder, a file, or (synth) either
OUT = 'file'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", help="base scheme")
    p.add_argument("scenarios", nargs="+", help="the options compared with the base")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx (default: the bundled SYNTHETIC world)")
    encoding_option(p)
    p.add_argument("--year", type=options.year, default=None, help="year to score (default: the latest)")
    p.add_argument("--reference", default="outputs/reference",
                   help="reference table of perfsim reference (the verdicts on validity)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the memo")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--out", required=True, help="the Word file to write (.docx)")


def run(args: argparse.Namespace) -> int:
    import tempfile

    import pandas as pd

    from ..analyses.inference import load_reference, scheme_hash
    from ..analyses.reserve import check_numbers, policy_reserve
    from ..core.files import check_file_target
    from ..report.plotting import verdict_figure
    from ..report.word import write_memo

    out = check_file_target(args.out)
    if out.suffix.lower() != ".docx":
        raise PerfsimError(f"--out {args.out}: a Word file ends in .docx")
    base = load_file(args.base)
    scenarios = [load_file(s) for s in args.scenarios]
    dataset = open_data(args)
    reference = load_reference(args.reference)
    if reference is None:
        warnings.warn(f"no reference table in {args.reference}: the memo gives no verdict on validity (build one with "
                      f"perfsim reference --out {args.reference})", PerfsimWarning, stacklevel=1)
    memo = policy_reserve(base, scenarios, dataset, args.year, reference, seed=args.seed)
    if not args.data:                    # the reader sees what the data are, not a machine's path
        memo["data"] = "内置合成数据（SYNTHETIC，非真实城市）" if args.lang == "zh" else "the bundled SYNTHETIC world"
    else:
        memo["data"] = Path(args.data).name
    for o in memo["options"]:
        if o["why_no_verdict"] and reference is not None:
            warnings.warn(f"{o['scenario']}: no verdict on validity ({o['why_no_verdict']})", PerfsimWarning,
                          stacklevel=1)
    problems = check_numbers(memo)
    if problems:
        raise PerfsimError("the memo's numbers do not add up: " + "; ".join(problems))
    provenance = {"perfsim": __version__, "data": origin(args.data), "data hash (sha256)": dataset.content_hash()[:16],
                  "seed": args.seed,
                  "schemes": ", ".join(f"{r.name} {scheme_hash(r)}" for r in [base, *scenarios]),
                  "reference table": (f"{args.reference} (key {reference[1].get('key')}, {len(reference[0])} worlds)"
                                      if reference is not None else "none")}
    with tempfile.TemporaryDirectory() as tmp:
        figure = None
        if memo["verdicts"]:
            ledger = pd.DataFrame([r for o in memo["options"] for r in o.get("ledger", [])])
            fig = verdict_figure(pd.DataFrame(memo["verdicts"]), ledger, f"{origin(args.data)}")
            figure = Path(tmp) / "verdicts.png"
            fig.savefig(figure, dpi=130)
        write_memo(memo, out, args.lang, figure, provenance, base.scheme.category_labels or {})
    kind = memo["recommendation"]["kind"]
    print(f"wrote the policy-reserve memo ({args.lang}) for {len(scenarios)} option(s) against '{base.name}' to {out}; "
          f"recommendation: {kind}")
    return 0
