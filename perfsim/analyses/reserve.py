"""The evidence of a policy-reserve memo (政策储备报告), as data.

:func:`policy_reserve` gathers, for a base scheme and the options compared with it on a
city's data: what each option changes; who gains and who loses by district type and
category (mean change of the total, units whose grade rises or falls) and the grade
changes, among them the units that enter or leave the best grade (awards) and the lowest
(accountability); the verdict on validity over the worlds the data allow, as a probability
with its interval and the assumptions that decide it (:mod:`perfsim.analyses.inference`);
what data would settle the open conditions (value of information); and a recommendation
only as strong as the evidence. Every number comes from a computation; the writer
(:func:`perfsim.report.word.write_memo`) only lays them out.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from ..core.contract import Dataset
from ..core.engine import resolve_year, score
from ..core.scheme import Resolved
from .findings import declared_change, findings
from .moments import data_moments


def _grade_moves(base: Resolved, base_table: pd.DataFrame, scen_table: pd.DataFrame,
                 units: pd.DataFrame) -> pd.DataFrame:
    grades = list(base.scheme.grading.grades) if base.scheme.grading else []
    order = {g: i for i, g in enumerate(grades)}
    b = base_table.set_index("unit_id")
    s = scen_table.set_index("unit_id").reindex(b.index)
    kinds = units.set_index("unit_id").reindex(b.index)
    out = pd.DataFrame({"category": b["category"],
                        "district_type": kinds["district_type"] if "district_type" in kinds else None,
                        "change": s["total"] - b["total"],
                        "grade_base": b["grade"], "grade_scenario": s["grade"]})
    gb, gs = out["grade_base"].map(order), out["grade_scenario"].map(order)
    out["up"], out["down"] = gs < gb, gs > gb                 # index 0 is the best grade
    return out


def who_gains(base: Resolved, scenario: Resolved, dataset: Dataset, year: int | None = None) -> pd.DataFrame:
    """Per district type and category: units, mean change of the total, units whose grade
    rises and falls (rows ``group, kind, units, mean_change, grade_up, grade_down``)."""
    moves = _grade_moves(base, score(base, dataset, year), score(scenario, dataset, year), dataset.units)
    rows = []
    for kind, column in (("district_type", "district_type"), ("category", "category")):
        if column not in moves or moves[column].isna().all():
            continue
        for group, g in moves.dropna(subset=[column]).groupby(column, sort=True):
            rows.append({"group": str(group), "kind": kind, "units": int(len(g)),
                         "mean_change": float(g["change"].mean()), "grade_up": int(g["up"].sum()),
                         "grade_down": int(g["down"].sum())})
    return pd.DataFrame(rows, columns=["group", "kind", "units", "mean_change", "grade_up", "grade_down"])


def consequences(base: Resolved, scenario: Resolved, dataset: Dataset, year: int | None = None) -> dict[str, int]:
    """Units that enter or leave the best grade (awards) and the lowest (accountability)."""
    if not base.scheme.grading:
        return {}
    moves = _grade_moves(base, score(base, dataset, year), score(scenario, dataset, year), dataset.units)
    best, lowest = base.scheme.grading.grades[0], base.scheme.grading.grades[-1]
    return {"enter_best": int(((moves["grade_scenario"] == best) & (moves["grade_base"] != best)).sum()),
            "leave_best": int(((moves["grade_base"] == best) & (moves["grade_scenario"] != best)).sum()),
            "enter_lowest": int(((moves["grade_scenario"] == lowest) & (moves["grade_base"] != lowest)).sum()),
            "leave_lowest": int(((moves["grade_base"] == lowest) & (moves["grade_scenario"] != lowest)).sum()),
            "best": str(best), "lowest": str(lowest)}


def recommendation(verdicts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A recommendation only as strong as the evidence: the options that raise validity with
    probability >= 0.95, those that lower it, and those the data cannot decide."""
    helps = [v["scenario"] for v in verdicts if v["verdict"] == "helps"]
    hurts = [v["scenario"] for v in verdicts if v["verdict"] == "hurts"]
    open_ = [v["scenario"] for v in verdicts if v["verdict"] == "undetermined"]
    if helps:
        kind = "supported"
    elif open_:
        kind = "undecided"
    elif hurts:
        kind = "none_supported"
    else:
        kind = "no_evidence"
    return {"kind": kind, "helps": helps, "hurts": hurts, "undetermined": open_}


def policy_reserve(base: Resolved, scenarios: Sequence[Resolved], dataset: Dataset, year: int | None = None,
                   reference: tuple[pd.DataFrame, dict] | None = None, seed: int = 0) -> dict[str, Any]:
    """Everything a policy-reserve memo says (see the module docstring)."""
    from . import inference as inf

    options = []
    for s in scenarios:
        f = findings(base, s, dataset, year)
        options.append({"scenario": s.name, "change": declared_change(base, s), "numbers": f["numbers"],
                        "groups": who_gains(base, s, dataset, year).to_dict("records"),
                        "consequences": consequences(base, s, dataset, year), "verdict": None, "why_no_verdict": ""})
    out: dict[str, Any] = {"base": base.name, "data": dataset.origin, "year": resolve_year(dataset, year),
                           "options": options, "reference": None, "settle": [], "verdicts": []}
    if reference is None:
        for o in options:
            o["why_no_verdict"] = "no reference table of synthetic worlds was given"
        out["recommendation"] = recommendation([])
        return out
    table, facts = reference
    hashes = facts.get("scheme_hashes", {})
    usable = []
    for s, o in zip(scenarios, options):
        if s.name not in inf.scenarios_of(table):
            o["why_no_verdict"] = f"the reference table holds no scenario '{s.name}'"
        elif hashes.get(s.name) not in (None, inf.scheme_hash(s)):
            o["why_no_verdict"] = f"the reference table was built for another version of '{s.name}'"
        else:
            usable.append(s.name)
    moments = data_moments(base, dataset, year, boot=0, seed=seed)
    observed = dict(zip(moments["moment"], moments["value"].astype(float)))
    if usable:
        keep = [c for c in table.columns if not c.startswith(inf.EFFECT)] + [inf.EFFECT + n for n in usable]
        sub = table[keep]
        post = inf.posterior(sub, observed)
        emulator = inf.fit_emulator(sub, seed=seed)
        led = inf.ledger(post, emulator, usable, seed=seed)
        labels = facts.get("labels") or inf._default_labels()
        led["label"] = led["knob"].map(lambda k: labels.get(k, ""))
        ver = inf.verdicts(post, emulator, usable, inf.decided_by(led))
        voi = inf.value_of_information(sub, observed, emulator)
        for o in options:
            if o["scenario"] in usable:
                o["verdict"] = ver[ver["scenario"] == o["scenario"]].iloc[0].to_dict()
                o["ledger"] = led[led["scenario"] == o["scenario"]].to_dict("records")
        for name in usable:
            rows = voi[voi["scenario"] == name].sort_values("narrowing", ascending=False).head(3)
            out["settle"] += rows.to_dict("records")
        out["verdicts"] = ver.to_dict("records")
        out["reference"] = {"worlds": int(len(table)), "accepted": int(len(post.rows)), "moments": list(post.observed),
                            "unused": dict(post.unused), "key": facts.get("key"),
                            "identified": inf.identified(post).to_dict("records")}
    out["recommendation"] = recommendation(out["verdicts"])
    return out


def check_numbers(memo: Mapping[str, Any]) -> list[str]:
    """Internal consistency of a memo's numbers (what a reader could recompute): each option's
    group counts add up to the units, and grades up and down per kind add up to the grade
    changes (counted over the categories). Returns the problems (empty when consistent)."""
    problems = []
    for o in memo["options"]:
        g = [r for r in o["groups"] if r["kind"] == "category"]
        if g and sum(r["units"] for r in g) != o["numbers"]["units"]:
            problems.append(f"{o['scenario']}: category units do not add up")
        if g and sum(r["grade_up"] + r["grade_down"] for r in g) != o["numbers"]["grade_changes"]:
            problems.append(f"{o['scenario']}: grade moves do not add up to the grade changes")
        v = o.get("verdict")
        if v and not (v["q05"] <= v["median"] <= v["q95"]):
            problems.append(f"{o['scenario']}: median outside its interval")
    return problems


