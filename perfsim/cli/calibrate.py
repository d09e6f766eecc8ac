"""``perfsim calibrate``: the worlds a city's data (--data) or the documented targets allow
(--reference): posterior, identified knobs, verdicts with their deciding assumptions, value of
information; without either, fit the synthetic world's knobs to the documented moments (one module
per command: :func:`configure` adds its options, :func:`run` runs it)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ..core.errors import PerfsimWarning
from ..core.paths import DEFAULT_SEED
from . import options
from .common import bounded_zero, encoding_option, open_data, origin, reference_inputs, reference_table, run_facts

NAME = "calibrate"
HELP = ("the worlds a city's data (--data) or the documented targets allow (--reference): "
        "posterior, identified knobs, verdicts with their deciding assumptions, value of information; "
        "without either, fit the synthetic world's knobs to the documented moments")
EXAMPLE = "perfsim calibrate --data my_city/ --reference outputs/reference --out outputs/calibration"
#: what --out names: a folder, a file, or (synth) either
OUT = 'folder'


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--targets", default=None, help="calibration targets and priors (default: params/calibration.yaml)")
    p.add_argument("--params", default=None, help="starting knobs (default: params/synth.yaml)")
    p.add_argument("--data", default=None, help="a dataset folder or .xlsx whose own moments are the targets")
    encoding_option(p)
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


def run(args: argparse.Namespace) -> int:
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
        outputs.json(run_facts("calibrate", {"scheme": setup.scheme}, None, targets=setup.where,
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
        resolved = reference_inputs(args)[0]
        dataset = open_data(args)
        moments = data_moments(resolved, dataset, args.year, boot=0, seed=args.seed)
        observed = dict(zip(moments["moment"], moments["value"].astype(float)))
        source = f"the moments of {origin(args.data)}"
    else:
        setup = reference_inputs(args)[4]
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
        outputs.json(run_facts("calibrate", {}, args.data, reference=str(folder), reference_key=facts.get("key"),
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
