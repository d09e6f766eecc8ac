"""``perfsim batch``: run scenarios through notebooks (parallel, cached, resumable) (one module per
command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.paths import DEFAULT_SEED
from . import options
from .common import data_options

NAME = "batch"
HELP = "run scenarios through notebooks (parallel, cached, resumable)"
EXAMPLE = "perfsim batch params/scenarios/levers/*.yaml --name levers --jobs 2"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="*",
                   help="scheme or scenario files (default: params/baseline.yaml and params/scenarios/*.yaml)")
    p.add_argument("--notebook", action="append", default=[],
                   help="a notebook to run (repeatable; default: notebooks/*.ipynb except the 00_ template)")
    p.add_argument("--jobs", type=options.jobs, default=2, help="local worker processes")
    p.add_argument("--scheduler", type=options.scheduler, default=None,
                   help="tcp://HOST:PORT of a Dask distributed scheduler (instead of local workers)")
    p.add_argument("--out", default="outputs", help="results go to OUT/NAME/")
    p.add_argument("--name", type=options.batch_name, default="default", help="batch name (a folder name)")
    data_options(p)
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="seed passed to every notebook")
    p.add_argument("--timeout", type=options.timeout, default=1800,
                   help="seconds a job may run (and a cell may run) before it is stopped and recorded as failed")
    p.add_argument("--force", action="store_true", help="rerun jobs even when cached")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="language of the report (index.html): Chinese with English in parentheses, or English")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from ..runners.batch import default_scenarios, run_batch, summary_table

    scenarios = args.scenarios or default_scenarios()
    manifest = run_batch(scenarios, args.notebook or None, out=args.out, name=args.name,
                         jobs=args.jobs, scheduler=args.scheduler, data=args.data, year=args.year,
                         seed=args.seed, force=args.force, progress=args.progress,
                         timeout=args.timeout, lang=args.lang)
    print(summary_table(manifest))
    print(f"open {Path(args.out) / args.name / 'index.html'}")
    failed = sum(1 for j in manifest["jobs"] if j["status"] == "failed")
    return 1 if failed else 0
