"""Command line: ``perfsim synth | validate | score | import | audit | weights | influence | reduce | methods | raters | efficiency | consequences | diagnose | moments | compare | batch | uncertainty | track | reference | calibrate | ensemble | memo | explore``.

Every bad input ends in one line ``perfsim: error: <where>: <what>`` on stderr and exit
code 2, with no traceback; Ctrl-C ends in ``perfsim: interrupted`` and exit code 130.
A command writes all its output files or none. Warnings (a unit without data, a
fallback) are printed as ``perfsim: warning: ...`` and recorded in ``run.json``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Sequence

from ..core import VERSION as __version__
from ..core.errors import PerfsimError, PerfsimErrors, PerfsimWarning
from ..core.paths import DEFAULT_SEED
from . import options

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
#: warnings seen by this command (recorded in run.json)
SEEN: list[str] = []


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, PerfsimWarning):
        text = " ".join(str(message).split())
        SEEN.append(text)
        print(f"perfsim: warning: {text}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _load(path: str):
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


def _dataset(args: argparse.Namespace):
    """The dataset named by ``--data`` (and read with ``--encoding``)."""
    from ..sources.world import open_dataset

    return open_dataset(args.data, getattr(args, "encoding", None))


def _origin(data: str | None) -> str:
    return "the bundled SYNTHETIC world" if not data else str(data)


def _run_facts(command: str, scenarios: dict, data: str | None, **facts) -> dict:
    from ..report.provenance import run_facts
    from ..sources.world import data_path, is_bundled

    return run_facts(command, scenarios, data_path(data), is_bundled(data), warnings=list(SEEN), **facts)


# --------------------------------------------------------------------------- commands

def cmd_synth(args: argparse.Namespace) -> int:
    from ..sources import synth

    out = synth.write(args.out, args.seed, args.params, fmt=args.format)
    print(f"wrote a SYNTHETIC dataset (seed {args.seed}) to {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..core.engine import check_fit, score_detail

    resolved = _load(args.file)
    kind = "scenario" if resolved.diffs else "scheme"
    print(f"{args.file}: valid {kind} '{resolved.name}'"
          + (f" (base chain: {' <- '.join(d['base'] for d in resolved.diffs)})" if resolved.diffs else ""))
    if args.data is not None:
        dataset = _dataset(args)
        year = check_fit(resolved, dataset, args.year)
        print(f"{args.data}: fits the {kind} for year {year} ({len(dataset.units)} units)")
        for table, columns in dataset.defaults.items():
            print(f"  {table}: no column(s) {', '.join(columns)}; defaults used (see README, data contract)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerfsimWarning)
            missing = score_detail(resolved, dataset, year).missing
        _print_missing(missing, limit=20)
    return 0


def _print_missing(missing, limit: int) -> None:
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


def cmd_score(args: argparse.Namespace) -> int:
    from ..analyses.panel import panel
    from ..core.engine import component_columns, score_detail
    from ..core.files import OutputSet, check_file_target

    out = check_file_target(args.out) if args.out is not None else None
    resolved = _load(args.scenario)
    dataset = _dataset(args)
    if args.period is not None:                # one assessment period: the data as they stood then
        from ..core.periods import parse_period, period_dataset

        if args.year == "all":
            raise PerfsimError("--period scores one month: give it without --year all")
        year, _ = parse_period(args.period)
        if args.year is not None and args.year != year:
            raise PerfsimError(f"--period {args.period} is in {year}, not in --year {args.year}")
        if not (dataset.actuals["period"] == args.period).any():
            raise PerfsimError(f"--period {args.period}: the data have no actuals for that month",
                               where=dataset.where("actuals"))
        dataset = period_dataset(dataset, args.period)
        args.year = year
        plain = resolved.scheme.model_copy(update={"assessment": None})
        resolved = resolved.__class__(scheme=plain, path=resolved.path, diffs=resolved.diffs, raw=resolved.raw)
    if args.year == "all":
        result = panel(resolved, dataset)
        table, missing, treated = result.scores, result.missing, result.treated
        if not args.quiet:
            print(f"scheme '{resolved.name}' on {_origin(args.data)}, years {', '.join(map(str, result.years))}")
            for year, part in table.groupby("year", sort=True):
                print(f"\n#### {year}")
                print(format_ranked(part, component_columns(resolved)))
            print(_format_persistence(result.persistence))
    else:
        detail = score_detail(resolved, dataset, args.year)
        table, missing, treated = detail.table, detail.missing, detail.treated
        if not args.quiet:
            print(f"scheme '{resolved.name}' on {_origin(args.data)}, year {detail.year}")
            print(format_ranked(table, component_columns(resolved)))
    if missing is not None and len(missing):
        from ..core.engine import missing_summary

        print(f"missing actuals: {len(missing)} cell(s): {missing_summary(missing)}")
    if out is not None:
        with OutputSet(out.parent) as outputs:
            outputs.csv(table, out.name)
            outputs.csv(missing, "missing.csv")
            if treated is not None and len(treated):
                outputs.csv(treated, "treated.csv")
            if args.year == "all":
                outputs.csv(result.wide, "panel.csv")
                outputs.csv(result.persistence, "persistence.csv")
        print(f"wrote {out}" + (", missing.csv" if missing is not None else "")
              + (", panel.csv, persistence.csv" if args.year == "all" else "") + f" in {out.parent}")
    return 0


def _format_persistence(persistence) -> str:
    if persistence.empty:
        return "rank persistence: one year only"
    lines = ["rank persistence (Kendall tau of ranks between consecutive years, per category):"]
    for row in persistence.itertuples():
        tau = "n/a" if row.tau != row.tau else f"{row.tau:+.2f}"
        lines.append(f"  {row.category}: {row.year_from} -> {row.year_to}: tau {tau} ({row.units} units)")
    return "\n".join(lines)


def cmd_import(args: argparse.Namespace) -> int:
    from ..sources import importer

    if args.template is not None:
        if args.source is not None or args.mapping is not None:
            raise PerfsimError("--template writes a blank workbook and its mapping; give it alone")
        book, mapping = importer.write_template(args.template)
        print(f"wrote {book} (one sheet per table: Chinese headers, an example row, drop-down lists; "
              f"a 说明 sheet listing every column) and {mapping}")
        print(f"fill it in, then: perfsim import {book} --mapping {mapping} --out my_data/")
        return 0
    if args.source is None or args.mapping is None or args.out is None:
        raise PerfsimError("perfsim import SOURCE --mapping MAP.yaml --out DIR (or --template DIR)")
    mapping = importer.load_mapping(args.mapping)
    dataset, report = importer.import_workbooks(args.source, mapping, str(args.mapping))
    importer.write_import(dataset, report, args.out, str(args.mapping))
    totals = report.totals()
    print(f"read {len(report.sheets)} sheet(s) of {len(report.sources)} workbook(s): {totals['rows']} unit rows, "
          f"{totals['values']} values; {totals['empty']} empty cell(s) and {totals['marks']} dash/无 cell(s) "
          f"give no row (where a unit is assessed, the scheme's missing rule applies); "
          f"{totals['skipped_rows']} row(s) skipped (skip:)")
    for sheet in report.sheets:
        if sheet.get("example_rows"):
            print(f"  {Path(sheet['workbook']).name}, sheet '{sheet['sheet']}': the template's example row "
                  "was skipped (untouched)")
        if sheet.get("rows_without_values"):
            shown = ", ".join(sheet["rows_without_values"][:5])
            warnings.warn(f"{sheet['workbook']}, sheet '{sheet['sheet']}': {len(sheet['rows_without_values'])} "
                          f"row(s) with a unit but no values were not read as units: {shown} (a unit with no "
                          "data at all must be listed under units.list or in a units sheet)",
                          PerfsimWarning, stacklevel=1)
    for table, frame in dataset.tables.items():
        if len(frame):
            print(f"  {table}: {len(frame)} rows")
    for table, columns in dataset.defaults.items():
        print(f"  {table}: no column(s) {', '.join(columns)}; defaults used")
    print(f"wrote the dataset to {args.out} (with import.json); next: perfsim audit SCHEME --data {args.out}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from ..analyses.audit import audit
    from ..report.audit_page import summary, write_audit

    resolved = _load(args.scheme) if args.scheme else None
    dataset = _dataset(args)
    result = audit(dataset, resolved, args.year, threshold=args.threshold, method=args.method,
                   max_share=args.max_share)
    write_audit(result, dataset, args.out, resolved.name if resolved else None, _origin(args.data))
    facts = summary(result)
    print(f"audit of {_origin(args.data)}, year {result.year}"
          + (f", scheme '{resolved.name}'" if resolved else ""))
    if facts["availability"] is not None:
        print(f"  availability: {facts['cells_with_actual']} of {facts['expected_cells']} expected actuals "
              f"({facts['availability']:.1%}); {facts['missing_cells']} missing in {facts['units_with_missing']} unit(s)")
    print(f"  outliers (|skew| > 2 and kurtosis > 3.5): {len(facts['outlier_indicators'])} indicator(s)"
          + (f": {', '.join(facts['outlier_indicators'][:10])}" if facts["outlier_indicators"] else ""))
    print(f"  pairs with |r| >= {args.threshold:g}: {facts['correlated_pairs']}")
    if resolved is not None:
        print(f"  leaves correlated negatively with a level above: {len(facts['negative_leaves'])}")
        print(f"  indicators carrying more than {args.max_share:.0%} of a unit's points: {len(facts['concentrated'])}"
              + "".join(f"\n    {c['path']} ({c['unit_type']}): {c['max_share']:.1%}" for c in facts["concentrated"][:10]))
    print(f"wrote {args.out}/audit.html and its tables")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.weights import derive, scenario_text
    from ..core.files import atomic_write_text, check_file_target
    from ..core.yamlio import load_yaml

    out = check_file_target(args.out)
    resolved = _load(args.scheme)
    dataset = _dataset(args) if args.method not in ("ahp",) else None
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


def cmd_influence(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.influence import indicator_leaves, influence
    from ..core.files import OutputSet
    from ..report.plotting import influence_figure
    from ..runners.executors import progress_bar

    resolved = _load(args.scheme)
    dataset = _dataset(args)
    with progress_bar(len(indicator_leaves(resolved)), "indicators", args.progress) as bar:
        table = influence(resolved, dataset, args.year, progress=bar.update)
    fig = influence_figure(table, resolved.name)
    with OutputSet(args.out) as outputs:
        outputs.csv(table, "influence.csv")
        fig.savefig(outputs.path("influence.png"), dpi=110)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(f"dropping each of {len(table)} indicators of '{resolved.name}' in turn (weights re-normalised):")
        print(table.head(args.top).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    low = table[table["units_moved"] == 0]
    print(f"{len(low)} indicator(s) move no unit when dropped; wrote {args.out}/influence.csv and influence.png")
    return 0


def cmd_reduce(args: argparse.Namespace) -> int:
    from ..analyses.influence import category_taus, indicator_leaves, reduce, reduction_text
    from ..core.engine import score_arrays
    from ..core.files import atomic_write_text, check_file_target
    from ..core.scheme import load_scenario
    from ..runners.executors import progress_bar

    out = check_file_target(args.out)
    resolved = _load(args.scheme)
    dataset = _dataset(args)
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


def cmd_methods(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.methods import biggest_moves, method_rankings, methods_text
    from ..core.files import OutputSet
    from ..report.plotting import methods_figure

    resolved = _load(args.scheme)
    dataset = _dataset(args)
    ranks, summary = method_rankings(resolved, dataset, args.year)
    fig = methods_figure(summary, ranks, resolved.name)
    with OutputSet(args.out) as outputs:
        outputs.csv(ranks, "method_ranks.csv")
        outputs.csv(summary, "method_summary.csv")
        fig.savefig(outputs.path("methods.png"), dpi=110)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(summary.pivot(index="category", columns="method", values="tau")
              .to_string(float_format=lambda v: f"{v:.3f}"))
        print("units that move most:")
        print(biggest_moves(ranks, args.top).to_string(index=False, float_format=lambda v: f"{v:.0f}"))
    print(methods_text(summary))
    print(f"wrote {args.out}/method_ranks.csv, method_summary.csv and methods.png")
    return 0


def cmd_raters(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.raters import raters_text, rater_model
    from ..report.raters_page import write_raters

    dataset = _dataset(args)
    fit = rater_model(dataset, args.year, args.source, args.alpha)
    write_raters(fit, args.out, _origin(args.data))
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(fit.raters.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(raters_text(fit))
    print(f"wrote {args.out}/raters.html, raters.csv, pairs.csv, units.csv and raters.png")
    return 0


def cmd_efficiency(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..analyses.efficiency import cost_per_point, disclosure, efficiency
    from ..core.files import OutputSet
    from ..report.plotting import efficiency_figure

    resolved = _load(args.scheme)
    dataset = _dataset(args)
    outputs = [c.strip() for c in args.outputs.split(",") if c.strip()]
    if not outputs and not args.draws:
        raise PerfsimError("nothing to compute: give volume outputs for DEA (--outputs indicator:ID,...) or draws "
                           "for the cost per point (--draws N)")
    eff = efficiency(resolved, dataset, args.year, outputs=outputs) if outputs else None
    cost = cost_per_point(resolved, dataset, args.draws, args.seed, args.year) if args.draws else None
    fig = efficiency_figure(eff, cost)
    with OutputSet(args.out) as files:
        if eff is not None:
            files.csv(eff, "efficiency.csv")
        if cost is not None:
            files.csv(cost, "cost.csv")
        files.csv(disclosure(eff, cost, dataset.units), "disclosure.csv")
        fig.savefig(files.path("efficiency.png"), dpi=110)
        plt.close(fig)
    written = [n for n, on in (("efficiency.csv", eff is not None), ("cost.csv", cost is not None)) if on]
    if eff is not None:
        summary = eff.groupby("category").agg(units=("unit_id", "size"), efficient=("efficient", "sum"),
                                              ccr_median=("ccr", "median"), scale_median=("scale", "median"))
        with pd.option_context("display.unicode.east_asian_width", True, "display.width", 160):
            print(f"DEA (input-oriented; inputs staff, budget, consumption; outputs {', '.join(outputs)}) per category:")
            print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
        print(f"{int(eff['efficient'].sum())} of {len(eff)} units are on their category's frontier")
    else:
        print("no DEA: a frontier needs volume outputs that grow with the work done (--outputs indicator:ID); "
              f"budget per point of the total, median {cost['cost_per_point'].median():.0f} ten-thousand yuan "
              f"(range {cost['cost_per_point'].min():.0f} to {cost['cost_per_point'].max():.0f})")
    print(f"wrote {args.out}/{', '.join(written + ['disclosure.csv'])} and efficiency.png")
    return 0


def cmd_consequences(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.consequences import RULES, compare_consequences, consequences, load_rules
    from ..analyses.tracking import load_tracking
    from ..core.files import OutputSet

    rules_path = args.rules or RULES
    rules = load_rules(rules_path)
    dataset = _dataset(args)
    knobs = load_tracking()
    staff = dataset.units["staff"]
    quota = int(round(staff.sum() * knobs["city_quota_share"])) if staff.notna().any() else None
    tables = {}
    for path in args.scenarios:
        resolved = _load(path)
        if resolved.name in tables:
            raise PerfsimError(f"two schemes are named '{resolved.name}'", where=path)
        tables[resolved.name] = consequences(resolved, dataset, rules, args.year, knobs["awards"], quota,
                                             str(rules_path))
    counts, changes = compare_consequences(tables, rules.steps)
    long = pd.concat([t.assign(scheme=name) for name, t in tables.items()], ignore_index=True)
    with OutputSet(args.out) as files:
        files.csv(long, "consequences.csv")
        files.csv(counts, "steps.csv")
        files.csv(changes, "changes.csv")
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(f"units reaching each step of the ladder ({rules_path}) as their highest:")
        print(counts.to_string(index=False))
    if len(tables) > 1:
        first = next(iter(tables))
        print(f"{len(changes)} unit-scheme pair(s) change step against '{first}'")
    print(f"wrote {args.out}/consequences.csv, steps.csv and changes.csv")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from ..analyses.diagnosis import diagnose, diagnosis_text
    from ..report.diagnosis_page import write_diagnosis

    resolved = _load(args.scheme)
    dataset = _dataset(args)
    result = diagnose(resolved, dataset, args.year, args.period)
    known = set(result.units["unit_id"])
    unknown = [u for u in args.unit if u not in known]
    if unknown:
        raise PerfsimError(f"--unit {unknown[0]!r} is not a unit of the data")
    write_diagnosis(result, args.out, resolved.name, args.unit or None)
    for unit in args.unit or list(result.units["unit_id"])[: args.top]:
        print(diagnosis_text(result, unit))
    print(f"wrote {args.out}/index.html, one page per unit under {args.out}/units/, the tables and diagnosis.xlsx")
    return 0


def cmd_moments(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.moments import data_moments
    from ..core.files import OutputSet

    resolved = _load(args.scheme)
    dataset = _dataset(args)
    table = data_moments(resolved, dataset, args.year, boot=args.boot, seed=args.seed)
    with OutputSet(args.out) as outputs:
        outputs.csv(table, "moments.csv")
        outputs.json(_run_facts("moments", {"scheme": resolved}, args.data, year=args.year, boot=args.boot,
                                seed=args.seed), "run.json")
    shown = table.assign(value=table["value"].map(lambda v: "" if pd.isna(v) else f"{v:.4g}"),
                         se=table["se"].map(lambda v: "" if pd.isna(v) else f"{v:.2g}"))
    print(f"moments of {_origin(args.data)} under '{resolved.name}' (standard errors: {args.boot} bootstrap "
          "replicates over units, within category)")
    print(shown[["moment", "value", "se", "years"]].to_string(index=False))
    absent = table[table["value"].isna()]
    if len(absent):
        warnings.warn(f"{len(absent)} moment(s) cannot be computed from these data: "
                      + "; ".join(f"{r.moment} ({r.definition.rsplit('(absent: ', 1)[-1].rstrip(')')})"
                                  for r in absent.itertuples()), PerfsimWarning, stacklevel=1)
    print(f"wrote moments.csv and run.json to {args.out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analyses.compare import biggest_movers, rank_shifts, summarise
    from ..core.engine import score
    from ..core.files import OutputSet, check_dir_target

    out = check_dir_target(args.out)
    base, scenario = _load(args.base), _load(args.scenario)
    dataset = _dataset(args)
    shifts = rank_shifts(score(base, dataset, args.year), score(scenario, dataset, args.year))
    summary = summarise(shifts)
    with pd.option_context("display.unicode.east_asian_width", True, "display.width", 200):
        print(f"'{scenario.name}' against '{base.name}' ({len(shifts)} units)")
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        movers = biggest_movers(shifts, args.top)
        print("\nbiggest movers (shift < 0 is a move up):")
        print(movers[["category", "unit_id", "name", "rank_base", "rank_scenario", "shift",
                      "total_base", "total_scenario", "grade_base", "grade_scenario"]]
              .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    effects = None
    if args.worlds:
        from ..analyses.ensemble import ensemble, ensemble_effects, fits_synthetic, plausible_knobs

        why = fits_synthetic(base, scenario)
        if why:
            warnings.warn(f"validity not judged: the schemes do not fit the synthetic world ({why})",
                          PerfsimWarning, stacklevel=1)
        else:
            effects = ensemble_effects(ensemble(base, {scenario.name: scenario},
                                                plausible_knobs(args.worlds, args.seed), args.seed))
    from ..analyses.findings import findings
    from ..report.text import findings_markdown

    found = findings(base, scenario, dataset, args.year, effects, args.worlds or None)
    with OutputSet(out) as outputs:
        outputs.csv(shifts, "rank_shifts.csv")
        outputs.csv(summary, "summary.csv")
        outputs.json(found, "findings.json")
        outputs.text(findings_markdown(found, args.lang), "findings.md")
        outputs.json(_run_facts("compare", {"base": base, "scenario": scenario}, args.data,
                                year=args.year, worlds=args.worlds, seed=args.seed), "run.json")
    print("\n" + found["headline"]["zh" if args.lang == "zh" else "en"])
    print(f"wrote {', '.join(outputs.names)} to {out}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
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


def cmd_uncertainty(args: argparse.Namespace) -> int:
    from ..core.files import OutputSet, check_dir_target
    from ..runners.executors import executor_for, progress_bar
    from ..uncertainty.model import compile_model, load_spec
    from ..uncertainty.robustness import monte_carlo, sobol_indices, stability_intervals

    out = check_dir_target(args.out)
    if (args.unit is None) != (args.target_rank is None):
        raise PerfsimError("--unit and --target-rank go together (the unit and the rank it should reach)")
    resolved = _load(args.scenario)
    if args.spec:
        spec = load_spec(args.spec)
    elif resolved.scheme.uncertainty is not None:
        spec = resolved.scheme.uncertainty
    else:
        raise PerfsimError("no uncertainty spec: add an 'uncertainty' section to the scheme or "
                           "give --spec FILE", where=args.scenario)
    dataset = _dataset(args)
    model = compile_model(resolved, dataset, spec, args.year)
    if args.unit is not None and args.unit not in set(model.ids):
        raise PerfsimError(f"--unit {args.unit!r} is not a unit of the dataset", where=dataset.origin)
    chunk = args.chunk or spec.chunk
    if chunk * model.n > options.MAX_CELLS:
        if args.chunk:
            raise PerfsimError(f"--chunk {args.chunk:,} x {model.n:,} units needs more than "
                               f"{options.MAX_CELLS * 8 // 10**6:,} MB a block; use --chunk "
                               f"{options.MAX_CELLS // model.n:,} or less")
        chunk = max(1, options.MAX_CELLS // model.n)
        warnings.warn(f"chunk reduced from {spec.chunk:,} to {chunk:,} draws to bound memory "
                      f"({model.n:,} units)", PerfsimWarning, stacklevel=1)
    if args.save_draws and args.draws * model.n > options.MAX_CELLS * 4:
        raise PerfsimError(f"--save-draws with {args.draws:,} draws x {model.n:,} units would hold "
                           f"{args.draws * model.n * 8 / 1e9:.1f} GB; use fewer draws")
    tasks = -(-args.draws // chunk)
    with executor_for(args.jobs, args.scheduler, tasks) as executor, \
            progress_bar(args.draws, "draws", args.progress) as bar:
        mc = monte_carlo(model, args.draws, seed=args.seed, chunk=chunk, executor=executor,
                         keep_draws=args.save_draws, progress=bar.update)
    sensitivity = None if args.no_sobol else sobol_indices(model, n=args.sobol_n, seed=args.seed)
    stability = stability_intervals(model, args.unit, args.target_rank)
    with OutputSet(out) as outputs:
        outputs.csv(mc.rank_stats, "rank_stats.csv")
        outputs.csv(mc.acceptability, "acceptability.csv")
        if sensitivity is not None:
            outputs.csv(sensitivity, "sensitivity.csv")
        outputs.csv(stability, "stability.csv")
        if args.save_draws:
            totals, shares = mc.draws_tables()
            outputs.parquet(totals, "draws_totals.parquet")
            outputs.parquet(shares, "draws_weights.parquet")
        outputs.json(_run_facts("uncertainty", {"scenario": resolved}, args.data, year=args.year,
                                draws=args.draws, seed=args.seed, chunk=chunk,
                                spec=spec.model_dump(mode="json"), spec_file=args.spec,
                                sobol_n=None if args.no_sobol else args.sobol_n, unit=args.unit,
                                target_rank=args.target_rank, saved_draws=args.save_draws),
                     "run.json")
    import pandas as pd

    wide = mc.rank_stats.assign(band=mc.rank_stats["rank_q95"] - mc.rank_stats["rank_q05"])
    print(f"'{resolved.name}': {args.draws} draws (seed {args.seed}); widest 5-95% rank bands:")
    with pd.option_context("display.width", 200):
        print(wide.sort_values("band", ascending=False).head(8)[
            ["unit_id", "category", "rank_nominal", "rank_median", "rank_q05", "rank_q95"]].to_string(index=False))
    print(f"wrote {', '.join(outputs.names)} to {out}")
    return 0


def cmd_track(args: argparse.Namespace) -> int:
    from ..analyses.tracking import dynamic_ranking, feedback, load_tracking, progress
    from ..core.files import OutputSet, check_dir_target

    out = check_dir_target(args.out)
    resolved = _load(args.scenario)
    dataset = _dataset(args)
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


def cmd_calibrate(args: argparse.Namespace) -> int:
    import yaml

    if args.data is not None or args.reference is not None:
        return _calibrate_posterior(args)

    from ..analyses import calibration as cal
    from ..core.files import OutputSet, check_dir_target
    from ..core.paths import PARAMS_DIR
    from ..core.yamlio import load_yaml
    from ..runners.executors import executor_for, progress_bar
    from ..sources.synth import DEFAULT_PARAMS, synth_params

    out = check_dir_target(args.out)
    params_path = Path(args.params) if args.params else DEFAULT_PARAMS
    setup = cal.load_setup(args.targets or PARAMS_DIR / "calibration.yaml", synth_params(params_path))
    with progress_bar(args.budget, "fits", args.progress) as bar:
        fit = cal.calibrate(setup, args.budget, args.seed, progress=bar.update)
    with executor_for(args.jobs, args.scheduler, -(-args.candidates // 8)) as executor, \
            progress_bar(args.candidates, "worlds", args.progress) as bar:
        plausible = cal.plausible_worlds(fit, args.candidates, args.seed, executor, progress=bar.update)
    from ..core.paths import shown_path

    note = (f"perfsim calibrate: simulated method of moments against {shown_path(setup.where)} "
            f"(scipy.optimize Nelder-Mead, seed {args.seed}, budget {args.budget})")
    raw = cal.calibrated_params(fit, load_yaml(params_path), note)
    header = ("# Knobs of the SYNTHETIC world generator, calibrated by perfsim calibrate (see run.json).\n"
              "# Every knob is {value, basis, source}; basis calibrated marks a fitted knob.\n")
    update = None
    if args.write_params:
        from ..core.files import atomic_write_text, check_file_target

        update = check_file_target(args.write_params)
        text = cal.update_knob_text(params_path.read_text(encoding="utf-8"), fit.knobs, note)
    with OutputSet(out) as outputs:
        outputs.csv(fit.fit[["moment", "target", "tolerance", "achieved", "ok"]], "fit.csv")
        outputs.text(header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=120), "synth.yaml")
        outputs.csv(plausible, "plausible.csv")
        outputs.json(_run_facts("calibrate", {"scheme": setup.scheme}, None, targets=setup.where,
                                params=str(params_path), budget=args.budget, seed=args.seed,
                                evaluations=fit.evaluations, distance=fit.distance, start=fit.start,
                                fitted=fit.knobs, candidates=args.candidates, plausible=len(plausible),
                                method="simulated method of moments, scipy.optimize.minimize Nelder-Mead; "
                                       "plausible worlds by ABC rejection on a scipy.stats.qmc Latin hypercube"),
                     "run.json")
    if update is not None:
        atomic_write_text(update, text)
        print(f"wrote the fitted knobs into {update} (basis: calibrated)")
    shown = fit.fit.assign(achieved=fit.fit["achieved"].round(3))
    print(shown[["moment", "target", "tolerance", "achieved", "ok"]].to_string(index=False))
    print(f"{int(fit.fit['ok'].sum())} of {len(fit.fit)} moments within tolerance after {fit.evaluations} "
          f"evaluations; {len(plausible)} of {args.candidates} candidate worlds plausible")
    print(f"wrote fit.csv, synth.yaml, plausible.csv and run.json to {out}")
    return 0


def _reference_inputs(args: argparse.Namespace):
    """(base, {name: scenario}, generator knobs, prior, setup) of a reference table."""
    from ..analyses import calibration as cal
    from ..analyses.inference import DEFAULT_SCENARIOS, Prior
    from ..core.paths import PARAMS_DIR
    from ..sources.synth import DEFAULT_PARAMS, synth_params

    params = synth_params(Path(args.params) if args.params else DEFAULT_PARAMS)
    setup = cal.load_setup(args.targets or PARAMS_DIR / "calibration.yaml", params)
    base = _load(args.base) if getattr(args, "base", None) else setup.scheme
    paths = args.scenarios or [str(PARAMS_DIR / p) for p in DEFAULT_SCENARIOS]
    scenarios = [_load(p) for p in paths]
    return base, dict(zip(_scenario_names(scenarios), scenarios)), params, Prior.of(setup), setup


def reference_table(args: argparse.Namespace, folder: Path, worlds: int, build: bool = True):
    """The reference table in ``folder``: read when its key matches (extended to ``worlds`` when
    it has fewer and ``build``), else built. Returns (table, facts)."""
    import json

    import pandas as pd

    from ..analyses.ensemble import fits_synthetic
    from ..analyses.inference import build_reference, reference_key, scheme_hash
    from ..core.files import OutputSet
    from ..runners.executors import executor_for, progress_bar

    base, scenarios, params, prior, setup = _reference_inputs(args)
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
        outputs.json(_run_facts("reference", {"base": base, **scenarios}, None,
                                **{k: v for k, v in facts.items() if k != "scenarios"}), "run.json")
    return table, facts


def cmd_reference(args: argparse.Namespace) -> int:
    from ..core.files import check_dir_target

    out = check_dir_target(args.out)
    table, facts = reference_table(args, out, args.worlds)
    print(f"{len(table)} worlds x (base + {len(facts['scenarios'])} scenarios) in {out}/reference.parquet "
          f"(key {facts['key']}); use it with perfsim calibrate --reference {out}")
    return 0


def _calibrate_posterior(args: argparse.Namespace) -> int:
    """``perfsim calibrate --data DIR`` / ``--reference DIR``: the posterior over worlds."""
    import numpy as np
    import pandas as pd

    from ..analyses import inference as inf
    from ..analyses.moments import data_moments
    from ..core.files import OutputSet, check_dir_target
    from ..report.plotting import verdict_figure

    out = check_dir_target(args.out)
    folder = Path(args.reference or "outputs/reference")
    table, facts = reference_table(args, folder, args.worlds, build=args.worlds > 0)
    if args.data is not None:
        resolved = _reference_inputs(args)[0]
        dataset = _dataset(args)
        moments = data_moments(resolved, dataset, args.year, boot=0, seed=args.seed)
        observed = dict(zip(moments["moment"], moments["value"].astype(float)))
        source = f"the moments of {_origin(args.data)}"
    else:
        setup = _reference_inputs(args)[4]
        observed = {m: t.value for m, t in setup.targets.moments.items()}
        source = f"the documented targets of {setup.where}"
    post = inf.posterior(table, observed, args.accept)
    emulator = inf.fit_emulator(table, seed=args.seed)
    ident = inf.identified(post)
    led = inf.ledger(post, emulator, seed=args.seed)
    decided = inf.decided_by(led)
    verdicts = inf.verdicts(post, emulator, decided=decided)
    voi = inf.value_of_information(table, observed, emulator, args.accept)
    used = pd.DataFrame([{"moment": m, "value": observed.get(m, np.nan), "used": m in post.observed,
                          "why_not": post.unused.get(m, "")} for m in observed])
    fit = pd.DataFrame([{"scenario": k, "r2_held_out": v, "residual_sd": emulator.residual_sd[k]}
                        for k, v in emulator.r2.items()])
    for note in post.notes:
        warnings.warn(note, PerfsimWarning, stacklevel=1)
    fig = verdict_figure(verdicts, led, source)
    with OutputSet(out) as outputs:
        outputs.csv(post.frame(), "posterior.csv")
        outputs.csv(ident, "identified.csv")
        outputs.csv(verdicts, "verdicts.csv")
        outputs.csv(led, "ledger.csv")
        outputs.csv(voi, "voi.csv")
        outputs.csv(used, "observed.csv")
        outputs.csv(fit, "emulator.csv")
        fig.savefig(outputs.path("verdicts.png"), dpi=110)
        outputs.json(_run_facts("calibrate", {}, args.data, reference=str(folder), reference_key=facts.get("key"),
                                worlds=len(table), accepted=len(post.rows), seed=args.seed, targets_from=source,
                                method="rejection ABC with local-linear regression adjustment (Beaumont et al. "
                                       "2002) on MAD-standardised moments; expected effects by a scikit-learn "
                                       "HistGradientBoostingRegressor emulator; verdict at P >= "
                                       f"{inf.VERDICT_PROBABILITY}"), "run.json")
    print(f"posterior over {len(table)} reference worlds given {source}: {len(post.rows)} accepted, "
          f"{len(post.observed)} moments used ({', '.join(post.observed)})")
    if post.unused:
        print("not used: " + "; ".join(f"{k} ({v})" for k, v in post.unused.items()))
    print(f"identified by the data: {', '.join(ident.loc[ident['identified'], 'knob']) or 'none'} "
          f"(posterior 90 % interval at most {inf.IDENTIFIED_RATIO:.0%} of the prior's)")
    print("expected change of Kendall tau to the truth, scenario minus base, posterior median [90 % interval]:")
    for row in verdicts.itertuples():
        print(f"  {row.scenario}: {row.median:+.4f} [{row.q05:+.4f}, {row.q95:+.4f}], P(helps) {row.p_helps:.2f}, "
              f"P(hurts) {row.p_hurts:.2f} -> {row.verdict}; {row.decided_by}")
    for sentence in led["sentence"]:
        print(f"  - {sentence}")
    print(f"wrote posterior.csv, identified.csv, verdicts.csv, ledger.csv, voi.csv, observed.csv, emulator.csv, "
          f"verdicts.png and run.json to {out}")
    return 0


def cmd_memo(args: argparse.Namespace) -> int:
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
    base = _load(args.base)
    scenarios = [_load(s) for s in args.scenarios]
    dataset = _dataset(args)
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
    provenance = {"perfsim": __version__, "data": _origin(args.data), "data hash (sha256)": dataset.content_hash()[:16],
                  "seed": args.seed,
                  "schemes": ", ".join(f"{r.name} {scheme_hash(r)}" for r in [base, *scenarios]),
                  "reference table": (f"{args.reference} (key {reference[1].get('key')}, {len(reference[0])} worlds)"
                                      if reference is not None else "none")}
    with tempfile.TemporaryDirectory() as tmp:
        figure = None
        if memo["verdicts"]:
            ledger = pd.DataFrame([r for o in memo["options"] for r in o.get("ledger", [])])
            fig = verdict_figure(pd.DataFrame(memo["verdicts"]), ledger, f"{_origin(args.data)}")
            figure = Path(tmp) / "verdicts.png"
            fig.savefig(figure, dpi=130)
        write_memo(memo, out, args.lang, figure, provenance, base.scheme.category_labels or {})
    kind = memo["recommendation"]["kind"]
    print(f"wrote the policy-reserve memo ({args.lang}) for {len(scenarios)} option(s) against '{base.name}' to {out}; "
          f"recommendation: {kind}")
    return 0


def _scenario_names(resolved: list) -> list[str]:
    names: list[str] = []
    for r in resolved:
        name = r.name
        while name in names:
            name += "_"
        names.append(name)
    return names


def cmd_ensemble(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from ..analyses import calibration as cal
    from ..core.contract import validate_frames
    from ..core.engine import check_fit
    from ..sources.synth import generate_arrays, world_tables
    from ..analyses.ensemble import ensemble, ensemble_effects
    from ..core.files import OutputSet, check_dir_target
    from ..core.paths import PARAMS_DIR
    from ..runners.executors import executor_for, progress_bar
    from ..sources.synth import DEFAULT_PARAMS, synth_params

    out = check_dir_target(args.out)
    base = _load(args.base)
    scenarios = [_load(s) for s in args.scenarios]
    params = synth_params(Path(args.params) if args.params else DEFAULT_PARAMS)
    if args.ranges:
        from ..analyses.inference import Prior

        prior = Prior.of(cal.load_setup(args.ranges, params))
        rng = pd.DataFrame(np.random.default_rng([args.seed, 5]).uniform(
            prior.bounds[:, 0], prior.bounds[:, 1], size=(args.worlds, len(prior.names))), columns=list(prior.names))
        source, plausible = f"the knob and prior ranges of {args.ranges}", rng.assign(weight=1.0)
    else:
        from ..sources.readers import read_table

        path = Path(args.posterior or args.plausible or PARAMS_DIR / "plausible.csv")
        plausible = read_table(path)
        for column in plausible.columns:
            if column != "weight":
                try:
                    cal.get_knob(params, column)
                except (KeyError, TypeError):
                    raise PerfsimError(f"column '{column}' is not a knob of the generator", where=path) from None
        source = str(path)
    knob_sets = cal.knob_draws(plausible, params, args.worlds, args.seed)
    names = _scenario_names(scenarios)
    # every scheme must fit a synthetic world (checked once, on the first world's tables)
    probe = validate_frames(world_tables(generate_arrays(0, knob_sets[0], years=1)), origin="<synthetic world>")
    for r in [base, *scenarios]:
        check_fit(r, probe)
    with executor_for(args.jobs, args.scheduler, -(-args.worlds // 10)) as executor, \
            progress_bar(args.worlds, "worlds", args.progress) as bar:
        per_world = ensemble(base, dict(zip(names, scenarios)), knob_sets, args.seed, executor,
                             progress=bar.update)
    table = ensemble_effects(per_world, names)
    with OutputSet(out) as outputs:
        outputs.csv(per_world, "per_world.csv")
        outputs.csv(table, "effects.csv")
        outputs.json(_run_facts("ensemble", {"base": base, **dict(zip(names, scenarios))}, None,
                                worlds=args.worlds, seed=args.seed, knobs_from=source,
                                params=args.params or str(DEFAULT_PARAMS)), "run.json")
    tau = table[table["metric"] == "delta_tau_truth"]
    print(f"{args.worlds} plausible SYNTHETIC worlds (knobs from {source}); change of Kendall tau to the truth, "
          "scenario minus base, median [90 % interval]:")
    for row in tau.itertuples():
        print(f"  {row.scenario}: {row.median:+.4f} [{row.q05:+.4f}, {row.q95:+.4f}] -> {row.verdict}")
    print(f"wrote per_world.csv, effects.csv and run.json to {out}")
    return 0


# --------------------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """Bad options end in one line, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"perfsim: error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Adds "(default: ...)" to an option's help unless the help names its default already or
    the default is None (nothing to say)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.nargs == 0:
            return text
        return super()._get_help_string(action)


bounded_zero = options.bounded_int(0, 100_000)


def _reference_options(p: argparse.ArgumentParser, worlds: int) -> None:
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


def _sub(sub, name: str, help_: str, example: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=help_, formatter_class=_Help,
                       epilog=f"example:\n  {example}")
    p.set_defaults(func=func)
    return p


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="dataset folder of CSV files or one .xlsx workbook (default: the bundled SYNTHETIC world)")
    p.add_argument("--year", type=options.year, default=None, help="year to score (default: the latest in the data)")
    _encoding(p)


def _data_years(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None,
                   help="dataset folder of CSV files or one .xlsx workbook (default: the bundled SYNTHETIC world)")
    p.add_argument("--year", type=options.year_or_all, default=None,
                   help="year to score, or 'all' for every year with a panel (default: the latest in the data)")
    _encoding(p)


def _encoding(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoding", type=options.encoding, default=None,
                   help="text encoding of the CSV files, e.g. gbk (default: detected, UTF-8 or GB18030)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfsim", formatter_class=_Help,
                     description="Simulate and compare municipal government performance-management schemes "
                                 "(政府绩效管理).",
                     epilog="examples:\n"
                            "  perfsim score params/baseline.yaml\n"
                            "  perfsim compare params/baseline.yaml params/scenarios/leader5_proportional.yaml\n"
                            "  perfsim batch --name default\n"
                            "run 'perfsim COMMAND --help' for a command's options")
    parser.add_argument("--version", action="version", version=f"perfsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = _sub(sub, "synth", "write the SYNTHETIC world (a folder of CSV files or one .xlsx workbook)",
             "perfsim synth --out my_world --seed 7", cmd_synth)
    p.add_argument("--out", required=True, help="output folder (with --format xlsx: workbook, .xlsx added)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--params", default=None, help="generator knob file (default: params/synth.yaml)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format")

    p = _sub(sub, "validate", "check a scheme or scenario (and, with --data, that it fits a dataset)",
             "perfsim validate params/scenarios/leader5_proportional.yaml --data my_city/", cmd_validate)
    p.add_argument("file", help="scheme or scenario YAML file")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx to check against (default: none)")
    p.add_argument("--year", type=options.year, default=None, help="year to check (default: the latest)")
    _encoding(p)

    p = _sub(sub, "score", "score every unit under a scheme or scenario and print the ranked tables",
             "perfsim score params/baseline.yaml --year all --out outputs/scores/scores.csv", cmd_score)
    p.add_argument("scenario", help="scheme or scenario YAML file")
    _data_years(p)
    p.add_argument("--period", type=options.period, default=None,
                   help="YYYY-MM: score that assessment period (year-to-date actuals against the targets expected "
                        "by then) instead of the year")
    p.add_argument("--out", default=None,
                   help="write the result table to this CSV file, with missing.csv (every missing actual and "
                        "the rule applied) beside it; with --year all also panel.csv and persistence.csv "
                        "(default: print only)")
    p.add_argument("--quiet", action="store_true", help="do not print the ranked tables")

    p = _sub(sub, "import", "turn office workbooks (wide, Chinese headers) into a dataset, as a mapping file says",
             "perfsim import office/2024.xlsx --mapping office/mapping.yaml --out my_city/", cmd_import)
    p.add_argument("source", nargs="?", default=None, help="an .xlsx workbook or a folder of them")
    p.add_argument("--mapping", default=None, help="mapping YAML: which sheets, header rows, columns (see README)")
    p.add_argument("--out", default=None, help="folder for the dataset (CSV files of the contract) and import.json")
    p.add_argument("--template", default=None, metavar="DIR",
                   help="instead, write a blank office workbook with Chinese headers and its mapping to DIR")

    p = _sub(sub, "audit", "data availability, outliers and correlations of a dataset (with a scheme: per level)",
             "perfsim audit params/baseline.yaml --data my_city/ --out outputs/audit", cmd_audit)
    p.add_argument("scheme", nargs="?", default=None, help="scheme or scenario file (optional)")
    _data(p)
    p.add_argument("--out", default="outputs/audit", help="folder for audit.html, the tables and figures")
    p.add_argument("--threshold", type=options.correlation, default=0.9,
                   help="report pairs of indicators with |r| at or above this")
    p.add_argument("--max-share", type=options.share, default=0.25,
                   help="flag an indicator that carries more than this share of a unit's points (with a scheme)")
    p.add_argument("--method", choices=("pearson", "spearman", "kendall"), default="pearson",
                   help="correlation coefficient")

    p = _sub(sub, "weights", "derive a node's children weights (objective, AHP, optimised) as a scenario",
             "perfsim weights params/baseline.yaml --node tree.targets --method entropy --out params/scenarios/w.yaml",
             cmd_weights)
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
    _data(p)
    p.add_argument("--out", required=True, help="the scenario YAML file to write")

    p = _sub(sub, "influence", "drop each indicator in turn: rank changes, nominal weight and real influence",
             "perfsim influence params/baseline.yaml --out outputs/influence", cmd_influence)
    p.add_argument("scheme", help="scheme or scenario file")
    _data(p)
    p.add_argument("--out", default="outputs/influence", help="folder for influence.csv and influence.png")
    p.add_argument("--top", type=options.top, default=10, help="how many indicators to print")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "reduce", "find a small indicator set whose ranking stays close to the full one (少而精)",
             "perfsim reduce params/baseline.yaml --min-tau 0.95 --out params/scenarios/reduced.yaml", cmd_reduce)
    p.add_argument("scheme", help="scheme or scenario file")
    _data(p)
    p.add_argument("--min-tau", type=options.correlation, default=0.95,
                   help="lowest Kendall tau to the full ranking allowed in any category")
    p.add_argument("--name", default=None, help="name of the scenario written (default: SCHEME_reduced)")
    p.add_argument("--out", required=True, help="the scenario YAML file to write")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "methods", "rank by TOPSIS, VIKOR and PROMETHEE II and compare with the scheme's ranking",
             "perfsim methods params/baseline.yaml --out outputs/methods", cmd_methods)
    p.add_argument("scheme", help="scheme or scenario file")
    _data(p)
    p.add_argument("--out", default="outputs/methods",
                   help="folder for method_ranks.csv, method_summary.csv and methods.png")
    p.add_argument("--top", type=options.top, default=10, help="how many moving units to print")

    p = _sub(sub, "raters", "rater leniency, compression (平衡分) and candidate favours (人情分) from the ratings",
             "perfsim raters --data data/synthetic --out outputs/raters", cmd_raters)
    _data(p)
    p.add_argument("--source", choices=("leader_ratings", "satisfaction"), default="leader_ratings",
                   help="which rating table: city leaders, or the satisfaction survey's respondent groups")
    p.add_argument("--alpha", type=options.probability, default=0.1,
                   help="false-discovery rate (Benjamini-Hochberg) for flagging raters and rater-unit pairs")
    p.add_argument("--out", default="outputs/raters", help="folder for raters.html and its tables")

    p = _sub(sub, "efficiency", "frontier efficiency (DEA, CCR and BCC) and cost per point with intervals",
             "perfsim efficiency params/baseline.yaml --out outputs/efficiency", cmd_efficiency)
    p.add_argument("scheme", help="scheme or scenario file")
    _data(p)
    p.add_argument("--outputs", default="",
                   help="comma-separated DEA outputs: volumes of work indicator:ID (e.g. indicator:E01,indicator:E06); "
                        "scores (total, a component) only with a warning; none: the cost per point alone")
    p.add_argument("--draws", type=options.bounded_int(0, 100_000), default=2000,
                   help="uncertainty draws for the cost-per-point intervals (0: none)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="seed of the draws")
    p.add_argument("--out", default="outputs/efficiency", help="folder for efficiency.csv, cost.csv, disclosure.csv")

    p = _sub(sub, "consequences", "the accountability ladder and awards under one or more schemes (结果运用)",
             "perfsim consequences params/baseline.yaml params/scenarios/leader5_proportional.yaml --out outputs/cons",
             cmd_consequences)
    p.add_argument("scenarios", nargs="+", help="schemes or scenarios; the first is the reference for changes")
    p.add_argument("--rules", default=None, help="the ladder's rules (default: params/consequences.yaml)")
    _data(p)
    p.add_argument("--out", default="outputs/consequences", help="folder for consequences.csv, steps.csv, changes.csv")

    p = _sub(sub, "diagnose", "one page per unit: every target, rank over time, gaps, deductions, levers (绩效诊断)",
             "perfsim diagnose params/baseline.yaml --out outputs/diagnosis", cmd_diagnose)
    p.add_argument("scheme", help="scheme or scenario file")
    _data(p)
    p.add_argument("--period", type=options.period, default=None,
                   help="YYYY-MM: progress against the expected path at this month (default: December of the year)")
    p.add_argument("--unit", action="append", default=[], help="only this unit's page (repeat for several)")
    p.add_argument("--top", type=options.top, default=3, help="how many units' diagnoses to print")
    p.add_argument("--out", default="outputs/diagnosis", help="folder for index.html, units/ and the tables")

    p = _sub(sub, "moments", "a dataset's own moments (what its tables say about the assumptions of a verdict), "
                             "with bootstrap standard errors",
             "perfsim moments params/baseline.yaml --data my_city/ --year all --out outputs/moments", cmd_moments)
    p.add_argument("scheme", nargs="?", default="params/baseline.yaml",
                   help="scheme the data are scored under (default: params/baseline.yaml)")
    _data_years(p)
    p.add_argument("--boot", type=options.bounded_int(0, 10_000), default=200,
                   help="bootstrap replicates over units for the standard errors (0: none)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed of the bootstrap")
    p.add_argument("--out", default="outputs/moments", help="folder for moments.csv and run.json")

    p = _sub(sub, "compare", "rank shifts of a scenario against a base scheme",
             "perfsim compare params/baseline.yaml params/scenarios/leader5_proportional.yaml --out outputs/cmp",
             cmd_compare)
    p.add_argument("base", help="base scheme or scenario file")
    p.add_argument("scenario", help="scenario file compared with the base")
    _data(p)
    p.add_argument("--out", default="outputs/compare", help="folder for rank_shifts.csv, summary.csv, run.json")
    p.add_argument("--top", type=options.top, default=5, help="how many movers up and down to print")
    p.add_argument("--worlds", type=bounded_zero, default=0,
                   help="also judge validity over this many plausible synthetic worlds (0: not at all)")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed of the worlds")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of findings.md and the headline")

    p = _sub(sub, "batch", "run scenarios through notebooks (parallel, cached, resumable)",
             "perfsim batch params/scenarios/levers/*.yaml --name levers --jobs 2", cmd_batch)
    p.add_argument("scenarios", nargs="*",
                   help="scheme or scenario files (default: params/baseline.yaml and params/scenarios/*.yaml)")
    p.add_argument("--notebook", action="append", default=[],
                   help="a notebook to run (repeatable; default: notebooks/*.ipynb except the 00_ template)")
    p.add_argument("--jobs", type=options.jobs, default=2, help="local worker processes")
    p.add_argument("--scheduler", type=options.scheduler, default=None,
                   help="tcp://HOST:PORT of a Dask distributed scheduler (instead of local workers)")
    p.add_argument("--out", default="outputs", help="results go to OUT/NAME/")
    p.add_argument("--name", type=options.batch_name, default="default", help="batch name (a folder name)")
    _data(p)
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="seed passed to every notebook")
    p.add_argument("--timeout", type=options.timeout, default=1800,
                   help="seconds a job may run (and a cell may run) before it is stopped and recorded as failed")
    p.add_argument("--force", action="store_true", help="rerun jobs even when cached")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="language of the report (index.html): Chinese with English in parentheses, or English")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "uncertainty", "Monte Carlo rank bands, SMAA acceptability, Sobol indices and stability",
             "perfsim uncertainty params/baseline.yaml --draws 20000 --out outputs/robust", cmd_uncertainty)
    p.add_argument("scenario", help="scheme or scenario file (its 'uncertainty:' section is the spec)")
    _data(p)
    p.add_argument("--draws", type=options.draws, default=10_000, help="Monte Carlo draws")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--chunk", type=options.chunk, default=None, help="draws per chunk (default: the spec's)")
    p.add_argument("--spec", default=None, help="uncertainty spec file (default: the scheme's section)")
    p.add_argument("--jobs", type=options.jobs, default=1, help="worker processes for the chunks")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/uncertainty", help="folder for the result tables")
    p.add_argument("--unit", default=None, help="a unit for the smallest-change search (with --target-rank)")
    p.add_argument("--target-rank", type=options.rank, default=None, help="the rank --unit should reach")
    p.add_argument("--sobol-n", type=options.sobol_n, default=256, help="SALib base sample size (power of two)")
    p.add_argument("--no-sobol", action="store_true", help="skip the Sobol indices")
    p.add_argument("--save-draws", action="store_true",
                   help="also write every draw's totals and weight shares (draws_*.parquet)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "calibrate", "the worlds a city's data (--data) or the documented targets allow (--reference): "
             "posterior, identified knobs, verdicts with their deciding assumptions, value of information; "
             "without either, fit the synthetic world's knobs to the documented moments",
             "perfsim calibrate --data my_city/ --reference outputs/reference --out outputs/calibration",
             cmd_calibrate)
    p.add_argument("--targets", default=None, help="calibration targets and priors (default: params/calibration.yaml)")
    p.add_argument("--params", default=None, help="starting knobs (default: params/synth.yaml)")
    p.add_argument("--data", default=None, help="a dataset folder or .xlsx whose own moments are the targets")
    _encoding(p)
    p.add_argument("--year", type=options.year_or_all, default=None,
                   help="year of the data's cross-section moments, or 'all' (default: the latest)")
    p.add_argument("--reference", default=None,
                   help="folder of the reference table (perfsim reference; default with --data: outputs/reference)")
    p.add_argument("--worlds", type=bounded_zero, default=0,
                   help="with --data/--reference: build or extend the reference table to this many worlds "
                        "(0: use it as it is)")
    p.add_argument("--accept", type=options.budget, default=None,
                   help="worlds kept by the ABC rejection (default: 3 %% of the table, at least 200)")
    p.add_argument("base", nargs="?", default=None,
                   help="with --data/--reference: base scheme of the reference table (default: the targets' scheme)")
    p.add_argument("--scenarios", nargs="+", default=None,
                   help="with --data/--reference: scenarios of the reference table (default: the leader-rating set)")
    p.add_argument("--budget", type=options.budget, default=600, help="evaluations of the fit's objective")
    p.add_argument("--candidates", type=options.budget, default=400,
                   help="candidate worlds tried for the plausible set")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--jobs", type=options.jobs, default=1, help="worker processes (plausible worlds)")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/calibration", help="folder for fit.csv, synth.yaml, plausible.csv")
    p.add_argument("--write-params", default=None,
                   help="also write the fitted knobs into this knob file, keeping its comments "
                        "(e.g. params/synth.yaml to make the bundled world the calibrated one)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "reference", "a reference table of synthetic worlds drawn from the priors: settings, moments, "
             "and each scenario's effect on validity (cached; extended when asked for more worlds)",
             "perfsim reference --worlds 10000 --jobs 2 --out outputs/reference", cmd_reference)
    _reference_options(p, worlds=10_000)
    p.add_argument("--out", default="outputs/reference", help="folder for reference.parquet and reference.json")

    from . import explore as explore_command         # a command in its own module: configure + run

    p = _sub(sub, "explore", explore_command.HELP, explore_command.EXAMPLE, explore_command.run)
    explore_command.configure(p)

    p = _sub(sub, "memo", "the policy-reserve memo (政策储备报告) in Word: the options, their effect on validity as "
             "probabilities with the deciding assumptions, who gains and who loses, grade changes, what data would "
             "settle it, method and provenance",
             "perfsim memo params/baseline.yaml params/scenarios/leader5_*.yaml --out outputs/memo.docx", cmd_memo)
    p.add_argument("base", help="base scheme")
    p.add_argument("scenarios", nargs="+", help="the options compared with the base")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx (default: the bundled SYNTHETIC world)")
    _encoding(p)
    p.add_argument("--year", type=options.year, default=None, help="year to score (default: the latest)")
    p.add_argument("--reference", default="outputs/reference",
                   help="reference table of perfsim reference (the verdicts on validity)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the memo")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--out", required=True, help="the Word file to write (.docx)")

    p = _sub(sub, "ensemble", "effects of scenarios against a base over many plausible synthetic worlds",
             "perfsim ensemble params/baseline.yaml params/scenarios/*.yaml --worlds 50 --out outputs/ensemble",
             cmd_ensemble)
    p.add_argument("base", help="base scheme")
    p.add_argument("scenarios", nargs="+", help="scenario files compared with the base")
    p.add_argument("--worlds", type=options.worlds, default=200, help="plausible worlds")
    p.add_argument("--seed", type=options.seed, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--plausible", default=None, help="knob vectors to draw worlds from (default: params/plausible.csv)")
    p.add_argument("--posterior", default=None,
                   help="draw worlds from this posterior (posterior.csv of perfsim calibrate --data/--reference)")
    p.add_argument("--ranges", default=None,
                   help="instead, draw knobs uniformly within the knob ranges of this calibration targets file")
    p.add_argument("--params", default=None, help="the other knobs (default: params/synth.yaml)")
    p.add_argument("--jobs", type=options.jobs, default=2, help="local worker processes")
    p.add_argument("--scheduler", type=options.scheduler, default=None, help="tcp://HOST:PORT of a Dask scheduler")
    p.add_argument("--out", default="outputs/ensemble", help="folder for per_world.csv, effects.csv, run.json")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: only when stderr is a terminal)")

    p = _sub(sub, "track", "monthly progress, warnings, dynamic ranking and feedback",
             "perfsim track params/baseline.yaml --period 2025-06 --out outputs/track", cmd_track)
    p.add_argument("scenario", help="scheme or scenario file")
    p.add_argument("--period", type=options.period, required=True, help="the month, YYYY-MM")
    p.add_argument("--data", default=None, help="dataset folder or .xlsx (default: the bundled SYNTHETIC world)")
    _encoding(p)
    p.add_argument("--params", default=None, help="tracking knobs (default: params/tracking.yaml)")
    p.add_argument("--out", default="outputs/track", help="folder for progress.csv, ranking.csv, feedback.csv")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the command ends as on Ctrl-C (staged outputs are dropped, workers
    stopped), with the signal's own exit code."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame) -> None:
    raise Terminated(signum)


class _ending_signals:
    """SIGTERM and SIGHUP end the command like Ctrl-C while it runs (main thread only)."""

    def __enter__(self) -> None:
        import signal
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                if hasattr(signal, name):
                    number = getattr(signal, name)
                    self.saved[number] = signal.signal(number, _terminate)

    def __exit__(self, *exc) -> None:
        import signal

        for number, handler in self.saved.items():
            signal.signal(number, handler)


def _interrupted(exc: KeyboardInterrupt) -> int:
    """The last line of a command ended by a signal, and its exit code (128 + signal)."""
    from ..core.files import PUBLISHED

    name, code = (exc.args[0], 128 + exc.signum) if isinstance(exc, Terminated) else ("Ctrl-C", EXIT_INTERRUPTED)
    if PUBLISHED:
        shown = ", ".join(dict.fromkeys(PUBLISHED))
        print(f"perfsim: interrupted ({name}); the results already written to {shown} are complete, "
              "nothing after them was written", file=sys.stderr)
    else:
        print(f"perfsim: interrupted ({name}); no results were written", file=sys.stderr)
    return code


#: what each command's --out receives: a folder, or a file (checked before any work)
OUT_KINDS = {"score": "file", "weights": "file", "reduce": "file", "import": "folder", "audit": "folder",
             "influence": "folder", "methods": "folder", "raters": "folder", "efficiency": "folder",
             "consequences": "folder", "diagnose": "folder", "compare": "folder", "batch": "folder", "moments": "folder",
             "uncertainty": "folder", "track": "folder", "calibrate": "folder", "ensemble": "folder",
             "reference": "folder", "memo": "file"}


def _check_out(args: argparse.Namespace) -> None:
    """Every output place checked before the work starts (a file where a folder belongs, a
    read-only folder): the error comes first, not after the work."""
    from ..core.files import check_writable

    command = getattr(args, "func", None).__name__.removeprefix("cmd_") if hasattr(args, "func") else ""
    out = getattr(args, "out", None)
    if out is None:
        return
    if command == "synth":
        check_writable(out, folder=getattr(args, "format", "csv") != "xlsx")
    elif command in OUT_KINDS:
        check_writable(out, folder=OUT_KINDS[command] == "folder")


def main(argv: Sequence[str] | None = None) -> int:
    from ..core.files import PUBLISHED

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    SEEN.clear()
    PUBLISHED.clear()
    try:
        with warnings.catch_warnings(), _ending_signals():
            warnings.simplefilter("always", PerfsimWarning)
            warnings.showwarning = _show_warning
            _check_out(args)
            return args.func(args)
    except PerfsimErrors as exc:          # several problems: one line each
        for line in exc.lines:
            print("perfsim: error: " + " ".join(line.split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except PerfsimError as exc:
        print("perfsim: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:          # output piped into `head` and the like
        return 0
    except OSError as exc:
        print(f"perfsim: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecursionError:
        print("perfsim: error: input nested too deeply", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("perfsim: error: out of memory; use fewer draws or a smaller --chunk", file=sys.stderr)
        return EXIT_BAD_INPUT


def run() -> None:
    """The ``perfsim`` command: :func:`main`, then exit without tearing the interpreter down.

    By then every output is published and every pool shut down; freeing the pandas,
    matplotlib and nbconvert module graph object by object would add about 0.3 s to each
    command. Exit handlers still run and the streams are flushed first."""
    import atexit
    import os

    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:         # another Python: the ordinary way out
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):      # a closed pipe: nothing more can be said
            pass
    os._exit(code)
