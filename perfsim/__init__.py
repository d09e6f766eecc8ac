"""perfsim: simulate and compare municipal government performance-management schemes.

The Python API mirrors the command line::

    import perfsim
    data = perfsim.open_dataset("my_city/")             # None: the bundled synthetic world
    scenario = perfsim.load_scenario("params/baseline.yaml")
    table = perfsim.score(scenario, data)               # a DataFrame

Every public name is importable from ``perfsim`` itself (notebooks use only these, so a
move inside the package does not break them). Names are imported on first use, so
``import perfsim`` stays light and has no side effects.

The package is built in floors, each importing only from the floors below it (checked by
``tests/test_layers.py``)::

    cli          the command line
    runners      batches, executors, the disk memo, the notebook helper
    report       figures, saved tables, HTML pages, provenance
    analyses     comparisons, attribution, validity, levers, survey, tracking, gaming
    uncertainty  the compiled model, Monte Carlo, robustness
    sources      dataset files and workbooks, real indices, the synthetic world
    core         contract, schemes and scenarios, rules, engine, safe YAML and files
"""

from __future__ import annotations

import importlib
from typing import Any

from .core import VERSION as __version__

_EXPORTS = {
    # core
    "PerfsimError": "core.errors", "PerfsimWarning": "core.errors",
    "Dataset": "core.contract", "validate_frames": "core.contract",
    "Scheme": "core.scheme", "Resolved": "core.scheme", "load_scenario": "core.scheme",
    "tree_table": "core.scheme", "parse_scheme": "core.scheme", "load_scheme_text": "core.scheme",
    "score": "core.engine", "score_detail": "core.engine", "check_fit": "core.engine",
    "component_columns": "core.engine", "effective_weights": "core.engine", "concentration": "core.engine",
    "cascade_gaps": "core.engine", "credit_table": "core.engine",
    "resolve_path": "core.paths", "DEFAULT_SEED": "core.paths",
    # sources
    "open_dataset": "sources.world", "load_dataset": "sources.readers",
    "write_dataset": "sources.readers", "bundled_dataset": "sources.world",
    "synth_params": "sources.synth", "generate_world": "sources.synth",
    # uncertainty
    "compile_model": "uncertainty.model", "load_spec": "uncertainty.model",
    "monte_carlo": "uncertainty.robustness", "sobol_indices": "uncertainty.robustness",
    "stability_intervals": "uncertainty.robustness", "default_spec": "uncertainty.robustness",
    # analyses
    "rank_shifts": "analyses.compare", "summarise": "analyses.compare",
    "biggest_movers": "analyses.compare", "attribute": "analyses.attribution",
    "truth_tau": "analyses.validity", "variance_shares": "analyses.validity",
    "rater_sweep": "analyses.validity", "sweep_effects": "analyses.validity",
    "points_sweep": "analyses.validity", "ensemble": "analyses.ensemble", "ensemble_effects": "analyses.ensemble",
    "verdict_figure": "report.plotting", "dataset_verdict": "analyses.inference", "posterior_verdict": "analyses.inference",
    "load_reference": "analyses.inference", "data_moments": "analyses.moments",
    "knob_draws": "analyses.calibration", "world_moments": "analyses.calibration",
    "with_knobs": "analyses.calibration", "rater_model": "analyses.raters", "raters_text": "analyses.raters",
    "fits_synthetic": "analyses.ensemble", "plausible_knobs": "analyses.ensemble",
    "lever_sweep": "analyses.levers", "sweep_grade_changes": "analyses.levers",
    "group_gap": "analyses.levers",
    "panel": "analyses.panel", "history_targets": "analyses.panel", "rank_persistence": "analyses.panel",
    "sampling_error": "analyses.survey", "swap_table": "analyses.survey",
    "swap_by_sample_size": "analyses.survey", "sample_size_needed": "analyses.survey",
    "simulate_swaps": "analyses.survey",
    "progress": "analyses.tracking", "dynamic_ranking": "analyses.tracking",
    "feedback": "analyses.tracking", "peer_position": "analyses.tracking",
    "efficiency": "analyses.tracking", "award_allocation": "analyses.tracking",
    "load_tracking": "analyses.tracking", "award_quota": "analyses.tracking",
    "analyse": "analyses.protocol", "analyses": "analyses.protocol",
    "simulate_regimes": "analyses.gaming", "summarise_regimes": "analyses.gaming",
    "load_gaming": "analyses.gaming",
    # report
    "save_table": "report.outputs", "save_figure": "report.outputs", "save_findings": "report.outputs",
    "findings": "analyses.findings", "findings_markdown": "report.text",
    "setup_fonts": "report.plotting", "label": "report.plotting", "unit_names": "report.plotting",
    "slope_chart": "report.plotting", "rank_history": "report.plotting", "rank_bands": "report.plotting",
    "acceptability_maps": "report.plotting", "interval_band": "report.plotting",
    "node_labels": "report.plotting", "input_group_label": "report.plotting", "integer_ticks": "report.plotting",
    "many_colours": "report.plotting", "strip_points": "report.plotting",
    "effect_histogram": "report.plotting", "validity_sentence": "report.text", "sweep_sentence": "report.text",
    "knob_label": "report.text", "levers_sentence": "report.text", "lever_forest": "report.plotting",
    "raters_figure": "report.plotting",
    # runners
    "memo_call": "runners.memo", "explore": "runners.explorer", "setup_notebook": "runners.notebook",
    "skipped_analyses": "runners.notebook",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"perfsim.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'perfsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*_EXPORTS, "__version__"])


__all__ = [*_EXPORTS, "__version__"]
