"""What the commands share: loading a scheme and the data, provenance, shared options and the
reference table (used by ``reference``, ``calibrate`` and others)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Sequence

from ..core.errors import PerfsimError, PerfsimWarning
from ..core.paths import DEFAULT_SEED
from . import options

#: warnings seen by this command (recorded in run.json)
SEEN: list[str] = []

bounded_zero = options.bounded_int(0, 100_000)


def load_file(path: str):
    from ..core.scheme import load_scenario

    return load_scenario(path)


def format_ranked(table, components: Sequence[str]) -> str:
    """A readable ranked table per category."""
    import pandas as pd

    lines = []
    show = ["rank", "unit_id", "name", "total", "grade", *components, "bonus", "deduction"]
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200,
                           "display.max_rows", 1000, "display.max_columns", 50):
        for category, group in table.groupby("category", sort=True):
            frame = group[show].copy()
            frame["veto"] = group["veto"].map({True: "VETO", False: ""})
            lines.append(f"== {category} ({len(group)} units) ==")
            lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
            lines.append("")
    return "\n".join(lines)


def open_data(args: argparse.Namespace):
    """The dataset named by ``--data`` (and read with ``--encoding``)."""
    from ..sources.world import open_dataset

    return open_dataset(args.data, getattr(args, "encoding", None))


def origin(data: str | None) -> str:
    return "the bundled SYNTHETIC world" if not data else str(data)


def run_facts(command: str, scenarios: dict, data: str | None, **facts) -> dict:
    from ..report.provenance import run_facts
    from ..sources.world import data_path, is_bundled

    return run_facts(command, scenarios, data_path(data), is_bundled(data), warnings=list(SEEN), **facts)


def print_missing(missing, limit: int) -> None:
    """Each missing actual and the rule applied (the first ``limit`` of them)."""
    import pandas as pd

    from ..core.engine import missing_summary

    if missing is None or missing.empty:
        print("  missing actuals: none")
        return
    print(f"  missing actuals: {len(missing)} ({missing_summary(missing)})")
    shown = missing.head(limit)[["unit_id", "indicator_id", "path", "rule", "value", "score", "note"]]
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print("    " + shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3g}")
              .replace("\n", "\n    "))
    if len(missing) > limit:
        print(f"    ... and {len(missing) - limit} more")


def scenario_names(resolved: list) -> list[str]:
    names: list[str] = []
    for r in resolved:
        name = r.name
        while name in names:
            name += "_"
        names.append(name)
    return names


def reference_inputs(args: argparse.Namespace):
    """(base, {name: scenario}, generator knobs, prior, setup) of a reference table."""
    from ..analyses import calibration as cal
    from ..analyses.inference import DEFAULT_SCENARIOS, Prior
    from ..core.paths import PARAMS_DIR
    from ..sources.synth import DEFAULT_PARAMS, synth_params

    params = synth_params(Path(args.params) if args.params else DEFAULT_PARAMS)
    setup = cal.load_setup(args.targets or PARAMS_DIR / "calibration.yaml", params)
    base = load_file(args.base) if getattr(args, "base", None) else setup.scheme
    paths = args.scenarios or [str(PARAMS_DIR / p) for p in DEFAULT_SCENARIOS]
    scenarios = [load_file(p) for p in paths]
    return base, dict(zip(scenario_names(scenarios), scenarios)), params, Prior.of(setup), setup


def reference_table(args: argparse.Namespace, folder: Path, worlds: int, build: bool = True):
    """The reference table in ``folder``: read when its key matches (extended to ``worlds`` when
    it has fewer and ``build``), else built. Returns (table, facts)."""
    import json

    import pandas as pd

    from ..analyses.ensemble import fits_synthetic
    from ..analyses.inference import build_reference, reference_key, scheme_hash
    from ..core.files import OutputSet
    from ..runners.executors import executor_for, progress_bar

    base, scenarios, params, prior, setup = reference_inputs(args)
    key = reference_key(params, prior, base, scenarios, args.seed)
    table, facts = None, {}
    meta = folder / "reference.json"
    if meta.is_file() and (folder / "reference.parquet").is_file():
        facts = json.loads(meta.read_text(encoding="utf-8"))
        if facts.get("key") == key:
            table = pd.read_parquet(folder / "reference.parquet")
        elif not build:
            raise PerfsimError(f"the reference table in {folder} was built for other knobs, priors, schemes or "
                               f"seed (key {facts.get('key')}, these give {key}); rebuild it with perfsim reference")
    if table is None and not build:
        raise PerfsimError(f"no reference table in {folder}: build one with `perfsim reference --out {folder}` "
                           "(about 10 minutes for 10,000 worlds on 2 cores)")
    have = 0 if table is None else len(table)
    if have >= worlds:
        print(f"reference table in {folder}: {have} worlds, key {key} (cached; {worlds} asked)")
        return table, facts
    if table is None:
        why = fits_synthetic(base, *scenarios.values())
        if why:
            raise PerfsimError(f"the schemes cannot score the synthetic world: {why}")
    print(f"building the reference table: worlds {have} to {worlds - 1} (key {key}), "
          f"{len(prior.names)} settings drawn from their prior ranges, {len(scenarios)} scenario(s)")
    with executor_for(args.jobs, args.scheduler, -(-(worlds - have) // 25)) as executor, \
            progress_bar(worlds - have, "worlds", args.progress) as bar:
        new = build_reference(base, scenarios, params, prior, worlds, args.seed, start=have, executor=executor,
                              progress=bar.update)
    table = new if table is None else pd.concat([table, new], ignore_index=True)
    failed = int((table["error"].fillna("") != "").sum())
    if failed:
        warnings.warn(f"{failed} of {len(table)} drawn settings gave no valid world (recorded in the table's "
                      "'error' column; left out of every inference)", PerfsimWarning, stacklevel=1)
    facts = {"key": key, "worlds": len(table), "seed": args.seed, "base": base.name,
             "scenarios": list(scenarios), "prior": {n: list(b) for n, b in zip(prior.names, prior.bounds.tolist())},
             "targets": setup.where, "failed": failed,
             "labels": {n: lab for n, lab in zip(prior.names, prior.labels) if lab},
             "scheme_hashes": {"base": scheme_hash(base), **{k: scheme_hash(v) for k, v in scenarios.items()}}}
    with OutputSet(folder) as outputs:
        outputs.parquet(table, "reference.parquet")
        outputs.json(facts, "reference.json")
        outputs.json(run_facts("reference", {"base": base, **scenarios}, None,
                                **{k: v for k, v in facts.items() if k != "scenarios"}), "run.json")
    return table, facts


def reference_options(p: argparse.ArgumentParser, worlds: int) -> None:
    p.add_argument("base", nargs="?", default=None, help="base scheme (default: the targets' scheme)")
    p.add_argument("--scenarios", nargs="+", default=None,
                   help="scenarios of interest (default: the leader-rating set and rank conversion)")
    p.add_argument("--worlds", type=options.worlds, default=worlds, help="worlds in the table")
    p.add_argument("--targets", default=None, help="knob and prior ranges (default: params/calibration.yaml)")
    p.add_argument("--params", default=None, help="the generator's other settings (default: params/synth.yaml)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--jobs", type=options.jobs, default=2, help="local worker processes")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="dataset folder of CSV files or one .xlsx workbook (default: the bundled SYNTHETIC world)")
    p.add_argument("--year", type=options.year, default=None, help="year to score (default: the latest in the data)")
    encoding_option(p)


def data_years_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="dataset folder of CSV files or one .xlsx workbook (default: the bundled SYNTHETIC world)")
    p.add_argument("--year", type=options.year_or_all, default=None,
                   help="year to score, or 'all' for every year with a panel (default: the latest in the data)")
    encoding_option(p)


def encoding_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoding", type=options.encoding, default=None,
                   help="text encoding of the CSV files, e.g. gbk (default: detected, UTF-8 or GB18030)")


def lang_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="language the page opens in (the other is on its switch) and of the printed summary")


def progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")


def publish_result(result, args: argparse.Namespace, command: str, extra: dict[str, str] | None = None,
                   writer=None, more_html: str = "", page_name: str | None = None, **settings) -> list[Path]:
    """Publish an analysis's Result into ``args.out`` with the command's provenance (the
    scenarios it read, the data and its hash, ``settings``, the warnings seen), print its
    text in ``args.lang`` and say what was written; ``extra`` adds text files (name: text)."""
    from ..report.publish import publish
    from ..sources.world import is_bundled

    lang = getattr(args, "lang", "zh")
    data = getattr(args, "data", None)
    meta = {"数据 data": "内置合成数据 the bundled SYNTHETIC world" if is_bundled(data) else Path(str(data)).name}
    for role, scheme in result.scenarios.items():
        meta[f"方案 {role}"] = scheme.name
    if getattr(args, "year", None) is not None:
        meta["年度 year"] = str(args.year)
    def more(outputs) -> None:
        for name, text in (extra or {}).items():
            outputs.text(text, name)
        if writer is not None:
            writer(outputs)

    written = publish(result, args.out, run_facts(command, dict(result.scenarios), data, **settings), meta, lang,
                      page_name=page_name, extra=more, more_html=more_html)
    print(result.text(lang))
    shown = [p.relative_to(args.out).as_posix() for p in written]
    more_files = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
    print(f"wrote {', '.join(shown[:12])}{more_files} to {args.out}")
    return written
