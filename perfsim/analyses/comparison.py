"""The comparison of a scenario with its base, as one analysis of the protocol (see
:mod:`perfsim.analyses.result`): rank shifts (:mod:`perfsim.analyses.compare`), the
findings (:mod:`perfsim.analyses.findings`) and, over plausible synthetic worlds, the
validity change."""

from __future__ import annotations

import json
import warnings

from ..core.engine import score
from ..core.errors import PerfsimError, PerfsimWarning
from ..core.scheme import as_resolved
from ..core.paths import DEFAULT_SEED
from .compare import biggest_movers, rank_shifts, summarise
from .findings import findings
from .result import Chart, Result, both

#: the analysis's name in the protocol (its command's)
ANALYSIS = "compare"


def analysis(scheme, dataset, *, year: int | None = None, seed: int = DEFAULT_SEED, scenario=None, worlds: int = 0,
             top: int = 5) -> Result:
    """The protocol's comparison (see :mod:`perfsim.analyses.result`): ``scenario`` against
    the base ``scheme``: rank shifts, the summary per category, the biggest movers, and with
    ``worlds`` the validity change over that many plausible synthetic worlds; the facts are
    :func:`perfsim.analyses.findings.findings` (its headline is the text)."""
    if scenario is None:
        raise PerfsimError("a comparison needs a scenario to compare with the base")
    base, scenario = as_resolved(scheme), as_resolved(scenario)
    shifts = rank_shifts(score(base, dataset, year), score(scenario, dataset, year))
    summary = summarise(shifts)
    effects = None
    if worlds:
        from .ensemble import ensemble, ensemble_effects, fits_synthetic, plausible_knobs

        why = fits_synthetic(base, scenario)
        if why:
            warnings.warn(f"validity not judged: the schemes do not fit the synthetic world ({why})",
                          PerfsimWarning, stacklevel=2)
        else:
            effects = ensemble_effects(ensemble(base, {scenario.name: scenario}, plausible_knobs(worlds, seed), seed))
    found = findings(base, scenario, dataset, year, effects, worlds or None)
    movers = biggest_movers(shifts, top)
    return Result(
        "compare", both(f"方案比较：「{scenario.name}」对「{base.name}」",
                        f"Comparison: '{scenario.name}' against '{base.name}'"),
        tables={"rank_shifts": shifts, "summary": summary, "movers": movers},
        figures={"rank_shifts": Chart("shifts", ("rank_shifts",), both("各类别内的名次变化（斜线图）",
                                                                       "Rank changes within each category"),
                                      {"base_name": base.name, "scenario_name": scenario.name})},
        facts=found, texts=both(found["headline"]["zh"], found["headline"]["en"]),
        files={"findings.json": json.dumps(found, ensure_ascii=False, indent=1, default=str)},
        scenarios={"base": base, "scenario": scenario},
        shown=(("summary", "各类别的排名一致性与名次变化", "Agreement and rank changes per category"),
               ("movers", "名次变化最大的单位（负数为上升）", "Biggest movers (negative is a move up)")))
